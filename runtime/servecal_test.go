package runtime

import (
	"context"
	"slices"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
)

func TestServeBatches(t *testing.T) {
	for _, c := range []struct {
		n    int
		want []int
	}{{1, []int{1}}, {2, []int{1, 2}}, {6, []int{1, 2, 4, 6}}, {8, []int{1, 2, 4, 8}}, {0, []int{1}}} {
		if got := cost.ServeBatches(c.n); !slices.Equal(got, c.want) {
			t.Errorf("cost.ServeBatches(%d) = %v, want %v", c.n, got, c.want)
		}
	}
}

// TestMeasureServe measures a server's steps for stories260K's shape: a
// step for each batch size up to max_batch and a prefill chunk bounded by
// the context, the work forwarded bounded (counted, not timed), and a
// second calibrator reads them from the cache without measuring. Formats
// without a CPU kernel and impossible servers are refused.
func TestMeasureServe(t *testing.T) {
	c := arch.Config{Name: "step", Family: arch.Llama, Dim: 64, HiddenDim: 172, Layers: 5, Heads: 8, KVHeads: 4, Vocab: 512, MaxSeq: 96, Tied: true}
	cache, tmp := t.TempDir(), t.TempDir()
	s := &StepCalibrator{Threads: 2, CacheDir: cache, TempDir: tmp}
	m, err := s.MeasureServe(context.Background(), c, cost.Uniform(cost.FP32), cost.FP32, compiler.CompileDefault, 4, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Batches) != 3 || m.Batches[0].Sequences != 1 || m.Batches[2].Sequences != 4 || m.PrefillTokens != 96 || m.Scaled || m.Rounds < 8 || m.Layers != 5 {
		t.Errorf("measured %+v; want batches 1, 2, 4, a prefill of the 96-position context, at least two rounds each, on all 5 layers", m)
	}
	for _, b := range m.Batches {
		if b.Layer < 0 || b.Head < 0 || !(b.Layer+b.Head > 0) {
			t.Errorf("batch %d: layer %g s, head %g s", b.Sequences, b.Layer, b.Head)
		}
	}
	if !(m.PrefillLayer+m.PrefillHead > 0) {
		t.Errorf("prefill %g + %g s", m.PrefillLayer, m.PrefillHead)
	}
	// Per round: 56 steps of 1+2+4 sequences and 3 prefills of 96 tokens,
	// on models of one and three layers, for at most stepMaxRounds rounds.
	params := stepParams(c)
	if limit := int64(stepMaxRounds) * (56*7 + 3*96) * 2 * params; s.Work() <= 0 || s.Work() > limit {
		t.Errorf("forwarded %d token-parameters, want at most %d", s.Work(), limit)
	}
	s2 := &StepCalibrator{Threads: 2, CacheDir: cache, TempDir: tmp}
	again, err := s2.MeasureServe(context.Background(), c, cost.Uniform(cost.FP32), cost.FP32, compiler.CompileDefault, 4, 2048)
	if err != nil || s2.Work() != 0 || s2.TempBytes() != 0 || !slices.Equal(again.Batches, m.Batches) || again.PrefillLayer != m.PrefillLayer {
		t.Errorf("the second calibrator measured again (%d token-parameters, %v) or read %+v, not %+v", s2.Work(), err, again, m)
	}
	if _, err := s.MeasureServe(context.Background(), c, cost.Uniform(cost.FP16), cost.FP32, compiler.CompileDefault, 4, 256); err == nil {
		t.Error("fp16 was measured; want an error: the CPU runtime has no fp16 kernel")
	}
	if _, err := s.MeasureServe(context.Background(), c, cost.Uniform(cost.FP32), cost.FP32, compiler.CompileDefault, 0, 256); err == nil {
		t.Error("a server of no slots was measured")
	}
}

// TestServePrefillBounded: a long chunk of a wide shape is measured on
// fewer tokens, within ServePrefillWork; a small shape's on the whole
// chunk, up to its context.
func TestServePrefillBounded(t *testing.T) {
	c, _ := arch.Preset("llama-2-7b")
	p, _, err := stepShape(c, StepBudget)
	if err != nil {
		t.Fatal(err)
	}
	n := prefillTokens(c, p, 2048)
	if n >= 2048 || n < 16 || n%16 != 0 || int64(n)*int64(p.Layers)*stepLayerParams(p) > ServePrefillWork {
		t.Errorf("the 7B shape prefills %d tokens of a 2048-token chunk; want a multiple of 16 within %d token-parameters", n, ServePrefillWork)
	}
	tiny := arch.Config{Dim: 64, HiddenDim: 172, Layers: 5, Heads: 8, KVHeads: 4, Vocab: 512, MaxSeq: 512, Tied: true}
	if n := prefillTokens(tiny, tiny, 2048); n != 512 {
		t.Errorf("stories260K prefills %d tokens of a 2048-token chunk, want its context of 512", n)
	}
}
