// Package runtime executes a planner's plan on this machine: it walks the
// plan's stages in order on the Gorgonia engine in runtime/engine, and
// reports problems as diagnostics positioned on the .whisper source.
//
// The runtime decides nothing: the attention kernel, the KV cache, the
// compile mode and each linear layer's weight format come from the stage's
// lowered graph (planner.Graph), the memory verdict from the plan. The
// only execution detail it fills in is the thread count, every CPU the Go
// runtime may use.
//
// # Stage kinds
//
// Each stage kind has one file, stage_<kind>.go, holding one executor
// method of type stageFunc; runnerFor maps the kind to it, one line per
// kind. A kind without a line is refused before anything runs (E505).
// To add a kind implemented in another package (runtime/train,
// runtime/serve, runtime/export):
//
//  1. write stage_<kind>.go with `func (x *executor) <kind>(ctx
//     context.Context, st *planner.Stage) *diag.Diagnostic`, which takes
//     what it needs from the executor (x.prog for the declaration,
//     x.models[st.Model] for the loaded model, x.s for the streams, x.obs
//     for metrics and outputs) and calls the package;
//  2. add its line to runnerFor.
//
// # Observing a run
//
// Streams.Observer, when set, receives the run's events (runtime/observe):
// run and stage starts and ends, each stage's metrics, each file written.
package runtime

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/runtime/observe"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// Streams are where Execute writes: generated text to Stdout and nothing
// else; the timing line to Stderr; a progress display on Stderr only when
// Progress is set (the command sets it when stderr is a terminal); the
// run's events to Observer when it is set.
type Streams struct {
	Stdout   io.Writer
	Stderr   io.Writer
	Progress bool
	Observer observe.Observer
}

// progress writes a status line, overwriting the previous one.
func (s Streams) progress(format string, args ...any) {
	if s.Progress && s.Stderr != nil {
		fmt.Fprintf(s.Stderr, "\r\x1b[K"+format, args...)
	}
}

// progressDone clears the status line.
func (s Streams) progressDone() {
	if s.Progress && s.Stderr != nil {
		fmt.Fprint(s.Stderr, "\r\x1b[K")
	}
}

// loaded is a model after its load stage.
type loaded struct {
	ws  *weights.Set
	tok tokenizer.Tokenizer
}

// executor carries one Execute call's state.
type executor struct {
	plan   *planner.Plan
	prog   *compiler.Program
	s      Streams
	obs    observe.Observer // never nil
	models map[string]*loaded
	// trained holds each finetune's result by name (stage_train.go).
	trained map[string]*trained
}

// stageFunc executes one stage; it returns the diagnostic that stops the
// run, or nil.
type stageFunc func(x *executor, ctx context.Context, st *planner.Stage) *diag.Diagnostic

// runnerFor returns the function that executes stages of kind k, or nil
// when this runtime does not execute that kind yet. One line per kind.
func runnerFor(k planner.StageKind) stageFunc {
	switch k {
	case planner.StageLoad:
		return (*executor).load
	case planner.StageQuantize:
		return (*executor).quantize
	case planner.StageGenerate:
		return (*executor).generate
	case planner.StageAdapters:
		return (*executor).attachAdapters
	case planner.StageTrain:
		return (*executor).train
	case planner.StageEvaluate:
		return (*executor).evaluate
	case planner.StageServe:
		return (*executor).serve
	case planner.StageExport:
		return (*executor).export
	}
	return nil
}

// Execute runs the plan's stages for prog in order. It refuses the whole
// plan when a stage's kind has no runner here (E505) or the plan says a
// stage does not fit (E503), and stops at the first stage that fails.
func Execute(ctx context.Context, plan *planner.Plan, prog *compiler.Program, s Streams) (ds diag.Diagnostics) {
	x := &executor{plan: plan, prog: prog, s: s, obs: s.Observer, models: map[string]*loaded{}}
	if x.obs == nil {
		x.obs = observe.Nop{}
	}
	start := time.Now()
	x.obs.RunStarted(observe.RunStart{Plan: plan, Time: start})
	defer func() {
		for _, m := range x.models {
			if m.ws.Close != nil {
				m.ws.Close()
			}
		}
		if r := recover(); r != nil {
			ds = append(ds, &diag.Diagnostic{Severity: diag.Error, Code: "E500", Summary: "Internal runtime error",
				Detail: fmt.Sprintf("The runtime failed (%v). This is a bug in whisperc; please report it with the pipeline that caused it.", r)})
		}
		end := observe.RunEnd{Elapsed: time.Since(start), Time: time.Now()}
		if errs := ds.Errs(); len(errs) > 0 {
			end.Err = errs[0]
		}
		x.obs.RunFinished(end)
	}()
	if ds = append(x.checkKinds(), x.checkFits()...); ds.HasErrors() {
		return ds
	}
	// Compiling and planning are done: before a generation loads its
	// model, the executable's pages they touched are released, so that
	// they do not count in its peak beside the weights (the calibration's
	// base memory is measured the same way, see Calibrate). A server
	// keeps them: its HTTP and JSON code brings most of them back (19 of
	// 24 MiB resident again after four requests to examples/serve-tiny), and
	// the serve memory model counts the process as it was before the
	// release (cost.CPURates.StartupBytes). A plan that trains keeps them
	// too: the training memory model's base
	// (planner/testdata/measured/train-cpu-*.json) was measured without
	// the release.
	if releases(plan) {
		releaseExecutable()
	}
	for i := range plan.Stages {
		st := &plan.Stages[i]
		if err := ctx.Err(); err != nil {
			return append(ds, x.errorf(st, "E506", "Interrupted", "The run was interrupted before stage %s: %v.", st.ID, err))
		}
		if d := x.runStage(ctx, st); d != nil {
			return append(ds, d)
		}
		if d := x.recordFailed(st); d != nil {
			return append(ds, d)
		}
	}
	return ds
}

