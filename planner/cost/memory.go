package cost

import (
	"github.com/modelwhisperer/whisperc/planner/arch"
)

// Component is one named part of a device's memory at the peak.
type Component struct {
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
	Note  string `json:"note,omitempty"`
}

// Memory is the predicted peak memory of one device.
type Memory struct {
	// Components add up to Total, largest contributors first in model
	// order (weights, adapters, gradients, optimizer, activations, ...).
	Components []Component `json:"components"`
	// Allocated is what the framework's allocator holds in tensors at the
	// peak (what torch.cuda.max_memory_allocated reports).
	Allocated int64 `json:"allocated_bytes"`
	// Total adds the allocator's reserve and the CUDA context: what
	// nvidia-smi shows, and what must fit.
	Total int64 `json:"total_bytes"`
	// PagedBytes is optimizer state in CUDA managed memory (bitsandbytes'
	// paged optimizers): outside PyTorch's allocator, resident on the
	// device while it has room and paged to host memory when it runs
	// short, so neither in Allocated nor in Total.
	PagedBytes int64 `json:"paged_bytes,omitempty"`
	// Phase names the phase that sets the peak: "backward" or
	// "optimizer step" for training, "prefill" or "decode" for inference.
	Phase string `json:"phase"`
}

// Component returns the bytes of the named component (0 when absent).
func (m Memory) Component(name string) int64 {
	for _, c := range m.Components {
		if c.Name == name {
			return c.Bytes
		}
	}
	return 0
}

// Device is what the memory and time model needs to know about one
// accelerator (or the CPU).
type Device struct {
	Name string
	GPU  bool
	// Memory is the capacity in bytes.
	Memory int64
	// Bandwidth is the memory bandwidth in bytes per second.
	Bandwidth float64
	// Peak is the dense throughput in FLOP/s per compute format.
	Peak map[DType]float64
	// CPU, when set, is the CPU runtime's measured rates: decode time and
	// resident memory are then predicted for whisperc's own runtime.
	CPU *CPURates
	// HostBandwidth is the device's link to host memory in bytes per
	// second, one direction (0: DefaultHostBandwidth).
	HostBandwidth float64
	// ContextBytes is what the CUDA context and the framework's kernels
	// take before the first tensor: 753,729,536 B measured on an H100 with
	// torch 2.11 (planner/testdata/measured); 0 on the CPU.
	ContextBytes int64
}

// DefaultGPUContext is the CUDA context plus framework kernels measured by
// NVML on an H100 with PyTorch 2.11 and CUDA 13 after initialisation and a
// first cuBLAS call (planner/testdata/measured/h100-80gb-hbm3-context.json).
const DefaultGPUContext = 753_729_536

// FragmentationFraction is the share of a phase's transient memory
// (activations, logits, gradients, step temporaries) that PyTorch's caching
// allocator holds beyond the live tensors while that phase runs: blocks
// rounded up to 2 MiB and the unused tails of split blocks. The LoRA runs
// on the H100, whose reserve is only this (their gradients are tiny), held
// 4–8% of the transient part beyond the allocated peak; 6% is used.
const FragmentationFraction = 0.06

// reserveBytes returns what the caching allocator holds beyond the peak
// of live tensors, allocated. The allocator never returns memory to the
// device during a run, so the reserved peak is the largest of what each
// phase needed, with what an earlier phase cached still held:
//
//   - each phase adds FragmentationFraction of its transient memory;
//   - with checkpointing, one layer's recomputed activations come and go
//     per layer and stay cached between layers, so the backward phase's
//     reserve is at least one layer's activations;
//   - a freed block is reused only for a request no larger than it. In
//     full fine-tuning the gradients are made in backward while the
//     activations are freed; a gradient larger than every freed
//     activation tensor (the MLP matrices and embeddings of most models,
//     under SDPA) needs fresh memory, so those gradients add to the
//     backward phase's reserved peak (fresh).
//
// On the H100 measurements this puts every reserved peak within 8%
// (planner/cost's TestMeasuredPerEngine).
func reserveBytes(allocated, bwdAlloc, bwdTransient, stepAlloc, stepTransient int64, ckptFloor, fresh float64) int64 {
	bwd := float64(bwdTransient) * FragmentationFraction
	if ckptFloor > bwd {
		bwd = ckptFloor
	}
	reserved := float64(bwdAlloc) + bwd + fresh
	if r := float64(stepAlloc) + float64(stepTransient)*FragmentationFraction; r > reserved {
		reserved = r
	}
	return max(0, sat(reserved)-allocated)
}

