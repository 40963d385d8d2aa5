package cost

import (
	"github.com/modelwhisperer/whisperc/planner/arch"
)

// TrainRuntimeBytes is what a training run holds beyond the process base
// and the components the plan names: the compiled pipeline and plan, the
// Gorgonia graphs' nodes and closures, and the collector's metadata. Fitted
// to the stories260K runs of planner/testdata/measured/train-cpu-*.json,
// whose named components are small.
const TrainRuntimeBytes = 10 << 20

// RecomputeOvershoot is the share of the checkpointing recomputation
// graphs' values by which the heap passes its cap: each recomputed block
// allocates fresh values (Gorgonia's own ops, the clones the block ops
// keep) while a collection runs. Fitted to the 15M runs with checkpointing
// in planner/testdata/measured/train-cpu-*.json.
const RecomputeOvershoot = 0.9

// FirstStepShare is the share of the graph's activations by which the
// heap passes its live size in the first step, which allocates them under
// the collector's default (GOGC=100) before the runtime narrows the heap's
// growth (runtime.boundHeap runs once the first step is done). Fitted to
// planner/testdata/measured/train-cpu-*.json.
const FirstStepShare = 0.25

// DataHeapFactor is the heap the CPU trainer takes per byte of a local
// dataset file: its tokenised sequences hold an int32 input, an int32
// target and a float32 loss weight per token (12 bytes), about 3 per byte
// of English text at 4 bytes per token.
const DataHeapFactor = 3