// recordFailed reports E507 when the observer can no longer record the
// run (observe.Failer), so that a run never goes on unrecorded.
func (x *executor) recordFailed(st *planner.Stage) *diag.Diagnostic {
	f, ok := x.obs.(observe.Failer)
	if !ok {
		return nil
	}
	if err := f.Err(); err != nil {
		return x.errorf(st, "E507", "Run record cannot be written",
			"%v. The run stopped at stage %s; what was recorded before is intact. Free space in the track directory or point track { dir = ... } elsewhere, and run again.", err, st.ID)
	}
	return nil
}

// runStage runs one stage between its start and end events.
func (x *executor) runStage(ctx context.Context, st *planner.Stage) (d *diag.Diagnostic) {
	start := time.Now()
	x.obs.StageStarted(observe.StageStart{Stage: st, Time: start})
	defer func() {
		end := observe.StageEnd{Stage: st, Elapsed: time.Since(start), Time: time.Now()}
		if d != nil {
			end.Err = d
		}
		x.obs.StageFinished(end)
	}()
	return runnerFor(st.Kind)(x, ctx, st)
}

// releases reports whether a run of plan releases the executable's
// startup pages before loading: when it generates, and neither trains
// nor serves.
func releases(plan *planner.Plan) bool {
	gen := false
	for i := range plan.Stages {
		switch plan.Stages[i].Kind {
		case planner.StageTrain, planner.StageServe:
			return false
		case planner.StageGenerate:
			gen = true
		}
	}
	return gen
}

// metric reports one whole-stage measurement to the observer.
func (x *executor) metric(st *planner.Stage, name string, value float64, unit string) {
	x.obs.Metric(observe.Metric{Stage: st.ID, Name: name, Value: value, Unit: unit, Step: -1, Time: time.Now()})
}

// rangeOf returns the range of the declaration a stage comes from.
func (x *executor) rangeOf(st *planner.Stage) source.Range {
	if d := x.prog.Decl(st.Decl); d != nil {
		return d.NameRange
	}
	return source.Range{}
}

func (x *executor) errorf(st *planner.Stage, code, summary, format string, args ...any) *diag.Diagnostic {
	r := x.rangeOf(st)
	detail := fmt.Sprintf(format, args...)
	if r.Filename == "" {
		return &diag.Diagnostic{Severity: diag.Error, Code: code, Summary: summary, Detail: detail}
	}
	return diag.Errorf(r, code, summary, detail)
}

// checkKinds refuses, before any work, stages this runtime cannot execute.
func (x *executor) checkKinds() diag.Diagnostics {
	// One diagnostic per declaration, naming every stage of it that
	// cannot run: a block that lowers to several stages is one mistake.
	var ds diag.Diagnostics
	var order []string
	byDecl := map[string][]*planner.Stage{}
	for i := range x.plan.Stages {
		st := &x.plan.Stages[i]
		if runnerFor(st.Kind) == nil {
			if _, seen := byDecl[st.Decl]; !seen {
				order = append(order, st.Decl)
			}
			byDecl[st.Decl] = append(byDecl[st.Decl], st)
		}
	}
	for _, decl := range order {
		sts := byDecl[decl]
		what := fmt.Sprintf("Stage %s is %s %s stage, which this runtime does not execute yet", sts[0].ID, article(string(sts[0].Kind)), sts[0].Kind)
		if len(sts) > 1 {
			var parts []string
			for _, st := range sts {
				parts = append(parts, fmt.Sprintf("%s (%s %s stage)", st.ID, article(string(st.Kind)), st.Kind))
			}
			what = "Stages " + strings.Join(parts, ", ") + " are of kinds this runtime does not execute yet"
		}
		ds = append(ds, x.errorf(sts[0], "E505", "Stage cannot run here",
			"%s. List only the stages it runs in the pipeline block.", what))
	}
	return ds
}

// checkFits refuses stages the plan predicts do not fit their memory.
func (x *executor) checkFits() diag.Diagnostics {
	var ds diag.Diagnostics
	for i := range x.plan.Stages {
		st := &x.plan.Stages[i]
		if m := st.Memory; m != nil && !m.Fits {
			ds = append(ds, x.errorf(st, "E503", "Model does not fit in memory",
				"Stage %s needs about %s at its peak but %s has %s. Quantise the model (quantize { method = \"nf4\" }), shorten the context, or run on a machine with more memory.",
				st.ID, formatBytes(m.TotalBytes), x.plan.Target.Name, formatBytes(m.CapacityBytes)))
		}
	}
	return ds
}

func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "BKMGT"[i])
}

// article returns "an" before a word that starts with a vowel, else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}
