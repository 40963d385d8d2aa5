package cost

import (
	"os"
	"path/filepath"
	"testing"
)

// measuredFile is one file of planner/testdata/measured, read.
type measuredFile struct {
	name string
	data []byte
}

// readMeasured reads the files of planner/testdata/measured that match
// pattern, in name order, and fails the test with missing when there are
// none: a measured table that goes missing must not pass as checked.
func readMeasured(t *testing.T, pattern, missing string) []measuredFile {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join("..", "testdata", "measured", pattern))
	if len(names) == 0 {
		t.Fatal(missing)
	}
	files := make([]measuredFile, 0, len(names))
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, measuredFile{name: name, data: data})
	}
	return files
}
