package cost

import "github.com/modelwhisperer/whisperc/planner/arch"

// Assumed efficiencies. They are stated in every plan next to the numbers
// they produce; spec/plan.md gives their sources.
const (
	// TrainMFU is the assumed model-FLOPs utilisation of training steps.
	// Large pretraining runs reach 40–55% (PaLM §4: 46.2%); the measured
	// single-H100 fine-tuning steps of planner/testdata/measured reach
	// 9–20% at their small batches. 0.25 sits between.
	TrainMFU = 0.25
	// PrefillMFU is the assumed utilisation of inference prefill: 45.5%
	// measured for Llama-2-7B, batch 4 × 1024 tokens, on an H100.
	PrefillMFU = 0.45
	// BandwidthUtil is the share of peak memory bandwidth that decoding
	// and the optimizer update achieve (memory-bound kernels, STREAM-like).
	BandwidthUtil = 0.8
)

// Time is a roofline estimate of one step.
type Time struct {
	// FLOPs is the model FLOPs of the step (no recomputation counted).
	FLOPs float64 `json:"flops"`
	// RecomputeFLOPs is the extra forward work of checkpointing.
	RecomputeFLOPs float64 `json:"recompute_flops,omitempty"`
	// Bytes is the memory traffic of a memory-bound step.
	Bytes float64 `json:"bytes,omitempty"`
	// Seconds is the predicted wall time of the step.
	Seconds float64 `json:"seconds"`
	// Tokens is the number of tokens the step processes.
	Tokens float64 `json:"tokens"`
	// Efficiency is the assumed MFU (compute-bound) or bandwidth share
	// (memory-bound).
	Efficiency float64 `json:"efficiency"`
	// Bound is "compute" or "memory".
	Bound string `json:"bound"`
	// HostBytes is what crosses the host link per step: offloaded
	// activations out and back, offloaded gradients and parameters.
	HostBytes float64 `json:"host_bytes,omitempty"`
}

// TokensPerSecond returns the step's throughput.
func (t Time) TokensPerSecond() float64 {
	if t.Seconds <= 0 {
		return 0
	}
	return t.Tokens / t.Seconds
}

// ForwardFLOPsPerToken returns 2·N_matmul + 4·L·s·(heads·head_dim): two
// FLOPs per multiply-add of every weight matrix (the tied classifier
// included) plus attention's scores and weighted sum over s positions, as
// in the PaLM MFU formula (Chowdhery et al. 2022, appendix B), whose
// training cost is three times this.
func (w *Workload) ForwardFLOPsPerToken(seq int) float64 {
	c := w.Arch
	var mm float64
	for _, m := range c.Modules() {
		if m.Kind == arch.Linear {
			mm += float64(m.Params())
		}
	}
	if c.Tied && c.Family != arch.BERT {
		mm += float64(c.Vocab) * float64(c.Dim)
	}
	return 2*mm + 4*float64(c.Layers)*float64(seq)*float64(c.Heads*c.HeadSize())
}

func (d Device) peak(t DType) float64 {
	if p := d.Peak[t]; p > 0 {
		return p
	}
	if t == BF16 || t == FP16 || t == FP8 {
		// fall back to the next format the device has
		for _, alt := range []DType{BF16, FP16, FP32} {
			if p := d.Peak[alt]; p > 0 {
				return p
			}
		}
	}
	return d.Peak[FP32]
}