// cpuTrainingMemory predicts the peak resident memory of whisperc's own CPU
// trainer (runtime/train on runtime/engine's TrainStep), component by
// component as the runtime allocates them. The trainer runs one sequence at
// a time and adds its gradients up, so the batch does not change the graph;
// everything is fp32.
//
// Off the Go heap: the process before loading, and the model file's pages
// (an fp32 base runs in place from its mapping; a quantised base keeps only
// its unquantised tensors mapped). On the heap: the quantised copies, the
// engine's own copy of the weights that full fine-tuning trains in place,
// the LoRA adapters, the accumulated gradients, the optimizer's moments,
// the rollback state (the adapters' initial values; full fine-tuning rolls
// back to the mapped weights or a checkpoint on disk), the training
// graph's values for one sequence (activations and their gradients, the
// logits and their gradient, the per-sequence weight gradients), the
// tokenizer and the data (the backward pass multiplies by W as stored, so
// it builds no Wᵀ). Once
// the first step has allocated the graph's values, the runtime narrows the
// heap's growth to HeapHeadroom of its live size (runtime.boundHeap), as
// generation does. Measured in
// planner/testdata/measured/train-cpu-*.json (TestMeasuredCPUTrain), and
// the graph's values against TrainStep.HeldBytes in runtime/train.
func (w *Workload) cpuTrainingMemory(dev Device) Memory {
	const f32 = 4
	comps := []Component{{Name: "process", Bytes: dev.CPU.BaseBytes, Note: "Go runtime, Gorgonia and the binary, measured before loading"}}
	qw, ow := w.weightBytes()
	var heap int64
	add := func(name string, b int64, note string) {
		if b > 0 {
			comps = append(comps, Component{Name: name, Bytes: b, Note: note})
			heap += b
		}
	}
	if w.quantized() && w.StoredWeightBytes == 0 {
		comps = append(comps, Component{Name: "weights_mapped", Bytes: ow, Note: "the unquantised tensors, mapped from the file"})
		add("weights_quantized", qw, "the "+w.Quant.Type.String()+" copies of the linear weights, decoded block by block in both passes")
	} else {
		file := w.FileBytes
		if file <= 0 {
			file = qw + ow
		}
		comps = append(comps, Component{Name: "weights_mapped", Bytes: file, Note: "the model file, mapped: frozen weights run in place"})
	}
	p := w.TrainableParams()
	if w.FullTraining() {
		add("trained_copy", p*f32, "the engine's own copy of the weights trained in place (the file's stay mapped)")
	} else {
		add("adapters", p*f32, "LoRA A and B matrices")
	}
	add("gradients", p*f32, "accumulated over the step's sequences")
	var state int64
	switch w.Optimizer {
	case AdamW:
		state = 2 * p * f32
	case AdamW8bit, PagedAdamW8bit:
		state = 2*p + 2*f32*((p+2047)/2048) // 8-bit codes and a scale per block of 2048
	case SGD, Lion:
		state = p * f32
	}
	add("optimizer_state", state, w.Optimizer.String()+" moments")
	var save int64
	if w.Optimizer == AdamW8bit || w.Optimizer == PagedAdamW8bit {
		// A checkpoint stores the moments' 8-bit codes as fp32, built in
		// memory before they are written, while the graph still holds its
		// values.
		save = 2 * p * f32
	}
	if w.AdapterTraining() {
		add("rollback", p*f32, "the adapters' initial values, for a rollback before the first checkpoint")
	}
	acts, logits, gradNodes, recompute := w.cpuTrainGraph()
	add("activations", acts, "one sequence's activations and their gradients in the graph (checkpointing "+w.ckptName()+")")
	add("logits", logits, "one sequence's logits and their gradient, fp32")
	add("gradient_nodes", gradNodes, "one sequence's weight gradients in the graph, before they are added up")
	if w.TokenizerFileBytes > 0 {
		add("tokenizer", int64(TokenizerHeapFactor*float64(w.TokenizerFileBytes)), "pieces, scores and lookup tables on the heap")
	}
	add("data", DataHeapFactor*w.DataFileBytes, "the tokenised sequences: input, target and loss weight per token")
	comps = append(comps, Component{Name: "runtime", Bytes: TrainRuntimeBytes, Note: "the compiled pipeline, the plan, the graphs' nodes and the collector's metadata beyond the process base (fitted)"},
		Component{Name: "gc_headroom", Bytes: min(max(heap, minHeapGoal), HeapHeadroom(heap)),
			Note: "garbage between collections: after the first step the runtime lets the heap grow by a sixteenth of its live size (at least 16 MiB)"})
	comps = append(comps, Component{Name: "first_step", Bytes: int64(FirstStepShare * float64(acts)),
		Note: "the first step allocates the graph's values under the collector's default, before the heap's growth is narrowed (fitted)"})
	if save > 0 {
		comps = append(comps, Component{Name: "checkpoint_buffers", Bytes: save, Note: "the 8-bit moments' codes as fp32, as a checkpoint stores them, while it is written"})
	}
	if recompute > 0 {
		comps = append(comps, Component{Name: "gc_overshoot", Bytes: int64(RecomputeOvershoot * float64(recompute)),
			Note: "checkpointing recomputes each block into fresh garbage faster than a collection frees it: the heap passes its cap by a share of the recomputation graphs (fitted)"})
	}
	m := Memory{Components: comps, Phase: "backward"}
	m.Allocated = sum(comps)
	m.Components = dropZero(m.Components)
	m.Total = sum(m.Components)
	return m
}

