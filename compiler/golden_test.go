package compiler

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/modelwhisperer/whisperc/lang/diag"
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
			golden := strings.TrimSuffix(path, ".whisper") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
		})
	}
}