// TrainStep estimates one optimizer step of batch·seq tokens per device
// (one micro-batch; multiply by grad_accum for an optimizer step).
// Full training costs 3 forward passes (forward, input and weight
// gradients); LoRA with frozen weights 2 plus 6 FLOPs per adapter
// parameter and token; checkpointing adds the recomputed forward.
func (w *Workload) TrainStep(dev Device) Time {
	tokens := float64(w.Batch) * float64(w.Seq)
	f := w.ForwardFLOPsPerToken(w.Seq) * tokens
	var flops float64
	switch {
	case w.FullTraining():
		flops = 3 * f
	default:
		flops = 2*f + 6*float64(w.TrainableParams())*tokens
	}
	var re float64
	switch w.Checkpointing {
	case CheckpointFull:
		re = f
	case CheckpointEvery:
		L := w.Arch.Layers
		n := (L + w.CheckpointEvery - 1) / w.CheckpointEvery
		re = f * float64(n) / float64(max(L, 1))
	case CheckpointSelective:
		re = tokens * 4 * float64(w.Arch.Layers) * float64(w.Seq) * float64(w.Arch.Heads*w.Arch.HeadSize())
	}
	peak := dev.peak(w.Compute)
	t := Time{FLOPs: flops, RecomputeFLOPs: re, Tokens: tokens, Efficiency: TrainMFU, Bound: "compute"}
	if peak > 0 {
		t.Seconds = (flops + re) / (peak * TrainMFU)
		t.Seconds += w.trlHeadSeconds(dev, tokens)
		if w.Engine == EngineTorchtune && w.Compiled {
			t.Seconds /= TorchtuneCompileSpeedup
		}
	}
	t.HostBytes, t.Seconds = w.hostTraffic(dev, t.Seconds)
	// The optimizer update is memory-bound: read parameter, gradient and
	// two moments, write parameter and moments.
	pb := float64(w.Storage.Bytes())
	if w.AdapterTraining() {
		pb = float64(w.adapterBytes())
	}
	t.Bytes = float64(w.TrainableParams()) * 7 * pb / float64(w.devices())
	if dev.Bandwidth > 0 {
		t.Seconds += t.Bytes / (dev.Bandwidth * BandwidthUtil)
	}
	return t
}

// Prefill estimates processing the prompt of batch·seq tokens.
//
// On the CPU runtime with measured rates the prompt is fed one position at
// a time, as llama2.c's loop does, so prefill is Seq decode steps at the
// prompt's context.
func (w *Workload) Prefill(dev Device) Time {
	if dev.CPU != nil && !dev.GPU && w.Seq > 0 {
		p := *w
		p.NewTokens, p.Seq = w.Seq, 0
		t := p.cpuDecode(dev.CPU)
		t.Tokens = float64(w.Batch) * float64(w.Seq)
		return t
	}
	tokens := float64(w.Batch) * float64(w.Seq)
	flops := w.ForwardFLOPsPerToken(w.Seq) * tokens
	t := Time{FLOPs: flops, Tokens: tokens, Efficiency: PrefillMFU, Bound: "compute"}
	if p := dev.peak(w.Compute); p > 0 {
		t.Seconds = flops / (p * PrefillMFU)
	}
	return t
}

// Decode estimates generating NewTokens tokens for each of batch
// sequences. Each step reads every weight and the KV cache once, so it is
// bound by memory bandwidth (Pope et al. 2022 §2) unless the batch makes
// the matrix products compute-bound; the slower of the two is taken.
// Without a KV cache every step recomputes the whole prefix.
func (w *Workload) Decode(dev Device) Time {
	n := w.NewTokens
	if n <= 0 {
		return Time{Bound: "memory"}
	}
	if dev.CPU != nil && !dev.GPU {
		return w.cpuDecode(dev.CPU)
	}
	qw, ow := w.weightBytes()
	weights := float64(qw + ow)
	var seconds, bytes, flops float64
	ctxMid := w.Seq + n/2
	perStepFlops := w.ForwardFLOPsPerToken(ctxMid) * float64(w.Batch)
	if !w.KVCache {
		perStepFlops = w.ForwardFLOPsPerToken(ctxMid) * float64(w.Batch) * float64(ctxMid)
	}
	kv := float64(w.KVCacheBytes(ctxMid))
	stepBytes := weights + kv
	bytes = stepBytes * float64(n)
	flops = perStepFlops * float64(n)
	mem := 0.0
	if dev.Bandwidth > 0 {
		mem = bytes / (dev.Bandwidth * BandwidthUtil)
	}
	comp := 0.0
	if p := dev.peak(w.Compute); p > 0 {
		comp = flops / (p * PrefillMFU)
	}
	t := Time{FLOPs: flops, Bytes: bytes, Tokens: float64(n * w.Batch), Efficiency: BandwidthUtil, Bound: "memory"}
	seconds = mem
	if comp > mem {
		seconds, t.Bound, t.Efficiency = comp, "compute", PrefillMFU
	}
	t.Seconds = seconds
	return t
}

