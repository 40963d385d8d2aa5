package compiler

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/golden"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGolden renders the diagnostics of each testdata/golden/*.whisper with
// the one text renderer and compares them with the .golden file beside it.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.whisper"))
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			prog, ds := Check(path, Options{})
			checkRanges(t, prog, ds)
			got := diag.Text(prog.Files, ds)
			golden.Compare(t, strings.TrimSuffix(path, ".whisper")+".golden", got, *update)
		})
	}
}
