package engine

import (
	"context"
	"testing"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// TestArenaSharesLayers checks that the ops of one role in different
// layers write into one arena buffer, the residual stream's two roles
// included, so a graph's activations do not grow with the layers, and
// that the shared buffers change no result: the logits equal those of
// an engine whose arena keeps one buffer per op, and those of the
// default compile mode in Q8_0 (no arena, and the residual added by
// Gorgonia's own Add rather than inside the product; in fp32 the default
// mode's unfused element-wise ops round differently).
func TestArenaSharesLayers(t *testing.T) {
	c := arch.Config{Name: "t", Family: arch.Llama, Dim: 32, HiddenDim: 80, Layers: 4, Heads: 4, KVHeads: 2, Vocab: 64, MaxSeq: 32, RopeTheta: 10000, NormEps: 1e-5, Tied: true}
	ws := weights.Random(c, 3)
	for _, q := range []Quantize{QuantizeNone, QuantizeQ8_0} {
		t.Run(q.String(), func(t *testing.T) { checkArenaShares(t, c, ws, q) })
	}
}

func checkArenaShares(t *testing.T, c arch.Config, ws *weights.Set, q Quantize) {
	prompt := []int{1, 5, 9, 13, 17, 21, 25}
	logits := func(perLayer bool, mode Compile) ([]float32, *Engine) {
		e, err := New(context.Background(), ws, Options{Attention: AttentionEager, KVCache: true, Compile: mode, Quantize: q, QuantizeHead: q != QuantizeNone})
		if err != nil {
			t.Fatal(err)
		}
		e.arena.perLayer = perLayer
		l, err := e.Forward(context.Background(), prompt)
		if err != nil {
			t.Fatal(err)
		}
		l2, err := e.Forward(context.Background(), []int{3})
		if err != nil {
			t.Fatal(err)
		}
		return append(append([]float32(nil), l...), l2...), e
	}
	want, _ := logits(true, CompileReduceOverhead)
	plain, _ := logits(false, CompileDefault)
	got, e := logits(false, CompileReduceOverhead)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("logit %d is %g with shared buffers, %g without", i, got[i], want[i])
		}
		if q != QuantizeNone && got[i] != plain[i] {
			t.Fatalf("logit %d is %g with shared buffers, %g in the default compile mode", i, got[i], plain[i])
		}
	}
	perLayer := 0
	for name := range e.arena.bufs {
		if len(name) > 7 && name[:7] == "layers." {
			perLayer++
		}
	}
	if perLayer != 0 {
		t.Errorf("%d of the %d arena buffers belong to one layer, want none", perLayer, len(e.arena.bufs))
	}
}
