package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/engine"
)

// TestAdamWThreadsBitIdentical runs three AdamW steps over parameters
// large enough to be split (and with lengths that do not divide evenly)
// on one, two and three goroutines: the weights and moments must be bit
// for bit the same.
func TestAdamWThreadsBitIdentical(t *testing.T) {
	o := Optimizer{Kind: AdamW, LR: 1e-2, WeightDecay: 0.1}.withDefaults()
	mk := func() []*engine.Param {
		r := rand.New(rand.NewPCG(7, 8))
		var ps []*engine.Param
		for _, n := range []int{40001, 7, 33333, 16} {
			p := &engine.Param{Value: make([]float32, n), Grad: make([]float32, n)}
			for i := range n {
				p.Value[i], p.Grad[i] = float32(r.NormFloat64()), float32(r.NormFloat64()*1e-3)
			}
			ps = append(ps, p)
		}
		return ps
	}
	var want []*engine.Param
	var wantState *state
	for _, threads := range []int{1, 2, 3} {
		ps := mk()
		s := newState(o, ps)
		for range 3 {
			if err := update(o, s, ps, 1e-2, threads); err != nil {
				t.Fatal(err)
			}
		}
		if want == nil {
			want, wantState = ps, s
			continue
		}
		for i := range ps {
			for j := range ps[i].Value {
				if math.Float32bits(ps[i].Value[j]) != math.Float32bits(want[i].Value[j]) ||
					math.Float32bits(s.M[i][j]) != math.Float32bits(wantState.M[i][j]) ||
					math.Float32bits(s.V[i][j]) != math.Float32bits(wantState.V[i][j]) {
					t.Fatalf("threads=%d: param %d element %d differs from one thread's", threads, i, j)
				}
			}
		}
	}
}