// freshGradientBytes returns the bytes of full fine-tuning's gradients
// that cannot reuse the blocks backward frees (see reserveBytes): those
// larger than the largest saved activation tensor, less one (the output
// head's, made first) that fits in the freed logits.
func (w *Workload) freshGradientBytes(pb int64) float64 {
	if !w.FullTraining() || w.CPUOffload || w.OptimizerInBackward {
		return 0
	}
	c := w.Arch
	tokens := float64(w.Batch) * float64(w.Seq)
	cdt := float64(w.Compute.Bytes())
	block := tokens * max(cdt*float64(c.HiddenDim), 4*float64(c.Dim), cdt*float64(c.Heads*c.HeadSize()))
	if w.Attention == Eager {
		block = max(block, float64(w.Batch)*float64(c.Heads)*float64(w.Seq)*float64(w.Seq)*4)
	}
	logits := 0.0
	if c.Family != arch.BERT && w.LossChunks <= 1 {
		logits = tokens * float64(c.Vocab) * 4
	}
	var fresh, reused float64
	for _, m := range c.Modules() {
		g := float64(m.Size) * float64(pb)
		if g <= block {
			continue
		}
		fresh += g * float64(m.Count)
		if g <= logits && g > reused {
			reused = g
		}
	}
	fresh -= reused
	if w.Sharding == ZeRO2 || w.Sharding == ZeRO3 {
		fresh /= float64(w.devices())
	}
	return fresh
}

// weightBytes returns the memory of the base model's parameters: linear
// layers in the quantised format when quantised, everything else (and
// everything when unquantised) in the storage format.
func (w *Workload) weightBytes() (quantized, other int64) {
	if w.StoredWeightBytes > 0 {
		return w.StoredWeightBytes, 0
	}
	sb := int64(w.Storage.Bytes())
	for _, m := range w.Arch.Modules() {
		switch {
		case m.Name == "lm_head" && w.headQuantized():
		case w.quantized() && m.Kind == arch.Linear && m.PerLayer:
			qq := w.Quant
			qq.Rows = m.Out
			quantized += qq.Bytes(int64(m.In), int64(m.Out)) * int64(m.Count)
		default:
			other += m.Params() * sb
		}
	}
	// A quantised classifier: its own copy when tied to the embeddings.
	return quantized + w.headBytes(), other
}

