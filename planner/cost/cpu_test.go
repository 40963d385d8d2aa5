package cost

import (
	"math"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner/arch"
)

// TestCPUDecodeMeasuredStep checks the decode predicted from a measured
// step: each layer's step grows by the measured cost per position from
// StepPosition to the generation's middle position, and without that
// cost the KV cache's growth is charged at the fp32 streaming rate.
func TestCPUDecodeMeasuredStep(t *testing.T) {
	rates := &CPURates{Threads: 1, Stream: map[string][]StreamPoint{"fp32": {{Bytes: 1 << 20, BytesPerSecond: 1e9}}}}
	dev := Device{Name: "cpu", Memory: 8 << 30, CPU: rates}
	// stories260K's shape: three layers or fewer are taken as measured.
	c := arch.Config{Name: "s", Family: arch.Llama, Dim: 64, HiddenDim: 172, Layers: 3, Heads: 8, KVHeads: 4, Vocab: 512, MaxSeq: 512, Tied: true}
	w := Workload{Arch: c, Mode: Inference, Storage: FP32, Compute: FP32, Batch: 1, Seq: 1, NewTokens: 200, KVCache: true, Devices: 1,
		Sharding: DDP, Attention: Eager, CompileMode: compiler.CompileDefault, StepLayerSeconds: 20e-6, StepHeadSeconds: 60e-6, StepPositionSeconds: 0.1e-6}
	mid := 1 + 200/2
	want := 3*(20e-6+0.1e-6*float64(mid-StepPosition)) + 60e-6
	if got := w.Decode(dev).Seconds / 200; math.Abs(got-want) > 1e-12 {
		t.Errorf("step with the measured growth: %.4g s, want %.4g s", got, want)
	}
	// A generation that ends before StepPosition costs less than the
	// measured step, never less than the head.
	short := w
	short.NewTokens = 10
	if got := short.Decode(dev).Seconds / 10; got >= 3*20e-6+60e-6 || got < 60e-6 {
		t.Errorf("short generation's step: %.4g s", got)
	}
	w.StepPositionSeconds = 0
	kv := float64(w.KVCacheBytes(mid) - w.KVCacheBytes(16))
	want = 3*20e-6 + 60e-6 + kv/1e9
	if got := w.Decode(dev).Seconds / 200; math.Abs(got-want) > 1e-12 {
		t.Errorf("step without a measured growth: %.4g s, want %.4g s (the cache at the fp32 rate)", got, want)
	}
}

// TestCPUDecodeWithoutCache checks that a CPU decode without a KV cache
// counts the prefix it recomputes in its FLOPs as well as in its time: the
// plan's kv_cache decision divides the two FLOPs to say how much compute
// the cache saves, and printed "1× less compute" while only the time grew.
func TestCPUDecodeWithoutCache(t *testing.T) {
	rates := &CPURates{Threads: 1, Stream: map[string][]StreamPoint{"fp32": {{Bytes: 1 << 20, BytesPerSecond: 1e9}}}}
	dev := Device{Name: "cpu", Memory: 8 << 30, CPU: rates}
	c := arch.Config{Name: "s", Family: arch.Llama, Dim: 64, HiddenDim: 172, Layers: 5, Heads: 8, KVHeads: 4, Vocab: 512, MaxSeq: 512, Tied: true}
	for _, measured := range []bool{false, true} {
		w := Workload{Arch: c, Mode: Inference, Storage: FP32, Compute: FP32, Batch: 2, Seq: 5, NewTokens: 60, KVCache: true, Devices: 1,
			Sharding: DDP, Attention: Eager, CompileMode: compiler.CompileDefault}
		if measured {
			w.StepLayerSeconds, w.StepHeadSeconds = 20e-6, 60e-6
		}
		with := w.Decode(dev)
		w.KVCache = false
		without := w.Decode(dev)
		mid := float64(5 + 60/2)
		if r := without.FLOPs / with.FLOPs; math.Abs(r-mid) > 1e-9 {
			t.Errorf("measured %v: FLOPs without the cache are %.3g× those with it, want %.0f×", measured, r, mid)
		}
		if r := without.Seconds / with.Seconds; r < mid/2 {
			t.Errorf("measured %v: time without the cache is only %.3g× that with it", measured, r)
		}
	}
}

// TestCPUDecodeWholeModelStep checks the caches' correction of a measured
// layer step: a step timed on a three-layer model of a six-layer shape
// has each layer charged again at the slower streaming rate of the whole
// model's working set, and one timed on all six layers (StepLayers) is
// taken as measured.
func TestCPUDecodeWholeModelStep(t *testing.T) {
	rates := &CPURates{Threads: 1, Stream: map[string][]StreamPoint{"fp32": {{Bytes: 8 << 20, BytesPerSecond: 100e9}, {Bytes: 256 << 20, BytesPerSecond: 10e9}}}}
	dev := Device{Name: "cpu", Memory: 8 << 30, CPU: rates}
	c := arch.Config{Name: "15M", Family: arch.Llama, Dim: 288, HiddenDim: 768, Layers: 6, Heads: 6, KVHeads: 6, Vocab: 32000, MaxSeq: 256, Tied: true}
	w := Workload{Arch: c, Mode: Inference, Storage: FP32, Compute: FP32, Batch: 1, Seq: 1, NewTokens: 63, KVCache: true, Devices: 1,
		Sharding: DDP, Attention: Eager, CompileMode: compiler.CompileDefault, StepLayerSeconds: 150e-6, StepHeadSeconds: 500e-6, StepPositionSeconds: 1e-12}
	mid := 1 + 63/2
	if mid != StepPosition {
		t.Fatalf("the generation's middle is %d, want StepPosition", mid)
	}
	whole := w
	whole.StepLayers = 6
	want := 6*150e-6 + 500e-6
	if got := whole.Decode(dev).Seconds / 63; math.Abs(got-want) > 1e-9 {
		t.Errorf("a step timed on all six layers: %.4g s, want it as measured, %.4g s", got, want)
	}
	three := w.Decode(dev).Seconds / 63
	w.StepLayers = 3
	if again := w.Decode(dev).Seconds / 63; again != three {
		t.Errorf("StepLayers 3 gives %.4g s, unset %.4g s; want the same", again, three)
	}
	if three < want*1.02 {
		t.Errorf("a step timed on three layers of six: %.4g s, want more than the measured %.4g s (the whole model streams slower)", three, want)
	}
}
