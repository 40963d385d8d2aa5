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
	if !strings.Contains(text, "E507") || !strings.Contains(text, "no space left") || !strings.Contains(text, "at stage load.") {
		t.Errorf("diagnostics:\n%s", text)
	}
	if r.stages != 1 || out.Len() != 0 {
		t.Errorf("ran %d stages, stdout %q; want the run stopped after the load stage", r.stages, out.String())
	}
}

// metricFailer fails the record after a few metrics, as a disk that fills
// during training does.
type metricFailer struct {
	recorder
	metrics int
}

func (f *metricFailer) Metric(m observe.Metric) { f.metrics++; f.recorder.Metric(m) }

func (f *metricFailer) Err() error {
	if f.metrics >= 4 {
		return errors.New("writing runs/x/metrics.jsonl: no space left on device")
	}
	return nil
}

// TestRecordFailureStopsTraining: training stops at the step after the
// record broke, with E507, not at the end of the stage.
func TestRecordFailureStopsTraining(t *testing.T) {
	prog, _ := finetuneProgram(t, "", "lora { rank = 4, alpha = 8 }\n optimizer { name = adamw, lr = 1e-2 }")
	plan, _ := planner.Build(prog, machine(8<<30), planner.Options{})
	var out, errs bytes.Buffer
	r := &metricFailer{}
	ds := Execute(context.Background(), plan, prog, Streams{Stdout: &out, Stderr: &errs, Observer: r})
	text := diag.Text(prog.Files, ds)
	if !strings.Contains(text, "E507") || !strings.Contains(text, "at stage train.sft") {
		t.Fatalf("diagnostics:\n%s\nstderr:\n%s", text, errs.String())
	}
	if strings.Contains(errs.String(), "step 12/12") || strings.Contains(errs.String(), "trained sft") {
		t.Errorf("training went on after the record broke:\n%s", errs.String())
	}
}
