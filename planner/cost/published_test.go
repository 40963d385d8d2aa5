package cost

import (
	"testing"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/stdlib/training"
)

// TestBitsPerWeight checks the storage formats against their definitions.
func TestBitsPerWeight(t *testing.T) {
	for _, tc := range []struct {
		q    Quant
		want float64
	}{
		{Quant{Type: NF4, BlockSize: 64, Double: true}, 4.127}, // QLoRA §3: 4.127 bits
		{Quant{Type: NF4, BlockSize: 64, Double: false}, 4.5},  // 32-bit constant per 64
		{Quant{Type: Q8_0}, 8.5},                               // 34 B per 32
		{Quant{Type: Q4_0}, 4.5},                               // 18 B per 32
		{Quant{Type: Q4K}, 4.5},                                // 144 B per 256
		{Quant{Type: Q6K}, 6.5625},                             // 210 B per 256
		{Quant{Type: BF16}, 16},
	} {
		if got := tc.q.BitsPerWeight(); !within(got, tc.want, 0.0005) {
			t.Errorf("%s: %.4f bits per weight, want %.4f", tc.q.Type, got, tc.want)
		}
	}
	if got := (Quant{Type: Q4_0}).Bytes(4096, 4096); got != 4096*4096/32*18 {
		t.Errorf("q4_0 4096×4096 = %d bytes, want %d", got, 4096*4096/32*18)
	}
}

// TestQLoRABaseModel: "the 4-bit base model consumes 5,048 MB of memory"
// for LLaMA 7B (Dettmers et al., QLoRA, arXiv:2305.14314 §2). The
// model: linear layers in NF4 with double quantisation; embeddings, the
// classifier and norms in fp32, as peft's prepare_model_for_kbit_training
// leaves them for QLoRA training.
func TestQLoRABaseModel(t *testing.T) {
	a, _ := arch.Preset("llama-2-7b") // LLaMA-1 7B has the same shapes
	w := Workload{Arch: a, Mode: Train, Method: training.LoRA, Storage: FP32, Compute: BF16,
		Quant: Quant{Type: NF4, BlockSize: 64, Double: true}}
	q, o := w.weightBytes()
	got := float64(q + o)
	t.Logf("QLoRA 7B base: %.0f MB (nf4 %.0f MB + fp32 %.0f MB), published 5,048 MB", got/1e6, float64(q)/1e6, float64(o)/1e6)
	if !within(got, 5048e6, 0.15) {
		t.Errorf("QLoRA 7B 4-bit base model %.0f MB, published 5,048 MB ±15%%", got/1e6)
	}
	// The same model in bf16 halves the unquantised part.
	w.Storage = BF16
	q2, o2 := w.weightBytes()
	if q2 != q || o2*2 != o {
		t.Errorf("bf16 storage: nf4 %d→%d, rest %d→%d", q, q2, o, o2)
	}
}

// TestLoRATrainableParams checks r·(in+out) per adapted module and
// layer (Hu et al. §4.1) against the count PyTorch printed for the
// measured case (16,777,216 for r=16 on q,k,v,o of Llama-2-7B) and
// against a hand count for r=8 on every projection.
func TestLoRATrainableParams(t *testing.T) {
	a, _ := arch.Preset("llama-2-7b")
	w := Workload{Arch: a, Mode: Train, Method: training.LoRA, LoRARank: 16, LoRATargets: []string{"q_proj", "k_proj", "v_proj", "o_proj"}}
	if got := w.TrainableParams(); got != 16_777_216 {
		t.Errorf("r16 attention adapters: %d, want 16,777,216", got)
	}
	w.LoRATargets, w.LoRARank = a.LinearNames(), 8
	// per layer 8·(4·(4096+4096) + 3·(4096+11008)) = 624,640, times 32
	if got := w.TrainableParams(); got != 19_988_480 {
		t.Errorf("r8 all-linear adapters: %d, want 19,988,480", got)
	}
}

// TestHFModelMemoryAnatomy: bert-large-uncased fine-tuned for sequence
// classification with batch 4, sequence 512, fp32 and AdamW occupies
// 14,949 MiB of a V100 by NVML, of which 1,343 MiB are the CUDA context and
// kernels before the model loads (Hugging Face Transformers docs, "Model
// training anatomy", with CUDA 11.2 in 2022; NVML's figure divided by
// 1024², so MiB). The model predicts what NVML shows: tensors at the peak,
// the allocator's reserve and that context.
//
// The same setting run on the H100 with torch 2.11 (full-bert-large-fp32
// in planner/testdata/measured) reserved 11.50 GB, which with this context
// makes 12.91 GB, 17.6% under the published figure: the 2022 stack (the
// Trainer's optimizer of the time, the allocator before expandable
// segments) held more. The model, fitted to the H100 run within 1%, is
// held to 20% here; TestMeasuredPerEngine checks it against the run itself.
func TestHFModelMemoryAnatomy(t *testing.T) {
	const mib = 1 << 20
	a, _ := arch.Preset("bert-large-uncased")
	w := Workload{Arch: a, Mode: Train, Method: training.Full, Storage: FP32, Compute: FP32, Optimizer: AdamW,
		Checkpointing: CheckpointNone, Attention: Eager, Batch: 4, Seq: 512, Devices: 1, Sharding: DDP}
	if err := w.Validate(); err != nil {
		t.Fatal(err)
	}
	m := w.Memory(Device{GPU: true, ContextBytes: 1343 * mib})
	t.Logf("bert-large b4 s512 fp32: %.0f MiB (%s), published 14,949 MiB", float64(m.Total)/mib, m.Phase)
	for _, c := range m.Components {
		t.Logf("  %-18s %8.0f MiB", c.Name, float64(c.Bytes)/mib)
	}
	if !within(float64(m.Total), 14949*mib, 0.20) {
		t.Errorf("predicted %.0f MiB, published 14,949 MiB ±20%%", float64(m.Total)/mib)
	}
}
