package track

import (
	"context"
	"fmt"

	"github.com/modelwhisperer/whisperc/runtime/observe"
)

// Observer returns the observe.Observer that records the run's events
// into r. ctx is the run's context: when it is cancelled the run is
// recorded as interrupted. The observer also implements observe.Failer,
// so the executor stops a run whose record can no longer be written.
// RunFinished completes the manifest; call Finish afterwards (it is a
// no-op then) for the error.
func (r *Run) Observer(ctx context.Context) observe.Observer { return &observer{r: r, ctx: ctx} }

type observer struct {
	r   *Run
	ctx context.Context
}

func (o *observer) RunStarted(observe.RunStart) {}

func (o *observer) StageStarted(e observe.StageStart) { o.r.StageStarted(e.Stage, e.Time) }

func (o *observer) Metric(e observe.Metric) {
	o.r.Metric(Point{Time: e.Time, Stage: e.Stage, Name: e.Name, Unit: e.Unit, Step: e.Step, Value: e.Value})
}

func (o *observer) Output(e observe.Output) {
	o.r.Output(e.Stage, e.Kind.String(), e.Path, e.Step)
}

func (o *observer) StageFinished(e observe.StageEnd) {
	err := e.Err
	if err != nil && o.ctx.Err() != nil {
		err = fmt.Errorf("%w: %v", o.ctx.Err(), err)
	}
	o.r.StageFinished(e.Stage, err, e.Time)
}

func (o *observer) RunFinished(e observe.RunEnd) {
	// A run whose stages all ended well succeeded, even when the context
	// was cancelled: a server stopped by Ctrl-C drains and returns nil.
	err := e.Err
	if err != nil && o.ctx.Err() != nil {
		err = fmt.Errorf("%w: %v", o.ctx.Err(), err)
	}
	o.r.Finish(err, e.Time)
}

// Err returns the first failure to record the run (observe.Failer).
func (o *observer) Err() error { return o.r.Err() }

var _ observe.Failer = (*observer)(nil)