// layerActivationBytes returns the bytes one transformer layer keeps for
// the backward pass per token (see spec/plan.md, "Activations"), and the
// part of it that is the eager-attention score matrix.
//
// The decoder count follows what PyTorch autograd saves in the Hugging
// Face Llama implementation: RMSNorm upcasts its input to fp32 and saves
// it; a frozen linear layer saves nothing; a trained one saves its input
// (one copy per layer under autocast, which casts per call); each LoRA
// adapter saves its input cast to the adapter format (peft), with a
// dropout mask when dropout is on; attention saves q, k, v and its output;
// SwiGLU saves the gate, its activation and up (and their product when
// down_proj is trained). Eager attention adds the softmax in fp32 and its
// cast back per score. This is Korthikanti et al.'s accounting (arXiv:
// 2205.05198 §4.1) redone for RMSNorm, GQA, SwiGLU and frozen weights; it
// matches the H100 measurements within 3%.
func (w *Workload) layerActivationBytes() (total, scores float64) {
	c := w.Arch
	if c.Family == arch.BERT {
		return w.bertLayerActivationBytes()
	}
	h := float64(c.Dim)
	qd := float64(c.Heads * c.HeadSize())
	kvd := float64(c.KVHeads * c.HeadSize())
	f := float64(c.HiddenDim)
	cdt := float64(w.Compute.Bytes())
	sdt := float64(w.Storage.Bytes())
	if w.quantized() {
		sdt = cdt // quantised models run their stream in the compute type
	}
	ab := float64(w.adapterBytes())
	trainBase := w.FullTraining()
	t := w.targets()
	autocast := sdt != cdt
	adapter := func(in float64) float64 {
		if w.LoRADropout > 0 {
			return in * (ab + 1)
		}
		if ab == sdt {
			return 0 // the cast is a no-op: the input is shared
		}
		return in * ab
	}
	linearInputs := func(in float64, n int) float64 {
		if !trainBase {
			return 0
		}
		if autocast {
			return float64(n) * in * cdt
		}
		return in * cdt
	}

	// RMSNorm saves its fp32 input, and the normalised output when the
	// scale is trained (transformers: in the storage format). torchtune's
	// norm keeps that output in fp32; compiled (torchtune's compile: True),
	// the layer saves only the norm's input in the compute format and
	// recomputes the rest, as AOTAutograd's partitioner does for pointwise
	// work (torchtune's README: compile cuts Llama 3.2 3B's peak by 9 GiB).
	norm := 4 * h
	if trainBase {
		norm += sdt * h
	}
	if w.Engine == EngineTorchtune {
		switch {
		case w.Compiled:
			norm = cdt * h
		case trainBase:
			norm = 8 * h
		}
	}
	var b float64
	// input RMSNorm
	b += norm
	b += linearInputs(h, 3)
	sharedIn := false
	for _, m := range []string{"q_proj", "k_proj", "v_proj"} {
		if t[m] {
			a := adapter(h)
			if a == 0 {
				if !sharedIn && !trainBase {
					b += h * sdt
				}
				sharedIn = true
			}
			b += a
		}
	}
	// attention: q, k, v after rotary embedding, and the output.
	switch w.Attention {
	case Eager:
		// repeat_kv expands k and v to every head before the matmuls.
		b += cdt * (qd + 2*qd + qd)
		cast := 0.0
		if cdt != 4 {
			cast = cdt
		}
		scores = float64(c.Heads) * float64(w.Seq) * (4 + cast)
		b += scores
	case SDPA:
		// The Hugging Face SDPA path repeats grouped k and v to every
		// head before the kernel (repeat_kv copies), so they are saved at
		// full width; measured on TinyLlama's 32/4 heads.
		b += cdt*(qd+2*qd+qd) + 4*float64(c.Heads)
	default:
		b += cdt*(qd+2*kvd+qd) + 4*float64(c.Heads) // + log-sum-exp
	}
	if t["o_proj"] {
		b += adapter(qd)
	}
	// post-attention RMSNorm.
	b += norm
	if c.Gated() {
		b += linearInputs(h, 2)
		b += 3 * cdt * f // gate (activation input), activation output, up
	} else {
		b += linearInputs(h, 1)
		b += 2 * cdt * f
	}
	if trainBase {
		b += cdt * f // the product, input of down_proj
	}
	for _, m := range []string{"gate_proj", "up_proj"} {
		if t[m] {
			b += adapter(h)
		}
	}
	if t["down_proj"] {
		b += adapter(f)
	}
	return b, scores
}

// bertLayerActivationBytes is Korthikanti et al.'s per-layer count for a
// post-norm encoder with GELU, dropout 0.1 and eager attention, sbh(34 +
// 5as/h) bytes in 16-bit, written per saved tensor so that other formats
// scale the values and keep the one-byte dropout masks: in fp32 it is
// 66h + 9as bytes per token.
func (w *Workload) bertLayerActivationBytes() (total, scores float64) {
	c := w.Arch
	h := float64(c.Dim)
	f := float64(c.HiddenDim)
	e := float64(w.Compute.Bytes())
	as := float64(c.Heads) * float64(w.Seq)
	// attention: input, q, k, v, context, LayerNorm input (6 h-sized
	// tensors) and the output dropout mask; softmax output, its dropout
	// mask and dropout output per score.
	attn := 6*h*e + h
	scores = 2*as*e + as
	// MLP: input, GELU input, GELU output, dropout mask, LayerNorm input.
	mlp := h*e + 2*f*e + h + h*e
	return attn + scores + mlp, scores
}

// activations returns the bytes kept for the backward pass under the
// checkpointing policy, for tokens = batch·seq on one device.
func (w *Workload) activations() (kept, perLayer float64) {
	c := w.Arch
	tokens := float64(w.Batch) * float64(w.Seq)
	layer, scores := w.layerActivationBytes()
	L := float64(c.Layers)
	sdt := float64(w.Storage.Bytes())
	if w.quantized() {
		sdt = float64(w.Compute.Bytes())
	}
	boundary := tokens * float64(c.Dim) * sdt // a checkpointed layer keeps its input
	switch w.Checkpointing {
	case CheckpointFull:
		return L*boundary + tokens*layer, tokens * layer
	case CheckpointEvery:
		k := w.CheckpointEvery
		n := float64((c.Layers + k - 1) / k)
		return n*boundary + (L-n)*tokens*layer + tokens*layer, tokens * layer
	case CheckpointSelective:
		// Recompute the attention scores (Korthikanti §4.2) and the MLP
		// activation output.
		sel := layer - scores - float64(w.Compute.Bytes())*float64(c.HiddenDim)
		return L * tokens * sel, tokens * sel
	}
	return L * tokens * layer, tokens * layer
}

