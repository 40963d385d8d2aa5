package engines

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner"
)

// TestExportRuns lowers a pipeline with on_bad_record = skip to hf and to
// torchtune, writes each export and runs testdata/export_test.py on it
// under Debian's python3 with torch: train.py's load_data, GuardedTrainer
// and GuardSnapshots with stand-ins for the Hugging Face libraries, and
// config.yaml's dataset and optimizer components instantiated as the
// recipe does. It skips without torch, except under CI (CI=true or
// WHISPERC_CI set) or with -python, where it fails.
func TestExportRuns(t *testing.T) {
	py := "/usr/bin/python3"
	if *python != "" {
		py = *python
	}
	if out, err := exec.Command(py, "-c", "import torch, yaml").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("%s cannot import torch and yaml (%v: %s); install Debian's python3-torch and python3-yaml", py, err, bytes.TrimSpace(out))
		if os.Getenv("CI") == "true" || os.Getenv("WHISPERC_CI") != "" || *python != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "export_test.py"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "p.whisper")
	v := variant{"onbad": "skip", "nanroll": "3", "save": "save_every = 1 epochs"}
	if err := os.WriteFile(src, []byte(v.render()), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, ds := compiler.Check(src, compiler.Options{})
	if ds.HasErrors() {
		t.Fatalf("the pipeline does not check: %v", ds)
	}
	plan, _ := planner.Build(prog, nil, planner.Options{})
	for _, e := range []Engine{HF, Torchtune} {
		t.Run(e.String(), func(t *testing.T) {
			out := filepath.Join(dir, e.String())
			x, lds := Lower(prog, plan, e, Options{Dir: out})
			if x == nil {
				t.Fatalf("refused: %v", lds)
			}
			for _, f := range x.Files {
				p := filepath.Join(out, filepath.FromSlash(f.Path))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(f.Data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(py, "-B", script, out, e.String())
			cmd.Dir = out
			b, err := cmd.CombinedOutput()
			if err != nil || !strings.HasSuffix(strings.TrimSpace(string(b)), "OK") {
				t.Fatalf("export_test.py %s: %v\n%s", e, err, b)
			}
		})
	}
}