// DefaultHostBandwidth is a GPU's link to host memory, one direction,
// when the target does not give it: PCIe 4.0 ×16 moves 32 GB/s, of which
// pinned copies reach about 25 GB/s (PCIe 5.0 doubles both).
const DefaultHostBandwidth = 25e9

// TorchtuneCompileSpeedup is torchtune's published gain of compile: True,
// +27.18% tokens per second on Llama 3.2 3B full fine-tuning, batch 2 ×
// 4096 packed, A100 (torchtune v0.6.1 README, "Optimization flags"). One
// published point, applied to every compiled torchtune stage; the
// Trainer's torch_compile has no published figure for these models and no
// term.
const TorchtuneCompileSpeedup = 1.2718

// trlHeadSeconds returns what TRL's chunked loss adds to a step: it runs
// the output head in fp32 (h.float() @ w.float().t()) on the labelled
// tokens and recomputes each chunk in backward, so the head costs a
// forward, a recomputation and the backward (input gradient, and the
// weight gradient when the head is trained) at the fp32 matmul rate
// instead of the forward and backward at the compute format's. fp32
// matmuls run as TF32 when the Trainer compiles (TrainingArguments turns
// TF32 on with torch_compile), at half the bf16 dense peak on NVIDIA's
// tensor cores since Ampere (A100 156/312, H100 495/989 TFLOPS); otherwise
// at the device's fp32 peak.
func (w *Workload) trlHeadSeconds(dev Device, tokens float64) float64 {
	if !w.trlChunkedLoss() || w.Compute.Bytes() == 4 {
		return 0
	}
	head := 2 * tokens * float64(w.Arch.Dim) * float64(w.Arch.Vocab)
	back := 1.0
	if w.FullTraining() {
		back = 2
	}
	fp32 := dev.Peak[FP32]
	if w.Compiled || fp32 <= 0 {
		fp32 = dev.peak(w.Compute) / 2
	}
	low := dev.peak(w.Compute)
	if fp32 <= 0 || low <= 0 {
		return 0
	}
	return max(0, head*(2+back)/(fp32*TrainMFU)-head*(1+back)/(low*TrainMFU))
}

// hostTraffic returns the bytes a step moves over the host link and the
// step time with them:
//
//   - activation offloading copies each saved tensor out in forward and
//     back in backward on its own CUDA stream, overlapped with compute
//     (torchtune's OffloadActivations, which TRL reuses), so the step takes
//     the longer of the two; torchtune's README measured the overlap as
//     complete on Llama 3.2 3B (-0.11% tokens per second);
//   - CPU offload sends each step's gradients to host memory and the
//     updated parameters back, after backward: added in full. The update
//     itself runs on the CPU and is not modelled.
func (w *Workload) hostTraffic(dev Device, seconds float64) (float64, float64) {
	bw := dev.HostBandwidth
	if bw <= 0 {
		bw = DefaultHostBandwidth
	}
	var bytes float64
	if w.ActivationOffload {
		kept, perLayer := w.activations()
		off := kept - w.offloadedActivations(kept, perLayer)
		if w.Checkpointing == CheckpointFull {
			off = kept - perLayer // the layer inputs; the recomputed layer stays
		}
		if off > 0 {
			bytes += 2 * off
			seconds = max(seconds, 2*off/bw)
		}
	}
	if w.CPUOffload && w.Mode != Inference {
		pb := float64(w.Storage.Bytes())
		if w.AdapterTraining() {
			pb = float64(w.adapterBytes())
		}
		x := 2 * float64(w.TrainableParams()) * pb / float64(w.devices())
		bytes += x
		seconds += x / bw
	}
	return bytes, seconds
}
