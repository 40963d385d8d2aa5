package engine

import (
	"context"
	"math"
	"testing"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// TestRunTapeIsDirect checks that an engine's forward pass runs its tape
// on the calling goroutine (runTape finds the tape machine's program) and
// that this gives the logits RunAll gives, bit for bit, over a prefill and
// decode steps at one and two threads: if a Gorgonia upgrade changes the
// machine, runTape falls back to RunAll and this test fails.
func TestRunTapeIsDirect(t *testing.T) {
	c := arch.Config{Name: "a", Family: arch.Llama, Dim: 64, HiddenDim: 172, Layers: 3, Heads: 8, KVHeads: 4, Vocab: 512, MaxSeq: 64, Tied: true, RopeTheta: 10000, NormEps: 1e-5}
	ctx := context.Background()
	run := func(threads int, runAll bool) [][]float32 {
		tapeRunAll = runAll
		defer func() { tapeRunAll = false }()
		e, err := New(ctx, weights.Random(c, 1), Options{Attention: AttentionEager, KVCache: true, Compile: CompileReduceOverhead, Quantize: QuantizeQ8_0, Threads: threads, Context: 64, CacheDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		var out [][]float32
		tokens := []int{1, 7, 9, 300}
		for range 8 {
			l, err := e.Forward(ctx, tokens)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, append([]float32(nil), l...))
			tokens = []int{int(l[0]*1000) & 511}
		}
		if len(e.graphs) == 0 {
			t.Fatal("no kept graph")
		}
		for _, g := range e.graphs {
			if _, ok := directTape(g.vm); !ok {
				t.Fatalf("runTape does not reach the tape machine's program (%T): a forward pass would lock its thread in RunAll", g.vm)
			}
		}
		return out
	}
	for _, threads := range []int{1, 2} {
		direct, all := run(threads, false), run(threads, true)
		for i := range direct {
			for j := range direct[i] {
				if math.Float32bits(direct[i][j]) != math.Float32bits(all[i][j]) {
					t.Fatalf("%d threads, pass %d logit %d: %v directly, %v through RunAll", threads, i, j, direct[i][j], all[i][j])
				}
			}
		}
	}
}
