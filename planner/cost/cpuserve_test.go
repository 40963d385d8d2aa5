package cost

import (
	"math"
	"testing"

	"github.com/modelwhisperer/whisperc/planner/arch"
)

// serveShape is the 15M llama2.c shape: six layers, more than the three a
// serving step is measured on.
var serveShape = arch.Config{Name: "15M", Family: arch.Llama, Dim: 288, HiddenDim: 768, Layers: 6, Heads: 6, KVHeads: 6, Vocab: 32000, MaxSeq: 256, Tied: true}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) }

// TestServeStepBatched: a server's step advances every sequence in one
// pass over the weights, so the aggregate rate at batch b is b over the
// measured batch-b step (six layers and the rest), not one sequence's
// step times b; between measured batch sizes the step is interpolated.
func TestServeStepBatched(t *testing.T) {
	w := Workload{Arch: serveShape, Mode: Inference, Storage: FP32, Compute: FP32, Batch: 8, KVCache: true, Devices: 1}
	m := MeasuredServe{Batches: []MeasuredBatch{{Sequences: 8, Layer: 2e-3, Head: 1e-3}, {Sequences: 1, Layer: 1e-3, Head: 0.5e-3}}}
	for _, c := range []struct {
		b    int
		want float64 // seconds of a step
	}{
		{1, 6*1e-3 + 0.5e-3},
		{8, 6*2e-3 + 1e-3},
		{4, 6*(1e-3+3.0/7*1e-3) + 0.5e-3 + 3.0/7*0.5e-3}, // interpolated
		{16, 6*2e-3 + 1e-3}, // beyond the last measured: its step
	} {
		if got := w.ServeStep(nil, m, c.b, StepPosition); !near(got, c.want) {
			t.Errorf("batch %d: step %.6g s, want %.6g", c.b, got, c.want)
		}
		if got, want := w.ServeTokensPerSecond(nil, m, c.b, StepPosition), float64(c.b)/c.want; !near(got, want) {
			t.Errorf("batch %d: %.6g tokens/s, want %.6g", c.b, got, want)
		}
	}
	// Each sequence attends over its own context: at 100 positions past
	// the measured one, every layer grows by the batch times the growth.
	w.StepPositionSeconds = 1e-6
	if got, want := w.ServeStep(nil, m, 8, StepPosition+100), 6*(2e-3+8*100*1e-6)+1e-3; !near(got, want) {
		t.Errorf("at position %d: step %.6g s, want %.6g", StepPosition+100, got, want)
	}
	if got := w.ServeTokensPerSecond(nil, MeasuredServe{}, 8, 64); got != 0 {
		t.Errorf("nothing measured predicts %g tokens/s, want 0", got)
	}
}

// TestServeStepCaches: weights that the three measured layers keep in
// cache and the whole model streams from memory are charged again at the
// whole model's rate, once per step whatever the batch.
func TestServeStepCaches(t *testing.T) {
	w := Workload{Arch: serveShape, Mode: Inference, Storage: FP32, Compute: FP32, Batch: 8, KVCache: true, Devices: 1}
	m := MeasuredServe{Batches: []MeasuredBatch{{Sequences: 1, Layer: 1e-3, Head: 0.5e-3}, {Sequences: 8, Layer: 2e-3, Head: 1e-3}}}
	fast := &CPURates{Threads: 1, Stream: map[string][]StreamPoint{"fp32": {{Bytes: 1 << 20, BytesPerSecond: 10e9}}}}
	slow := &CPURates{Threads: 1, Stream: map[string][]StreamPoint{"fp32": {{Bytes: 40 << 20, BytesPerSecond: 10e9}, {Bytes: 80 << 20, BytesPerSecond: 5e9}}}}
	flat := w.ServeStep(fast, m, 8, StepPosition)
	if want := w.ServeStep(nil, m, 8, StepPosition); !near(flat, want) {
		t.Errorf("one streaming rate: step %.6g s, want the measured %.6g", flat, want)
	}
	s1, s8 := w.ServeStep(slow, m, 1, StepPosition), w.ServeStep(slow, m, 8, StepPosition)
	d1, d8 := s1-w.ServeStep(nil, m, 1, StepPosition), s8-w.ServeStep(nil, m, 8, StepPosition)
	whole := m
	whole.Layers = 6
	if got, want := whole.Layers, serveShape.Layers; w.ServeStep(slow, whole, 8, StepPosition) != w.ServeStep(nil, whole, 8, StepPosition) || got != want {
		t.Errorf("a step measured on all %d layers was corrected for the caches", want)
	}
	// Eight sequences' KV caches make the working set a little larger.
	if !(d1 > 0) || d8 < d1 || d8 > 1.5*d1 {
		t.Errorf("the caches' correction is %.3g s at batch 1 and %.3g s at batch 8; want it positive and about once per step", d1, d8)
	}
}

// TestServePrefill: a prompt chunk's layers take the measured chunk's time
// in proportion to the tokens, plus the attention over the longer prefix
// beyond the measured chunk; the classifier runs once.
func TestServePrefill(t *testing.T) {
	w := Workload{Arch: serveShape, Mode: Inference, Storage: FP32, Compute: FP32, Batch: 8, KVCache: true, Devices: 1, StepPositionSeconds: 1e-7}
	m := MeasuredServe{PrefillTokens: 128, PrefillLayer: 0.05, PrefillHead: 0.002}
	if got, want := w.ServePrefill(m, 128), 6*0.05+0.002; !near(got, want) {
		t.Errorf("the measured chunk: %.6g s, want %.6g", got, want)
	}
	if got, want := w.ServePrefill(m, 256), 6*(0.1+1e-7*256*128/2)+0.002; !near(got, want) {
		t.Errorf("twice the measured chunk: %.6g s, want %.6g", got, want)
	}
	if got := w.ServePrefill(MeasuredServe{}, 256); got != 0 {
		t.Errorf("nothing measured: %g s, want 0", got)
	}
}
