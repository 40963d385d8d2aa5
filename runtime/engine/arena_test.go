package engine

import (
	"context"
	"testing"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// TestArenaSharesLayers checks that the ops of one role in different
// layers write into one arena buffer (the residual stream's two roles
// excepted), so a graph's activations do not grow with the layers, and
// that the shared buffers change no result: the logits equal those of
// an engine whose arena keeps one buffer per op, in fp32 and in Q8_0
// (whose residual additions are Gorgonia's own ops).
func TestArenaSharesLayers(t *testing.T) {
	c := arch.Config{Name: "t", Family: arch.Llama, Dim: 32, HiddenDim: 80, Layers: 4, Heads: 4, KVHeads: 2, Vocab: 64, MaxSeq: 32, RopeTheta: 10000, NormEps: 1e-5, Tied: true}
	ws := weights.Random(c, 3)
	for _, q := range []Quantize{QuantizeNone, QuantizeQ8_0} {
		t.Run(q.String(), func(t *testing.T) { checkArenaShares(t, c, ws, q) })
	}
}

func checkArenaShares(t *testing.T, c arch.Config, ws *weights.Set, q Quantize) {
	prompt := []int{1, 5, 9, 13, 17, 21, 25}
	logits := func(perLayer bool) ([]float32, *Engine) {
		e, err := New(context.Background(), ws, Options{Attention: AttentionEager, KVCache: true, Compile: CompileReduceOverhead, Quantize: q, QuantizeHead: q != QuantizeNone})
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
	want, _ := logits(true)
	got, e := logits(false)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("logit %d is %g with shared buffers, %g without", i, got[i], want[i])
		}
	}
	perLayer := 0
	for name := range e.arena.bufs {
		if len(name) > 7 && name[:7] == "layers." {
			perLayer++
		}
	}
	if want := 2 * c.Layers; perLayer != want {
		t.Errorf("%d arena buffers belong to one layer, want %d (attention.out and ffn.out of each): %v", perLayer, want, len(e.arena.bufs))
	}
}