// Memory predicts the peak memory of one device running the workload.
func (w *Workload) Memory(dev Device) Memory {
	if w.Mode == Inference {
		return w.inferenceMemory(dev)
	}
	return w.trainingMemory(dev)
}

func (w *Workload) trainingMemory(dev Device) Memory {
	if dev.CPU != nil && !dev.GPU && w.Arch.Family != arch.BERT {
		return w.cpuTrainingMemory(dev)
	}
	c := w.Arch
	nd := int64(w.devices())
	qw, ow := w.weightBytes()
	weights := qw + ow
	trainable := w.TrainableParams()
	pb := int64(w.Storage.Bytes()) // trained parameters' format
	if w.AdapterTraining() {
		pb = w.adapterBytes()
	}
	var adapters int64
	if w.AdapterTraining() {
		adapters = trainable * pb
	}
	grads := trainable * pb
	var state int64
	switch w.Optimizer {
	case AdamW:
		state = 2 * trainable * pb // exp_avg and exp_avg_sq in the parameter's format
	case AdamW8bit, PagedAdamW8bit:
		state = 2 * trainable // two 8-bit moments (block scales are <1%)
	case SGD, Lion:
		state = trainable * pb
	}
	var paged int64
	if w.Optimizer == PagedAdamW8bit && !w.CPUOffload {
		// bitsandbytes allocates the state of tensors of 1e5 elements or
		// more in CUDA managed memory (bitsandbytes/optim/optimizer.py,
		// get_state_buffer): outside PyTorch's allocator, paged to host
		// memory when the device runs short.
		paged = 2 * w.pagedStateElements()
		if w.Sharding == ZeRO2 || w.Sharding == ZeRO3 {
			paged /= nd
		}
	}
	stepTemp := trainable * pb // foreach AdamW's sqrt(v) temporary; measured
	if w.Optimizer == SGD || w.Optimizer == Lion || w.fusedAdamW() {
		stepTemp = 0
	}
	// ZeRO (Rajbhandari et al. §5): stage 2 partitions gradients and
	// optimizer state, stage 3 the parameters too.
	switch w.Sharding {
	case ZeRO2:
		grads, state, stepTemp = grads/nd, state/nd, stepTemp/nd
	case ZeRO3:
		grads, state, stepTemp = grads/nd, state/nd, stepTemp/nd
		weights, adapters = weights/nd, adapters/nd
		// one layer's parameters are gathered at a time
		weights += (qw + ow) / int64(max(c.Layers, 1)) / nd * (nd - 1)
	}
	var cache int64
	sdt, cdt := w.Storage.Bytes(), w.Compute.Bytes()
	if sdt != cdt && !w.quantized() {
		// autocast keeps a compute-format copy of every linear weight from
		// forward to backward
		for _, m := range c.Modules() {
			if m.Kind == arch.Linear {
				cache += m.Params() * int64(cdt)
			}
		}
	}
	if w.Sharding == ZeRO3 {
		cache /= nd // parameters are gathered (and cast) a layer at a time
	}
	kept, perLayer := w.activations()
	tokens := float64(w.Batch) * float64(w.Seq)
	lb := w.logitBytes(tokens)
	actNote := "kept for the backward pass (checkpointing " + w.ckptName() + ", attention " + w.Attention.String() + ")"
	var acts int64
	if w.Engine == EngineTorchtune && w.Checkpointing == CheckpointFull {
		// torchtune's recipe computes the loss and frees the logits
		// (del logits, then the chunked loss's backward) before backward
		// recomputes the first layer, so the recomputed layer's working
		// set and the logits are never alive together. Offloading keeps
		// about two layer inputs on the device, the rest in host memory.
		bounds := kept - perLayer
		if w.ActivationOffload {
			bounds = min(bounds, 2*bounds/float64(max(w.Arch.Layers, 1)))
		}
		acts = sat(bounds + max(0, perLayer-lb))
		actNote = "layer inputs kept for the recomputation, and the part of one recomputed layer beyond the freed logits (checkpointing full, attention " + w.Attention.String() + ")"
	} else {
		acts = sat(w.offloadedActivations(kept, perLayer))
	}
	logits := sat(lb)
	if w.CPUOffload {
		// state and gradients live in host memory; with ZeRO-3 the
		// parameters too, gathered a layer at a time
		state, grads, stepTemp = 0, 0, 0
		if w.Sharding == ZeRO3 {
			weights = (qw + ow) / int64(max(c.Layers, 1))
		}
	}
	if w.OptimizerInBackward && w.FullTraining() && !w.CPUOffload {
		// each parameter steps and frees its gradient in backward: at most
		// the largest matrix's gradient and temporaries are alive
		var largest int64
		for _, m := range c.Modules() {
			largest = max(largest, int64(m.In)*int64(m.Out))
		}
		grads, stepTemp = min(grads, largest*pb), min(stepTemp, largest*pb)
	}

	static := []Component{
		{Name: "weights", Bytes: weights, Note: w.weightNote()},
	}
	if adapters > 0 {
		static = append(static, Component{Name: "adapters", Bytes: adapters, Note: "LoRA A and B matrices"})
	}
	if s := state - paged; s > 0 {
		static = append(static, Component{Name: "optimizer_state", Bytes: s, Note: w.Optimizer.String() + " moments"})
	}
	backward := append([]Component{}, static...)
	if cache > 0 {
		backward = append(backward, Component{Name: "autocast_cache", Bytes: cache, Note: "compute-format copies of the linear weights"})
	}
	backward = append(backward,
		Component{Name: "activations", Bytes: acts, Note: actNote},
		Component{Name: "logits", Bytes: logits, Note: w.logitNote()})
	step := append([]Component{}, static...)
	step = append(step, Component{Name: "gradients", Bytes: grads})
	if stepTemp > 0 {
		step = append(step, Component{Name: "optimizer_step", Bytes: stepTemp, Note: "temporaries of the fused update"})
	}
	// Gradients of the trained parameters exist at the end of backward too.
	backward = append(backward, Component{Name: "gradients", Bytes: 0, Note: "accumulate as activations are freed"})
	if w.OptimizerInBackward && w.FullTraining() && !w.CPUOffload {
		backward[len(backward)-1] = Component{Name: "gradients", Bytes: grads + stepTemp, Note: "one parameter's gradient and update at a time (optimizer in backward)"}
		step = static
	}

	comps, phase := backward, "backward"
	if sum(step) > sum(backward) {
		comps, phase = step, "optimizer step"
	}
	comps = dropZero(comps)
	var floor float64
	if w.Checkpointing != CheckpointNone {
		floor = perLayer
	}
	s := sum(static)
	reserve := reserveBytes(sum(comps), sum(backward), sum(backward)-s, sum(step), sum(step)-s, floor, w.freshGradientBytes(pb))
	m := finish(comps, reserve, phase, dev)
	m.PagedBytes = min(paged, state)
	return m
}

