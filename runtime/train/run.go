package train

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"
)

// rollback is the last good state that a run returns to after
// NaNPatience non-finite steps in a row: the checkpoint it last saved or
// resumed from, read back from disk, or, before there is one, the start
// of the run. Holding it costs next to no memory: a checkpoint stays on
// disk, and the start needs only the random state and the initial values
// of the params the engine does not keep, since the optimizer's moments
// start at zero and the weights of full fine-tuning start as the model's
// own, which the engine still aliases (engine.InitialValues). The LoRA
// adapters' initial values are copied (they are small).
type rollback struct {
	dir, fingerprint string // the checkpoint, once one was saved or loaded
	rng              []byte // the random state at the start
	values           [][]float32
}

// startRollback records the start of the run as its last good state.
func (t *Trainer) startRollback() {
	t.back = rollback{}
	t.back.rng, _ = t.rng.MarshalBinary()
	for _, p := range t.params {
		if p.BF16 != nil || t.e.InitialValues(p.Name) != nil {
			t.back.values = append(t.back.values, nil)
			continue
		}
		t.back.values = append(t.back.values, append([]float32(nil), p.Value...))
	}
}

// rollBack restores the last good state; the counters of skipped steps
// and rollbacks and the learning-rate scale are left to the caller.
func (t *Trainer) rollBack() error {
	if t.back.dir != "" {
		if err := t.Load(t.back.dir, t.back.fingerprint); err != nil {
			return fmt.Errorf("train: rolling back to %s: %w", t.back.dir, err)
		}
		return nil
	}
	t.step, t.tokens = 0, 0
	if err := t.rng.UnmarshalBinary(t.back.rng); err != nil {
		return fmt.Errorf("train: rolling back: %w", err)
	}
	for i, p := range t.params {
		if p.BF16 != nil {
			b, err := t.e.InitialBF16(p.Name)
			if err != nil || len(b) != len(p.BF16) {
				return fmt.Errorf("train: rolling back %s to its initial bf16 values: %v", p.Name, err)
			}
			copy(p.BF16, b)
			continue
		}
		v := t.back.values[i]
		if v == nil {
			v = t.e.InitialValues(p.Name)
		}
		copy(p.Value, v)
	}
	t.opt.Step = 0
	for _, m := range [][][]float32{t.opt.M, t.opt.V} {
		for _, x := range m {
			clear(x)
		}
	}
	if q := t.opt.Q; q != nil {
		for i := range q.m {
			for _, m := range []*quantMoment{q.m[i], q.v[i]} {
				m.init()
				clear(m.absmax)
			}
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Result summarises a run.
type Result struct {
	Steps, Resumed int // steps in total, the step the run resumed from
	Tokens         int64
	Elapsed        time.Duration
	FirstLoss      float64 // the first step's training loss of this process
	FinalLoss      float64 // the last step's training loss
	EvalLoss       float64 // the final evaluation loss (0 without eval data)
	Skipped        int
	Rollbacks      int
	Output         string // where the final weights or adapters are
}

// Perplexity returns exp(EvalLoss).
func (r *Result) Perplexity() float64 { return math.Exp(r.EvalLoss) }

// Run trains to the end: it resumes from the latest checkpoint in
// cfg.Output when one was written by the same configuration, saves every
// SaveEvery steps and at the end, and evaluates every EvalEvery steps (or
// each epoch) and at the end.
func (t *Trainer) Run(ctx context.Context, fingerprint string) (*Result, error) {
	res := &Result{}
	if t.cfg.Output != "" {
		step, err := t.ResumeLatest(t.cfg.Output, fingerprint)
		if err != nil {
			return nil, err
		}
		res.Resumed = step
	}
	report := func(ev Event) {
		if t.cfg.Report != nil {
			t.cfg.Report(ev)
		}
	}
	start := time.Now()
	first := true
	for t.step < t.total {
		epoch := t.Epoch()
		ev, err := t.Step(ctx)
		if err != nil {
			return nil, err
		}
		ev.Elapsed = time.Since(start)
		if first && ev.Note == "" {
			res.FirstLoss, first = ev.Loss, false
		}
		report(ev)
		if ev.Note != "" {
			res.Skipped, res.Rollbacks = t.Skipped, t.Rollbacks
		}
		evalNow := t.cfg.EvalEvery > 0 && t.step%t.cfg.EvalEvery == 0 || t.cfg.EvalEvery == 0 && t.Epoch() != epoch
		if evalNow && t.step < t.total && len(t.ds.Eval) > 0 {
			l, err := t.Evaluate(ctx)
			if err != nil {
				return nil, err
			}
			report(Event{Step: t.step, Steps: t.total, Epoch: epoch, EvalLoss: l, Elapsed: time.Since(start)})
		}
		if t.cfg.Output != "" && t.cfg.SaveEvery > 0 && t.step%t.cfg.SaveEvery == 0 && t.step < t.total {
			dir, err := t.Save(t.cfg.Output, fingerprint)
			if err != nil {
				return nil, err
			}
			report(Event{Step: t.step, Steps: t.total, Note: "saved " + dir, Elapsed: time.Since(start)})
		}
	}
	res.Steps, res.Tokens, res.FinalLoss = t.step, t.tokens, t.last
	res.Skipped, res.Rollbacks = t.Skipped, t.Rollbacks
	if len(t.ds.Eval) > 0 {
		l, err := t.Evaluate(ctx)
		if err != nil {
			return nil, err
		}
		res.EvalLoss = l
		report(Event{Step: t.step, Steps: t.total, Epoch: t.Epoch(), EvalLoss: l, Elapsed: time.Since(start)})
	}
	if t.cfg.Output != "" {
		if _, err := t.Save(t.cfg.Output, fingerprint); err != nil {
			return nil, err
		}
		if err := t.Export(t.cfg.Output); err != nil {
			return nil, err
		}
		res.Output = t.cfg.Output
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// String describes the result in one paragraph.
func (r *Result) String() string {
	s := fmt.Sprintf("%d steps, %d tokens in %.1f s; train loss %.4f → %.4f", r.Steps, r.Tokens, r.Elapsed.Seconds(), r.FirstLoss, r.FinalLoss)
	if r.EvalLoss > 0 {
		s += fmt.Sprintf("; eval loss %.4f (perplexity %.2f)", r.EvalLoss, r.Perplexity())
	}
	if r.Resumed > 0 {
		s += fmt.Sprintf("; resumed from step %d", r.Resumed)
	}
	if r.Skipped > 0 || r.Rollbacks > 0 {
		s += fmt.Sprintf("; %d non-finite steps skipped, %d rollbacks", r.Skipped, r.Rollbacks)
	}
	return s
}
