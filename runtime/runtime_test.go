package runtime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/hw"
	"github.com/modelwhisperer/whisperc/runtime/observe"
)

// storyProgram checks examples/story.whisper, skipping when the shared
// models are absent.
func storyProgram(t *testing.T) *compiler.Program {
	t.Helper()
	testmodels.Path(t, "stories260K.bin")
	prog, ds := compiler.Check("../examples/story.whisper", compiler.Options{})
	if ds.HasErrors() {
		t.Fatalf("story.whisper has errors:\n%s", diag.Text(prog.Files, ds))
	}
	return prog
}

// machine is a CPU-only host with ram bytes of memory.
func machine(ram int64) *planner.Target {
	return planner.FromHardware(&hw.Hardware{CPU: hw.CPU{Model: "test", PhysicalCores: 2, LogicalCores: 2}, RAMBytes: ram, RAMAvailableBytes: ram})
}

// mustPlan checks and plans the pipeline at path for machine(8 GiB),
// failing the test on any error.
func mustPlan(t *testing.T, path string) (*compiler.Program, *planner.Plan) {
	t.Helper()
	prog, ds := compiler.Check(path, compiler.Options{})
	if ds.HasErrors() {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	plan, ds := planner.Build(prog, machine(8<<30), planner.Options{})
	if ds.HasErrors() {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	return prog, plan
}

// TestExecuteStory runs the conformance pipeline through the planner: its
// stdout must be llama2.c's output byte for byte, and stderr must hold
// only the timing line.
func TestExecuteStory(t *testing.T) {
	prog := storyProgram(t)
	plan, ds := planner.Build(prog, machine(8<<30), planner.Options{})
	if ds.HasErrors() || !plan.Fits {
		t.Fatalf("plan does not fit:\n%s", diag.Text(prog.Files, ds))
	}
	var out, errs bytes.Buffer
	if ds := Execute(context.Background(), plan, prog, Streams{Stdout: &out, Stderr: &errs}); len(ds) > 0 {
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
	plan, _ := planner.Build(prog, machine(1<<20), planner.Options{})
	var out, errs bytes.Buffer
	ds := Execute(context.Background(), plan, prog, Streams{Stdout: &out, Stderr: &errs})
	text := diag.Text(prog.Files, ds)
	if !strings.Contains(text, "E503") || !strings.Contains(text, "story.whisper:") || out.Len() != 0 {
		t.Errorf("a 1 MiB machine ran the story or was refused wrongly:\n%s\nstdout %q", text, out.String())
	}
	plan, _ = planner.Build(prog, machine(8<<30), planner.Options{})
	prog.Models[0].Source.Path = filepath.Join(t.TempDir(), "missing.bin")
	ds = Execute(context.Background(), plan, prog, Streams{Stdout: &out, Stderr: &errs})
	if text := diag.Text(prog.Files, ds); !strings.Contains(text, "E501") || !strings.Contains(text, "missing.bin") {
		t.Errorf("a missing model gave:\n%s", text)
	}
}

// TestProgressOnlyOnStderr checks that the progress display, when asked
// for, goes to stderr and leaves stdout byte for byte the generated text.
func TestProgressOnlyOnStderr(t *testing.T) {
	prog := storyProgram(t)
	plan, _ := planner.Build(prog, machine(8<<30), planner.Options{})
	var out, errs bytes.Buffer
	if ds := Execute(context.Background(), plan, prog, Streams{Stdout: &out, Stderr: &errs, Progress: true}); len(ds) > 0 {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	want, _ := os.ReadFile("engine/testdata/stories260K.golden")
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("stdout with progress differs from llama2.c's: %q", out.String())
	}
	if !strings.Contains(errs.String(), "loading stories260k") || !strings.Contains(errs.String(), "\x1b[K") {
		t.Errorf("stderr has no progress display: %q", errs.String())
	}
}

// recorder keeps the events it observes, as lines.
type recorder struct{ events []string }

func (r *recorder) RunStarted(e observe.RunStart) {
	r.events = append(r.events, fmt.Sprintf("run start %d stages", len(e.Plan.Stages)))
}
func (r *recorder) StageStarted(e observe.StageStart) {
	r.events = append(r.events, "start "+e.Stage.ID)
}
func (r *recorder) Metric(m observe.Metric) {
	r.events = append(r.events, fmt.Sprintf("metric %s %s", m.Stage, m.Name))
}
func (r *recorder) Output(o observe.Output) { r.events = append(r.events, "output "+o.Path) }
func (r *recorder) StageFinished(e observe.StageEnd) {
	r.events = append(r.events, fmt.Sprintf("end %s err=%v", e.Stage.ID, e.Err != nil))
}
func (r *recorder) RunFinished(e observe.RunEnd) {
	r.events = append(r.events, fmt.Sprintf("run end err=%v", e.Err != nil))
}

// TestObserver checks the order of a run's events and the metrics of a
// generate stage, and that a refused run still ends.
func TestObserver(t *testing.T) {
	prog := storyProgram(t)
	plan, _ := planner.Build(prog, machine(8<<30), planner.Options{})
	var out, errs bytes.Buffer
	r := &recorder{}
	if ds := Execute(context.Background(), plan, prog, Streams{Stdout: &out, Stderr: &errs, Observer: r}); len(ds) > 0 {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	got := strings.Join(r.events, "\n")
	want := strings.Join([]string{
		"run start 2 stages",
		"start load.stories260k", "end load.stories260k err=false",
		"start generate.story",
		"metric generate.story prompt_tokens", "metric generate.story generated_tokens",
		"metric generate.story seconds", "metric generate.story tokens_per_second", "metric generate.story time_to_first_token",
		"metric generate.story weight_bytes",
		"end generate.story err=false",
		"run end err=false",
	}, "\n")
	if got != want {
		t.Errorf("events:\n%s\nwant:\n%s", got, want)
	}
	r.events = nil
	plan, _ = planner.Build(prog, machine(1<<20), planner.Options{})
	Execute(context.Background(), plan, prog, Streams{Stdout: &out, Stderr: &errs, Observer: r})
	if got := strings.Join(r.events, "\n"); got != "run start 2 stages\nrun end err=true" {
		t.Errorf("a refused run's events:\n%s", got)
	}
}

// TestUnknownKindRefused checks that a stage kind without a runner is
// refused with E505 before any stage runs.
func TestUnknownKindRefused(t *testing.T) {
	prog := storyProgram(t)
	plan, _ := planner.Build(prog, machine(8<<30), planner.Options{})
	plan.Stages = append(plan.Stages, planner.Stage{ID: "export.x", Kind: planner.StageKind("deploy"), Decl: "story"})
	var out, errs bytes.Buffer
	r := &recorder{}
	ds := Execute(context.Background(), plan, prog, Streams{Stdout: &out, Stderr: &errs, Observer: r})
	if text := diag.Text(prog.Files, ds); !strings.Contains(text, "E505") || !strings.Contains(text, "export.x is a deploy stage") || out.Len() != 0 {
		t.Errorf("an export stage gave:\n%s\nstdout %q", text, out.String())
	}
	for _, e := range r.events {
		if strings.HasPrefix(e, "start ") {
			t.Errorf("a stage started in a refused run: %v", r.events)
		}
	}
}
