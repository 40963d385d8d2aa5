package compiler

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/modelwhisperer/whisperc/lang/diag"
)

// exampleFiles returns the pipelines under examples/: every top-level
// .whisper file and every directory's main.whisper.
func exampleFiles(t testing.TB) []string {
	t.Helper()
	dir := filepath.Join("..", "examples")
	top, _ := filepath.Glob(filepath.Join(dir, "*.whisper"))
	mains, _ := filepath.Glob(filepath.Join(dir, "*", "main.whisper"))
	files := append(top, mains...)
	if len(files) == 0 {
		t.Skip("no examples under ../examples")
	}
	return files
}

// TestExamplesCheckClean checks every example and fails on any error; it
// logs warnings so that a reviewer sees the rules the examples trigger.
func TestExamplesCheckClean(t *testing.T) {
	for _, path := range exampleFiles(t) {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			prog, ds := Check(path, Options{})
			if prog == nil {
				t.Fatal("nil program")
			}
			if ds.HasErrors() {
				t.Errorf("errors:\n%s", diag.Text(prog.Files, ds))
			} else if len(ds) > 0 {
				t.Logf("diagnostics:\n%s", diag.Text(prog.Files, ds))
			}
		})
	}
	_ = os.Stdout
}
