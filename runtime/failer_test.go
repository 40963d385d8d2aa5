package runtime

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/runtime/observe"
)

// failingRecorder is an observer whose record breaks after the first
// stage, as a run recorder on a full disk does.
type failingRecorder struct {
	recorder
	stages int
}

func (f *failingRecorder) StageStarted(e observe.StageStart) { f.stages++; f.recorder.StageStarted(e) }

func (f *failingRecorder) Err() error {
	if f.stages > 0 {
		return errors.New("writing runs/x/metrics.jsonl: no space left on device")
	}
	return nil
}

// TestRecordFailureStopsRun: an observer that can no longer record
// (observe.Failer) stops the run before the next stage with E507.
func TestRecordFailureStopsRun(t *testing.T) {
	prog := storyProgram(t)
	plan, _ := planner.Build(prog, machine(8<<30), planner.Options{})
	var out, errs bytes.Buffer
	r := &failingRecorder{}
	ds := Execute(context.Background(), plan, prog, Streams{Stdout: &out, Stderr: &errs, Observer: r})
	text := diag.Text(prog.Files, ds)
	if !strings.Contains(text, "E507") || !strings.Contains(text, "no space left") || !strings.Contains(text, "after stage load.") {
		t.Errorf("diagnostics:\n%s", text)
	}
	if r.stages != 1 || out.Len() != 0 {
		t.Errorf("ran %d stages, stdout %q; want the run stopped after the load stage", r.stages, out.String())
	}
}