func (w *Workload) inferenceMemory(dev Device) Memory {
	if dev.CPU != nil && !dev.GPU && w.Arch.Family != arch.BERT {
		return w.cpuMemory(dev)
	}
	c := w.Arch
	qw, ow := w.weightBytes()
	cdt := float64(w.Compute.Bytes())
	tokens := float64(w.Batch) * float64(w.Seq)
	ctx := w.Seq + w.NewTokens
	if c.MaxSeq > 0 && ctx > c.MaxSeq {
		ctx = c.MaxSeq
	}
	comps := []Component{{Name: "weights", Bytes: qw + ow, Note: w.weightNote()}}
	if w.KVCache && c.Family != arch.BERT {
		kv := *w
		kv.Batch = max(w.Batch, w.CacheBatch)
		comps = append(comps, Component{Name: "kv_cache", Bytes: kv.KVCacheBytes(ctx),
			Note: "2 · layers · kv_heads · head_dim · context · batch"})
	}
	// Prefill transients: one layer's intermediate tensors while the
	// layers run, then the prompt's logits; the larger sets the peak
	// (measured: the sum overestimates by the smaller).
	f := float64(c.HiddenDim)
	wf := tokens * (3*f + 4*float64(c.Dim)) * cdt
	if w.Attention == Eager {
		wf += float64(w.Batch) * float64(c.Heads) * float64(w.Seq) * float64(w.Seq) * (4 + cdt)
	}
	work, logits := sat(wf), sat(tokens*float64(c.Vocab)*cdt)
	if logits >= work {
		comps = append(comps, Component{Name: "logits", Bytes: logits, Note: "prompt logits (more than one layer's intermediates)"})
	} else {
		comps = append(comps, Component{Name: "workspace", Bytes: work, Note: "one layer's intermediate tensors during prefill (more than the logits)"})
	}
	return finish(comps, sat(float64(max(work, logits))*FragmentationFraction), "prefill", dev)
}

