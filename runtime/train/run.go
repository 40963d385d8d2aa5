package train

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"
)

// snapshot is a trainer's complete state in memory.
type snapshot struct {
	step    int
	tokens  int64
	lrScale float64
	rng     []byte
	values  [][]float32
	opt     state
}

func (t *Trainer) snapshot() *snapshot {
	s := &snapshot{step: t.step, tokens: t.tokens, lrScale: t.lrScale}
	s.rng, _ = t.rng.MarshalBinary()
	for _, p := range t.params {
		s.values = append(s.values, append([]float32(nil), p.Value...))
	}
	s.opt = state{Step: t.opt.Step, M: cloneAll(t.opt.M), V: cloneAll(t.opt.V), Q: t.opt.Q.clone()}
	return s
}

func (t *Trainer) restore(s *snapshot) {
	t.step, t.tokens = s.step, s.tokens
	_ = t.rng.UnmarshalBinary(s.rng)
	for i, p := range t.params {
		copy(p.Value, s.values[i])
	}
	t.opt.Step = s.opt.Step
	for i := range t.opt.M {
		copy(t.opt.M[i], s.opt.M[i])
	}
	for i := range t.opt.V {
		copy(t.opt.V[i], s.opt.V[i])
	}
	if t.opt.Q != nil {
		t.opt.Q.copyFrom(s.opt.Q)
	}
}

func cloneAll(xs [][]float32) [][]float32 {
	if xs == nil {
		return nil
	}
	out := make([][]float32, len(xs))
	for i, x := range xs {
		out[i] = append([]float32(nil), x...)
	}
	return out
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
			t.good = t.snapshot()
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
