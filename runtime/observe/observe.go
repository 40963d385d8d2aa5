// Package observe is the runtime's report of what a run does, for
// whoever records runs (runtime/track) or shows them: the executor calls
// an Observer when the run starts and ends, when each stage starts and
// ends, for every metric a stage measures and for every file a stage
// writes.
//
// The package is a leaf: it imports only the planner's types, so every
// stage package (generate, train, serve, export) and every recorder can
// import it without importing each other.
//
// Calls come from the goroutine that runs Execute, in this order:
// RunStarted; then per stage StageStarted, any Metric and Output calls,
// StageFinished; then RunFinished, also after a failure or an interrupt.
// An Observer must not block for long: the run waits for it.
package observe

import (
	"time"

	"github.com/modelwhisperer/whisperc/planner"
)

// Observer receives a run's events. Implementations embed Nop to pick
// only the events they need.
type Observer interface {
	RunStarted(RunStart)
	StageStarted(StageStart)
	Metric(Metric)
	Output(Output)
	StageFinished(StageEnd)
	RunFinished(RunEnd)
}

// RunStart is the start of Execute.
type RunStart struct {
	// Plan is the plan about to run; observers must not change it.
	Plan *planner.Plan
	Time time.Time
}

// StageStart is the start of one stage.
type StageStart struct {
	// Stage is the plan's stage (its ID, kind, model and lowered graph).
	Stage *planner.Stage
	Time  time.Time
}

// Metric is one measurement of a stage: a training loss at a step, the
// tokens per second of a generation.
type Metric struct {
	// Stage is the stage's ID ("generate.story").
	Stage string
	// Name is stable and lower_snake_case ("loss", "tokens_per_second").
	Name  string
	Value float64
	// Unit is the value's unit ("tok/s", "s", "tokens"); empty when it is
	// a plain number.
	Unit string
	// Step is the optimizer step or the position the value belongs to; -1
	// when the metric is one value for the whole stage.
	Step int64
	Time time.Time
}

// OutputKind says what a written file is. The zero value is invalid.
type OutputKind int

// The kinds of file a stage writes.
const (
	OutputInvalid OutputKind = iota
	// OutputCheckpoint is a training checkpoint (weights and optimizer
	// state) a run can resume from.
	OutputCheckpoint
	// OutputAdapter is a trained adapter (LoRA weights).
	OutputAdapter
	// OutputModel is a whole model file (an export, a merged model).
	OutputModel
	// OutputText is generated text written to a file.
	OutputText
	// OutputOther is any other file.
	OutputOther
)

// String returns the kind's name.
func (k OutputKind) String() string {
	switch k {
	case OutputCheckpoint:
		return "checkpoint"
	case OutputAdapter:
		return "adapter"
	case OutputModel:
		return "model"
	case OutputText:
		return "text"
	case OutputOther:
		return "other"
	}
	return "invalid"
}

// Output is one file a stage has finished writing.
type Output struct {
	Stage string
	Kind  OutputKind
	// Path is the file as the stage wrote it.
	Path  string
	Bytes int64
	// SHA256 is the hex digest of the content, when the stage computed it.
	SHA256 string
	// Step is the optimizer step a checkpoint was saved at, 0 for a final
	// output; `whisperc runs restore ID@STEP` addresses it.
	Step int64
	Time time.Time
}

// StageEnd is the end of one stage, successful or not.
type StageEnd struct {
	Stage   *planner.Stage
	Elapsed time.Duration
	// Err is the stage's failure, nil on success. It is the summary and
	// detail of the diagnostic the run reports.
	Err  error
	Time time.Time
}

// RunEnd is the end of Execute.
type RunEnd struct {
	Elapsed time.Duration
	// Err is the run's first failure, nil when every stage succeeded.
	Err  error
	Time time.Time
}

// Failer is an Observer that can make the run fail: once Err returns an
// error (the run record can no longer be written, say the disk is full),
// the executor stops before the next stage and reports it (E507). Long
// stages (training) should check it between steps too.
type Failer interface {
	Err() error
}

// Nop ignores every event. Embed it to implement only some methods.
type Nop struct{}

// RunStarted ignores the event.
func (Nop) RunStarted(RunStart) {}

// StageStarted ignores the event.
func (Nop) StageStarted(StageStart) {}

// Metric ignores the event.
func (Nop) Metric(Metric) {}

// Output ignores the event.
func (Nop) Output(Output) {}

// StageFinished ignores the event.
func (Nop) StageFinished(StageEnd) {}

// RunFinished ignores the event.
func (Nop) RunFinished(RunEnd) {}