// cpuTrainGraph returns the bytes of the values that the CPU runtime's
// training graph holds after one sequence, in three parts: activations
// and their gradients, the logits and their gradient, and the weight
// gradients. The counts are those of runtime/engine's graph, per layer and
// per LoRA adapter, in distinct tensors of [seq, width] (checked against
// TrainStep.HeldBytes for every method and checkpointing setting):
//
//   - a block that keeps its activations holds 23 [T,dim], 9 [T,hidden]
//     and 6 [T,kv_dim] tensors, and each adapter on an (in, out) weight
//     adds [T,in] + 3 [T,out] + 2 [T,rank], and 3 [T,in] more with
//     dropout (the mask's product and its gradients), besides the mask;
//   - a checkpointed block keeps 2 [T,dim] (its input and that input's
//     gradient); the recomputation runs in one shared forward graph (10
//     [T,dim] + 3 [T,hidden] + 3 [T,kv_dim], per adapter 2 [T,out] +
//     [T,rank], and [T,dim] per q, k or v adapter with dropout) and one
//     shared backward graph (26 [T,dim] + 9 [T,hidden] + 6 [T,kv_dim],
//     adapters as in a kept block, and one block's weight gradients);
//   - under selective checkpointing a block keeps 21 [T,dim], 9 [T,hidden]
//     and 4 [T,kv_dim] (the rotated q and k and their gradients are
//     recomputed), adapters as in a kept block;
//   - outside the blocks: 2 [T,vocab], and 5 [T,dim] (the embedded input,
//     the final norm and their gradients) for full fine-tuning or with
//     checkpointing; LoRA without checkpointing computes no gradient for
//     the first block's input, which saves about 2 [T,dim] per q, k or v
//     adapter with dropout (LoRA with dropout to within three [T,dim]
//     tensors, by target set).
func (w *Workload) cpuTrainGraph() (acts, logits, gradNodes, recompute int64) {
	c := w.Arch
	T := float64(w.Seq)
	d, h := float64(c.Dim), float64(c.HiddenDim)
	kv := float64(c.KVHeads * c.HeadSize())
	if c.KVHeads == 0 {
		kv = float64(c.Heads * c.HeadSize())
	}
	r := float64(w.LoRARank)
	drop := 0.0
	if w.AdapterTraining() && w.LoRADropout > 0 {
		drop = 1
	}
	var kept, fwd, bwd, masks, blockAdapters float64
	kept, fwd, bwd = 23*d+9*h+6*kv, 10*d+3*h+3*kv, 26*d+9*h+6*kv
	t := w.targets()
	qkv := 0.0
	for _, n := range []string{"q_proj", "k_proj", "v_proj"} {
		if t[n] {
			qkv++
		}
	}
	for _, m := range c.Modules() {
		if m.Kind != arch.Linear || !m.PerLayer || !t[m.Name] {
			continue
		}
		in, out := float64(m.In), float64(m.Out)
		kept += in + 3*out + 2*r + 3*in*drop
		bwd += in + 3*out + 2*r + 3*in*drop
		fwd += 2*out + r
		masks += in * drop
		blockAdapters += r * (in + out)
	}
	fwd += qkv * d * drop
	L := c.Layers
	ck := 0
	switch w.Checkpointing {
	case CheckpointFull:
		ck = L
	case CheckpointEvery:
		ck = (L + max(w.CheckpointEvery, 1) - 1) / max(w.CheckpointEvery, 1)
	case CheckpointSelective:
		// Every block is kept but for its attention core's rotated q and
		// k and their gradients, which the backward pass recomputes into
		// scratch buffers shared by the graph (runtime/engine/selective.go).
		kept -= 2*d + 2*kv
	}
	vals := float64(L-ck)*kept + float64(ck)*2*d + float64(L)*masks
	if ck > 0 {
		vals += fwd + bwd + 1 + 1/T // the block loss's gradient, [T,1] and a scalar
	}
	switch {
	case w.FullTraining() || ck > 0:
		vals += 5 * d
	default:
		vals -= 2 * qkv * drop * d
	}
	// Weight gradients: every trained tensor once; LoRA also differentiates
	// the frozen norms of the blocks it keeps (the shared backward graph's
	// one block, when checkpointed); the shared backward graph holds one
	// block's.
	g := float64(w.TrainableParams())
	block := 2 * d
	if w.FullTraining() {
		var perLayer float64
		for _, m := range c.Modules() {
			if m.PerLayer {
				perLayer += float64(m.Size)
			}
		}
		block = perLayer
	} else {
		block += blockAdapters
		g += float64(L-ck) * 2 * d
		if ck > 0 {
			g += d
		}
	}
	if ck > 0 {
		g += block
	}
	if ck > 0 {
		recompute = sat(4 * T * (fwd + bwd))
	}
	return sat(4 * T * vals), sat(4 * 2 * T * float64(c.Vocab)), sat(4 * g), recompute
}

// ActivationBytesOn returns the activations that training keeps on dev: the
// CPU runtime's graph values when dev is the CPU runtime, else what the
// GPU frameworks keep for the backward pass (ActivationBytes).
func (w *Workload) ActivationBytesOn(dev Device) int64 {
	if dev.CPU != nil && !dev.GPU && w.Arch.Family != arch.BERT {
		a, _, _, _ := w.cpuTrainGraph()
		return a
	}
	return w.ActivationBytes()
}
