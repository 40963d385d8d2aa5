package runtime

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/runtime/engine"
)

// storyProgram checks examples/story.whisper, skipping when the shared
// models are absent.
func storyProgram(t *testing.T) *compiler.Program {
	t.Helper()
	_, file, _, _ := goruntime.Caller(0)
	models := filepath.Join(filepath.Dir(file), "..", "..", "shared", "models", "stories260K.bin")
	if _, err := os.Stat(models); err != nil {
		t.Skipf("test model is absent (%v); see shared/models/README.md", err)
	}
	prog, ds := compiler.Check("../examples/story.whisper", compiler.Options{})
	if ds.HasErrors() {
		t.Fatalf("story.whisper has errors:\n%s", diag.Text(prog.Files, ds))
	}
	return prog
}

// TestExecuteStory runs the conformance pipeline end to end: its stdout
// must be llama2.c's output byte for byte, and stderr must hold only the
// timing line.
func TestExecuteStory(t *testing.T) {
	prog := storyProgram(t)
	plan, ds := FromProgram(prog, 0)
	if ds.HasErrors() {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	if len(plan.Stages) != 1 || plan.Stages[0].PeakBytes <= 0 {
		t.Fatalf("plan = %+v, want one generate stage with a memory prediction", plan)
	}
	plan.Stages[0].Engine.Compile = engine.CompileDefault // built once: faster in tests
	var out, errs bytes.Buffer
	if ds := Execute(context.Background(), plan, Streams{Stdout: &out, Stderr: &errs}); len(ds) > 0 {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	want, err := os.ReadFile("engine/testdata/stories260K.golden")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("stdout differs from llama2.c's\n got: %q\nwant: %q", out.String(), want)
	}
	if !strings.HasPrefix(errs.String(), "200 tokens in ") || !strings.HasSuffix(errs.String(), " tok/s)\n") || strings.Count(errs.String(), "\n") != 1 {
		t.Errorf("stderr = %q, want one line \"200 tokens in T s (X tok/s)\"", errs.String())
	}
}

// TestExecuteRefuses checks the positioned errors for a model that does
// not fit the plan's memory and for a missing model file.
func TestExecuteRefuses(t *testing.T) {
	prog := storyProgram(t)
	plan, _ := FromProgram(prog, 1<<10)
	var out, errs bytes.Buffer
	ds := Execute(context.Background(), plan, Streams{Stdout: &out, Stderr: &errs})
	text := diag.Text(prog.Files, ds)
	if !strings.Contains(text, "E503") || !strings.Contains(text, "story.whisper:") || out.Len() != 0 {
		t.Errorf("a 1 KiB plan ran or was refused wrongly:\n%s\nstdout %q", text, out.String())
	}
	plan, _ = FromProgram(prog, 0)
	plan.Stages[0].Model.Path = filepath.Join(t.TempDir(), "missing.bin")
	ds = Execute(context.Background(), plan, Streams{Stdout: &out, Stderr: &errs})
	if text := diag.Text(prog.Files, ds); !strings.Contains(text, "E501") || !strings.Contains(text, "missing.bin") {
		t.Errorf("a missing model gave:\n%s", text)
	}
}
