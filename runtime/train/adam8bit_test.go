package train

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/engine"
)

func TestDynamicCode(t *testing.T) {
	for _, signed := range []bool{true, false} {
		c := dynamicCode(signed)
		if len(c) != 256 || c[len(c)-1] != 1 {
			t.Fatalf("signed %t: %d entries, last %g", signed, len(c), c[len(c)-1])
		}
		for i := 1; i < len(c); i++ {
			if !(c[i] > c[i-1]) {
				t.Fatalf("signed %t: entries %d and %d are not increasing: %g, %g", signed, i-1, i, c[i-1], c[i])
			}
		}
		if !signed && c[0] != 0 || signed && c[0] > -0.9 {
			t.Errorf("signed %t: smallest entry %g", signed, c[0])
		}
	}
}

// TestQuantMomentError bounds the block-wise quantisation error: within
// half the code's widest step (0.9/64/2 of the block's absmax) for any
// value, and within one step of the entries of the value's own decade,
// which is what the dynamic code promises.
func TestQuantMomentError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, signed := range []bool{true, false} {
		q := newQuantMoment(3*quantBlock+100, signed)
		src := make([]float32, len(q.codes))
		for i := range src {
			v := r.NormFloat64() * math.Pow(10, -3*r.Float64())
			if !signed {
				v = v * v
			}
			src[i] = float32(v)
		}
		got := make([]float32, len(src))
		for b := 0; b*quantBlock < len(src); b++ {
			lo, hi := b*quantBlock, min((b+1)*quantBlock, len(src))
			q.quantize(b, src[lo:hi])
			q.dequantize(b, got[lo:hi])
			var m float64
			for _, v := range src[lo:hi] {
				m = math.Max(m, math.Abs(float64(v)))
			}
			for i := lo; i < hi; i++ {
				d := math.Abs(float64(got[i] - src[i]))
				if d > 0.9/64/2*m*1.0001 {
					t.Fatalf("signed %t: value %g came back as %g (absmax %g)", signed, src[i], got[i], m)
				}
				// Within the decade of the value: one step of that
				// decade's entries (10^k·0.9/n, n = 2^(k+6) signed,
				// twice that unsigned).
				if a := math.Abs(float64(src[i])) / m; a > 1e-6 {
					k := math.Ceil(math.Log10(a))
					n := math.Pow(2, k+6)
					if !signed {
						n *= 2
					}
					if step := math.Pow(10, k) * 0.9 / n; d > step*m*1.0001 {
						t.Fatalf("signed %t: value %g came back as %g; more than a step (%g) of its decade", signed, src[i], got[i], step*m)
					}
				}
			}
		}
	}
}

// TestAdamW8bitTrainsAndResumes trains LoRA with 8-bit AdamW: the loss
// falls about as with 32-bit AdamW, and a run saved and resumed half-way
// ends bit-identical to a straight one (the 8-bit state round-trips).
func TestAdamW8bitTrainsAndResumes(t *testing.T) {
	run := func(kind OptimizerKind, out string, steps int) (*Trainer, float64) {
		e, ds := stories(t, 32, engine.QuantizeNone)
		ds.Train = ds.Train[:32]
		cfg := Config{Method: LoRA, LoRA: LoRAConfig{Rank: 4, Alpha: 8, Modules: []string{"q_proj", "v_proj", "down_proj"}},
			Optimizer: Optimizer{Kind: kind, LR: 1e-2}, Schedule: Constant, Batch: 2, GradAccum: 1, MaxSteps: 8, Seed: 3, Output: out}
		tr, err := New(e, ds, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.ResumeLatest(out, "8bit"); err != nil {
			t.Fatal(err)
		}
		var last float64
		for tr.Done() < steps {
			ev, err := tr.Step(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			last = ev.Loss
		}
		return tr, last
	}
	dir := t.TempDir()
	straight, l8 := run(AdamW8bit, filepath.Join(dir, "a"), 8)
	_, l32 := run(AdamW, filepath.Join(dir, "b"), 8)
	t.Logf("loss after 8 steps: adamw %.6f, adamw_8bit %.6f", l32, l8)
	if l8 == l32 {
		t.Errorf("8-bit and 32-bit AdamW gave the same loss %v: is the 8-bit state used?", l8)
	}
	if math.Abs(l8-l32) > 0.1*l32 || l8 > 1.5 {
		t.Errorf("8-bit AdamW's loss %.4f is far from AdamW's %.4f", l8, l32)
	}
	half, _ := run(AdamW8bit, filepath.Join(dir, "c"), 4)
	if _, err := half.Save(filepath.Join(dir, "c"), "8bit"); err != nil {
		t.Fatal(err)
	}
	resumed, _ := run(AdamW8bit, filepath.Join(dir, "c"), 8)
	for i, p := range straight.Params() {
		for j, v := range p.Value {
			if math.Float32bits(v) != math.Float32bits(resumed.Params()[i].Value[j]) {
				t.Fatalf("%s[%d]: resumed %g, straight %g", p.Name, j, resumed.Params()[i].Value[j], v)
			}
		}
	}
}
