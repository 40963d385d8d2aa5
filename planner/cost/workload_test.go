package cost

import (
	"testing"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/stdlib/training"
)

func full7b() Workload {
	a, _ := arch.Preset("llama-2-7b")
	return Workload{Arch: a, Mode: Train, Method: training.Full, Storage: FP32, Compute: BF16, Optimizer: AdamW, Checkpointing: CheckpointFull,
		Attention: Flash2, Batch: 1, Seq: 2048, Devices: 8, Sharding: DDP}
}

// TestZeROSharding checks the ZeRO paper's per-device formulas (§5): with
// Ψ parameters, K bytes of optimizer state per parameter and N devices,
// DDP holds everything, stage 2 divides gradients and state by N, stage 3
// the parameters too.
func TestZeROSharding(t *testing.T) {
	dev := Device{GPU: true}
	w := full7b()
	ddp := w.Memory(dev)
	w.Sharding = ZeRO2
	z2 := w.Memory(dev)
	w.Sharding = ZeRO3
	z3 := w.Memory(dev)
	psi := w.Arch.Params()
	if got := ddp.Component("optimizer_state"); got != 8*psi {
		t.Errorf("DDP AdamW state %d, want 8Ψ = %d", got, 8*psi)
	}
	if got := z2.Component("optimizer_state"); got != 8*psi/8 {
		t.Errorf("ZeRO-2 state %d, want 8Ψ/N", got)
	}
	if z2.Component("weights") != ddp.Component("weights") {
		t.Error("ZeRO-2 must not shard the weights")
	}
	if z3w := z3.Component("weights"); z3w >= ddp.Component("weights")/4 || z3w < ddp.Component("weights")/8 {
		t.Errorf("ZeRO-3 weights %d of %d", z3w, ddp.Component("weights"))
	}
	if !(z3.Total < z2.Total && z2.Total < ddp.Total) {
		t.Errorf("totals ddp %d, zero2 %d, zero3 %d must decrease", ddp.Total, z2.Total, z3.Total)
	}
}

func TestCheckpointingOrder(t *testing.T) {
	w := full7b()
	w.Devices, w.Sharding = 1, DDP
	acts := map[string]int64{}
	for _, c := range []struct {
		name  string
		mode  Checkpointing
		every int
	}{{"none", CheckpointNone, 0}, {"selective", CheckpointSelective, 0}, {"every4", CheckpointEvery, 4}, {"every2", CheckpointEvery, 2}, {"full", CheckpointFull, 0}} {
		w.Checkpointing, w.CheckpointEvery = c.mode, c.every
		acts[c.name] = w.ActivationBytes()
	}
	order := []string{"none", "every4", "every2", "full"}
	for i := 1; i < len(order); i++ {
		if acts[order[i]] >= acts[order[i-1]] {
			t.Errorf("%s keeps %d, not less than %s's %d", order[i], acts[order[i]], order[i-1], acts[order[i-1]])
		}
	}
	if acts["selective"] >= acts["none"] {
		t.Error("selective recomputation saves nothing")
	}
	w.Checkpointing = CheckpointEvery
	w.CheckpointEvery = 1
	e1 := w.ActivationBytes()
	w.Checkpointing = CheckpointFull
	if e1 != w.ActivationBytes() {
		t.Errorf("every(1) = %d, full = %d", e1, w.ActivationBytes())
	}
}

func TestStoredWeightsAndKV(t *testing.T) {
	a, _ := arch.Preset("llama-3.1-8b")
	w := Workload{Arch: a, Mode: Inference, Storage: FP16, Compute: FP16, Batch: 1, Seq: 100, NewTokens: 28, KVCache: true,
		StoredWeightBytes: 4_920_734_272}
	m := w.Memory(Device{})
	if m.Component("weights") != 4_920_734_272 {
		t.Errorf("stored weights %d", m.Component("weights"))
	}
	// 2 · 32 layers · 8 kv heads · 128 · 128 positions · 2 bytes
	if got := m.Component("kv_cache"); got != 2*32*8*128*128*2 {
		t.Errorf("kv cache %d", got)
	}
	if m.Component("cuda_context") != 0 || m.Component("allocator_reserve") != 0 {
		t.Error("the CPU has no CUDA context or caching allocator")
	}
	d := w.Decode(Device{Bandwidth: 100e9, Peak: map[DType]float64{FP32: 1e12}})
	if d.Bound != "memory" || d.Seconds < 28*4.92e9/80e9*0.99 {
		t.Errorf("decode %+v", d)
	}
	w.KVCache = false
	if nd := w.Decode(Device{Bandwidth: 100e9, Peak: map[DType]float64{FP32: 1e12}}); nd.FLOPs <= d.FLOPs*50 {
		t.Errorf("without a cache decoding must recompute the prefix: %g vs %g FLOPs", nd.FLOPs, d.FLOPs)
	}
}

func TestValidate(t *testing.T) {
	a, _ := arch.Preset("tinyllama-1.1b")
	ok := Workload{Arch: a, Mode: Inference, Storage: BF16, Compute: BF16, Batch: 1, Seq: 1}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, w := range map[string]Workload{
		"no mode":      {Arch: a, Storage: BF16, Compute: BF16, Batch: 1, Seq: 1},
		"nf4 compute":  {Arch: a, Mode: Inference, Storage: BF16, Compute: NF4, Batch: 1, Seq: 1},
		"zero batch":   {Arch: a, Mode: Inference, Storage: BF16, Compute: BF16, Seq: 1},
		"no optimizer": {Arch: a, Mode: Train, Method: training.Full, Storage: FP32, Compute: BF16, Batch: 1, Seq: 1},
		"lora no rank": {Arch: a, Mode: Train, Method: training.LoRA, Storage: BF16, Compute: BF16, Batch: 1, Seq: 1, Optimizer: AdamW},
		"bad arch":     {Arch: arch.Config{}, Mode: Inference, Storage: BF16, Compute: BF16, Batch: 1, Seq: 1},
		"no method":    {Arch: a, Mode: Train, Storage: FP32, Compute: BF16, Batch: 1, Seq: 1, Optimizer: AdamW},
		"infer+method": {Arch: a, Mode: Inference, Method: training.LoRA, Storage: BF16, Compute: BF16, Batch: 1, Seq: 1},
	} {
		if err := w.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestHugeInputsSaturate: the largest values the language allows must
// not overflow into small or negative sizes.
func TestHugeInputsSaturate(t *testing.T) {
	a, _ := arch.Preset("llama-3.1-70b")
	for _, w := range []Workload{
		{Arch: a, Mode: Inference, Storage: BF16, Compute: BF16, Batch: 1 << 16, Seq: 1 << 24, NewTokens: 1 << 24, KVCache: true, Attention: Eager},
		{Arch: a, Mode: Train, Method: training.Full, Storage: FP32, Compute: BF16, Optimizer: AdamW, Checkpointing: CheckpointNone, Attention: Eager,
			Batch: 1 << 16, Seq: 1 << 24, Devices: 1 << 16, Sharding: ZeRO3},
	} {
		m := w.Memory(Device{GPU: true, Memory: 80 << 30})
		if m.Total < 80<<30 {
			t.Errorf("%s: total %d", w.Mode, m.Total)
		}
		for _, c := range m.Components {
			if c.Bytes < 0 || c.Bytes > MaxBytes {
				t.Errorf("%s: %s = %d", w.Mode, c.Name, c.Bytes)
			}
		}
	}
}
