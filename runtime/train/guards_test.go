package train

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/engine"
)

// TestRollbackPolicy holds the NaN policy to its settings: the learning
// rate is multiplied by NaNLRFactor at each rollback, and once
// NaNRollbacks rollbacks are used up the next exhausted patience fails
// the run with ErrDiverged instead of looping on the same bad steps.
func TestRollbackPolicy(t *testing.T) {
	e, ds := stories(t, 16, engine.QuantizeNone)
	ds.Train = ds.Train[:8]
	var notes []string
	cfg := Config{Method: LoRA, LoRA: LoRAConfig{Rank: 2, Alpha: 4, Modules: []string{"q_proj"}},
		Optimizer: Optimizer{Kind: AdamW, LR: 1e-2}, Schedule: Constant, Batch: 1, GradAccum: 1, MaxSteps: 20, Seed: 1,
		NaNPatience: 1, NaNLRFactor: 0.25, NaNRollbacks: 2,
		Report: func(ev Event) { notes = append(notes, ev.Note) }}
	tr, err := New(e, ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// NaN in the good state itself: every rollback restores it, so the
	// run can only diverge.
	tr.Params()[0].Value[0] = float32(math.NaN())
	tr.startRollback()
	ctx := context.Background()
	var last error
	for i := 0; i < 10 && last == nil; i++ {
		var ev Event
		ev, last = tr.Step(ctx)
		cfg.Report(ev)
	}
	if !errors.Is(last, ErrDiverged) || !strings.Contains(last.Error(), "after 2 rollbacks") {
		t.Fatalf("want ErrDiverged after 2 rollbacks, got %v", last)
	}
	if tr.Rollbacks != 2 || tr.lrScale != 0.0625 {
		t.Errorf("rollbacks %d, lr scale %g; want 2, 0.0625", tr.Rollbacks, tr.lrScale)
	}
	if !strings.Contains(notes[0], "with the learning rate ×0.25 (now ×0.25 of the schedule), rollback 1 of at most 2") {
		t.Errorf("notes %q", notes)
	}

	// NaNRollbacks < 0: no rollback at all.
	cfg.NaNRollbacks, notes = -1, nil
	tr, err = New(e, ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr.Params()[0].Value[0] = float32(math.NaN())
	if _, err := tr.Step(ctx); !errors.Is(err, ErrDiverged) || tr.Rollbacks != 0 {
		t.Fatalf("with no rollbacks allowed: %v after %d rollbacks", err, tr.Rollbacks)
	}
}

// TestMaxGradNormZeroDoesNotClip: with MaxGradNorm 0 the update uses the
// raw gradient, so a tiny threshold and none give different weights, and
// the settings are validated.
func TestMaxGradNormZeroDoesNotClip(t *testing.T) {
	run := func(norm float64) []float32 {
		e, ds := stories(t, 16, engine.QuantizeNone)
		ds.Train = ds.Train[:4]
		cfg := Config{Method: LoRA, LoRA: LoRAConfig{Rank: 2, Alpha: 4, Modules: []string{"q_proj"}},
			Optimizer: Optimizer{Kind: SGD, LR: 1e-1}, Schedule: Constant, Batch: 2, GradAccum: 1, MaxSteps: 2, Seed: 3, MaxGradNorm: norm}
		tr, err := New(e, ds, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			ev, err := tr.Step(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if norm > 0 && ev.GradNorm <= norm {
				t.Fatalf("gradient norm %g is under the threshold %g; the test would not check clipping", ev.GradNorm, norm)
			}
		}
		var out []float32
		for _, p := range tr.Params() {
			out = append(out, p.Value...)
		}
		return out
	}
	clipped, raw := run(1e-4), run(0)
	if relErr(clipped, raw) < 1e-3 {
		t.Errorf("max_grad_norm = 0 and 1e-4 give the same weights (%.3g apart)", relErr(clipped, raw))
	}
	e, ds := stories(t, 16, engine.QuantizeNone)
	for _, cfg := range []Config{{MaxGradNorm: -1}, {NaNLRFactor: 1.5}} {
		cfg.Method, cfg.LoRA = LoRA, LoRAConfig{Rank: 2, Alpha: 4, Modules: []string{"q_proj"}}
		cfg.Optimizer, cfg.Batch, cfg.GradAccum, cfg.MaxSteps = Optimizer{Kind: SGD, LR: 1e-1}, 1, 1, 1
		if _, err := New(e, ds, cfg); err == nil {
			t.Errorf("%+v was accepted", cfg)
		}
	}
}