// KVCacheBytes returns the key/value cache for ctx positions:
// 2 · layers · kv_heads · head_dim · ctx · batch · bytes (Pope et al.,
// "Efficiently Scaling Transformer Inference", §2).
func (w *Workload) KVCacheBytes(ctx int) int64 {
	c := w.Arch
	return sat(2 * float64(c.Layers) * float64(c.KVHeads) * float64(c.HeadSize()) * float64(ctx) * float64(w.Batch) * float64(w.Compute.Bytes()))
}

// MaxBytes caps every component: inputs beyond any machine (a batch of
// 65,536 sequences of 16M tokens) saturate instead of overflowing, so a
// sum of components stays positive and never "fits".
const MaxBytes = 1 << 58

// sat converts a byte count to int64, saturating at MaxBytes.
func sat(x float64) int64 {
	if !(x < MaxBytes) { // also NaN
		return MaxBytes
	}
	if x < 0 {
		return 0
	}
	return int64(x)
}

// finish totals the peak's components and, on a GPU, adds the caching
// allocator's reserve (reserveBytes) and the CUDA context.
func finish(comps []Component, reserve int64, phase string, dev Device) Memory {
	m := Memory{Components: comps, Phase: phase}
	m.Allocated = sum(comps)
	if dev.GPU {
		m.Components = append(m.Components,
			Component{Name: "allocator_reserve", Bytes: reserve, Note: "blocks the caching allocator holds beyond live tensors (rounding, split blocks, gradients that fit no freed block)"},
			Component{Name: "cuda_context", Bytes: dev.ContextBytes, Note: "CUDA context and framework kernels"})
	}
	m.Components = dropZero(m.Components)
	m.Total = sum(m.Components)
	return m
}

func (w *Workload) weightNote() string {
	if w.StoredWeightBytes > 0 {
		return "as stored in the model file"
	}
	if w.quantized() {
		return "linear layers " + w.Quant.Type.String() + ", the rest " + w.Storage.String()
	}
	return w.Storage.String()
}

func (w *Workload) ckptName() string {
	if w.Checkpointing == CheckpointEvery {
		return "every(" + itoa(w.CheckpointEvery) + ")"
	}
	return w.Checkpointing.String()
}

func sum(cs []Component) int64 {
	var n int64
	for _, c := range cs {
		n += c.Bytes
	}
	return n
}

func dropZero(cs []Component) []Component {
	out := cs[:0:0]
	for _, c := range cs {
		if c.Bytes > 0 {
			out = append(out, c)
		}
	}
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// WeightBytes returns the memory of the base model's parameters in their
// stored (possibly quantised) formats.
func (w *Workload) WeightBytes() int64 {
	q, o := w.weightBytes()
	return q + o
}

// ActivationBytes returns the activations kept for the backward pass on
// one device under the workload's checkpointing policy.
func (w *Workload) ActivationBytes() int64 {
	kept, _ := w.activations()
	return sat(kept)
}

// pagedStateElements returns the trained elements whose optimizer state
// bitsandbytes pages: those of tensors with at least 1e5 elements (every
// weight matrix; LoRA matrices of rank·width ≥ 1e5).
func (w *Workload) pagedStateElements() int64 {
	var n int64
	switch {
	case w.FullTraining():
		for _, m := range w.Arch.Modules() {
			if m.Size >= 100_000 {
				n += m.Params()
			}
		}
	case w.AdapterTraining():
		t := w.targets()
		r := int64(w.LoRARank)
		for _, m := range w.Arch.Modules() {
			if m.Kind != arch.Linear || !t[m.Name] {
				continue
			}
			for _, e := range []int64{r * int64(m.In), r * int64(m.Out)} {
				if e >= 100_000 {
					n += e * int64(m.Count)
				}
			}
		}
	}
	return n
}
