package cost

import (
	"fmt"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/stdlib/attention"
	"github.com/modelwhisperer/whisperc/stdlib/training"
)

// Mode says whether a workload runs the model or trains it. Which
// fine-tuning method trains it is Workload.Method: training.Method, the
// one enum of methods. The zero value is invalid.
type Mode int

// The modes.
const (
	ModeInvalid Mode = iota
	// Inference runs prefill and decoding; nothing is trained.
	Inference
	// Train trains the model by Workload.Method: every parameter (full), or
	// adapters on a frozen base, quantised or not (lora, qlora).
	Train
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case Inference:
		return "inference"
	case Train:
		return "train"
	}
	return "invalid"
}

// Checkpointing is the activation-recomputation policy: the one enum of
// checkpointing modes, training.Checkpointing. Every(k) carries its k in a
// separate field of Workload (CheckpointEvery).
type Checkpointing = training.Checkpointing

// The policies.
const (
	CheckpointInvalid   = training.CheckpointInvalid
	CheckpointNone      = training.CheckpointNone
	CheckpointFull      = training.CheckpointFull
	CheckpointEvery     = training.CheckpointEvery
	CheckpointSelective = training.CheckpointSelective
)

// Attention is the attention kernel: the one enum of attention kernels,
// attention.Kernel. The zero value is invalid; a workload never holds
// attention.Auto (the planner resolves it).
type Attention = attention.Kernel

// The kernels.
const (
	AttentionInvalid = attention.Invalid
	// Eager materialises the seq×seq scores (softmax kept in fp32).
	Eager = attention.Eager
	// SDPA is a fused memory-efficient kernel: O(seq) memory.
	SDPA = attention.SDPA
	// Flash2 is FlashAttention-2: O(seq) memory, fastest on CC ≥ 8.0.
	Flash2 = attention.Flash2
)

// Optimizer is the training optimizer: the one enum of optimizers,
// training.Optimizer. The zero value is invalid.
type Optimizer = training.Optimizer

// The optimizers.
const (
	OptimizerInvalid = training.OptimizerInvalid
	AdamW            = training.AdamW
	AdamW8bit        = training.AdamW8bit
	PagedAdamW8bit   = training.PagedAdamW8bit
	SGD              = training.SGD
	Lion             = training.Lion
)

// Sharding is how training state is split across data-parallel devices.
type Sharding int

// The strategies (ZeRO paper §5 stages; FSDP full sharding is stage 3).
const (
	ShardingInvalid Sharding = iota
	DDP
	ZeRO2
	ZeRO3
)

// String returns the strategy's name.
func (s Sharding) String() string {
	switch s {
	case DDP:
		return "ddp"
	case ZeRO2:
		return "zero2"
	case ZeRO3:
		return "zero3"
	}
	return "invalid"
}

// Workload is everything the model needs to know about one stage.
type Workload struct {
	Arch arch.Config
	Mode Mode
	// Method is how a Train workload trains (invalid for Inference). LoRA
	// and QLoRA cost alike here: the base's format is Quant's.
	Method training.Method

	// Storage is the format of the unquantised parameters as they sit in
	// memory: bf16 for a bf16 model, fp32 for fp32 master weights under
	// mixed precision (autocast).
	Storage DType
	// Compute is the matrix-multiplication format (bf16 or fp16 under mixed
	// precision, fp32 otherwise); activations are stored in it.
	Compute DType
	// Quant quantises the linear layers (Type 0 or Storage: none). Only
	// per-layer linear layers are quantised, as bitsandbytes does.
	Quant Quant
	// HeadQuant is the classifier's format when it is quantised too (Type
	// 0 keeps it in Storage): llama.cpp stores the output matrix in Q6_K
	// or Q8_0, and whisperc's CPU plans use Q8_0 under any quantisation. A
	// tied classifier is then a quantised copy of the embedding matrix,
	// which stays in Storage for row lookups.
	HeadQuant Quant
	// StoredWeightBytes, when positive, is the measured size of the stored
	// weights (a GGUF file's tensors, whatever mix of block types they
	// use); it replaces the count from Quant and Storage.
	StoredWeightBytes int64
	// FileBytes is the size of the model file the CPU runtime maps (its
	// pages count in the process's resident memory once read); 0 when
	// unknown.
	FileBytes int64
	// CompileMode is the CPU runtime's compile mode, which sets its
	// per-step costs; the zero value counts as none.
	CompileMode compiler.CompileMode
	// StepLayerSeconds and StepHeadSeconds, when set, are the CPU
	// runtime's measured decode step on this shape (one layer, and the
	// rest) at context position StepPosition; the decode prediction then
	// uses them instead of the streaming rates. StepPositionSeconds, when
	// set, is how much one layer's step grows per position of context
	// (the attention over the KV cache), measured on the same shape.
	StepLayerSeconds, StepHeadSeconds, StepPositionSeconds float64
	// StepLayers is how many layers the model whose steps were timed had
	// (MeasuredStep.Layers): a step timed on all the shape's layers needs
	// no correction for the caches; 0 is taken as three.
	StepLayers int
	// StepRounds and StepSpread say how steady that measurement was: the
	// rounds of steps timed, and how far apart their medians were
	// (largest minus smallest over the median).
	StepRounds int
	StepSpread float64
	// TokenizerFileBytes is the size of the tokenizer file the CPU runtime
	// loads onto its heap; 0 when unknown.
	TokenizerFileBytes int64
	// DataFileBytes is the size of a training stage's local dataset file,
	// which the CPU trainer tokenises onto its heap; 0 when unknown.
	DataFileBytes int64

	// LoRA adapters (AdapterTraining): rank, the module names adapted, their
	// dropout and the adapters' own format (peft keeps them in fp32).
	LoRARank    int
	LoRATargets []string
	LoRADropout float64
	AdapterType DType

	Optimizer       Optimizer
	Checkpointing   Checkpointing
	CheckpointEvery int // k of every(k)
	Attention       Attention

	Batch int // sequences per device per micro-step
	Seq   int // tokens per sequence (the prompt, for inference)
	// NewTokens is the number of tokens decoded after the prompt
	// (inference); KVCache keeps keys and values between steps.
	NewTokens int
	KVCache   bool
	// CacheBatch, when larger than Batch, sizes the KV cache for that many
	// concurrent sequences while prefill runs Batch at a time (a server
	// holds max_batch conversations and prefills one chunk at a time).
	CacheBatch int

	Devices  int
	Sharding Sharding

	// Engine is the training engine whose choices the model follows
	// (unset: Hugging Face, the engine of the measurements).
	Engine Engine
	// LossChunks > 1 computes the output projection and the loss's fp32
	// cast over that many chunks of the sequence (torchtune's
	// CEWithChunkedOutputLoss); CompiledLoss reports whether the loss is
	// compiled, which fuses the log-softmax so its fp32 output is not kept.
	LossChunks   int
	CompiledLoss bool
	// Compiled reports whether the GPU engine compiles the model
	// (torch.compile: TrainingArguments' torch_compile, torchtune's
	// compile), which sets the time model's engine terms.
	Compiled bool
	// ActivationOffload moves the tensors saved for backward to host
	// memory as they are made, prefetching them back in backward.
	ActivationOffload bool
	// OptimizerInBackward applies the optimizer to each parameter as soon
	// as its gradient is ready and frees the gradient (full fine-tuning):
	// no step phase with every gradient alive.
	OptimizerInBackward bool
	// CPUOffload keeps the optimizer state and gradients, and with ZeRO-3
	// the sharded parameters, in host memory (FSDP cpu_offload, DeepSpeed
	// offload_optimizer/offload_param); the device holds one layer's
	// gathered parameters.
	CPUOffload bool
}

// Validate returns a description of the first field that makes the
// workload unusable, or nil.
func (w *Workload) Validate() error {
	if msg := w.Arch.Validate(); msg != "" {
		return fmt.Errorf("architecture %q: %s", w.Arch.Name, msg)
	}
	switch {
	case w.Mode == ModeInvalid:
		return fmt.Errorf("mode not set")
	case w.Mode == Train && w.Method == training.MethodInvalid:
		return fmt.Errorf("training without a method")
	case w.Mode == Inference && w.Method != training.MethodInvalid:
		return fmt.Errorf("inference with a training method (%s)", w.Method)
	case w.Storage.Bytes() == 0 || w.Compute.Bytes() == 0:
		return fmt.Errorf("storage (%s) and compute (%s) must be plain formats", w.Storage, w.Compute)
	case w.Batch <= 0 || w.Seq <= 0:
		return fmt.Errorf("batch %d and sequence length %d must be positive", w.Batch, w.Seq)
	case w.Mode != Inference && w.Optimizer == OptimizerInvalid:
		return fmt.Errorf("training without an optimizer")
	case w.AdapterTraining() && (w.LoRARank <= 0 || len(w.LoRATargets) == 0):
		return fmt.Errorf("LoRA needs a positive rank and at least one target module")
	case w.Checkpointing == CheckpointEvery && w.CheckpointEvery <= 0:
		return fmt.Errorf("every(k) needs k ≥ 1")
	case w.NewTokens < 0 || w.Devices < 0:
		return fmt.Errorf("negative token or device count")
	}
	return nil
}

func (w *Workload) devices() int {
	if w.Devices < 1 {
		return 1
	}
	return w.Devices
}

func (w *Workload) quantized() bool { return w.Quant.Type.Quantized() || w.Quant.Type == BF16 }

// headQuantized reports whether the classifier is stored in HeadQuant.
func (w *Workload) headQuantized() bool { return w.HeadQuant.Type.Quantized() }

// headBytes returns the classifier's bytes in HeadQuant (0 when it is not
// quantised).
func (w *Workload) headBytes() int64 {
	if !w.headQuantized() {
		return 0
	}
	q := w.HeadQuant
	q.Rows = w.Arch.Vocab
	return q.Bytes(int64(w.Arch.Dim), int64(w.Arch.Vocab))
}

func (w *Workload) adapterBytes() int64 {
	if b := w.AdapterType.Bytes(); b > 0 {
		return int64(b)
	}
	return 4
}

// FullTraining reports whether the workload trains every parameter.
func (w *Workload) FullTraining() bool { return w.Mode == Train && w.Method == training.Full }

// AdapterTraining reports whether the workload trains LoRA adapters on a
// frozen base (lora or qlora).
func (w *Workload) AdapterTraining() bool { return w.Mode == Train && w.Method.Adapters() }

// targets returns the LoRA target set.
func (w *Workload) targets() map[string]bool {
	t := map[string]bool{}
	if !w.AdapterTraining() {
		return t
	}
	for _, n := range w.LoRATargets {
		t[n] = true
	}
	return t
}

// TrainableParams returns the number of trained parameters: every
// parameter for full fine-tuning, rank·(in+out) per adapted module and
// layer for LoRA (Hu et al. §4.1), none for inference.
func (w *Workload) TrainableParams() int64 {
	switch {
	case w.FullTraining():
		return w.Arch.Params()
	case w.AdapterTraining():
		var n int64
		t := w.targets()
		for _, m := range w.Arch.Modules() {
			if m.Kind == arch.Linear && t[m.Name] {
				n += int64(w.LoRARank) * int64(m.In+m.Out) * int64(m.Count)
			}
		}
		return n
	}
	return 0
}

// MeasuredStep is the CPU runtime's decode step measured on one model
// shape (see Workload.StepLayerSeconds): one layer's and the rest's
// seconds at position StepPosition, a layer's growth per position, and
// how steady the measurement was.
type MeasuredStep struct {
	Layer, Head, Position float64
	// Layers is how many layers the larger timed model had (all the
	// shape's when it fit the calibration's budget); 0 is unknown, taken
	// as three.
	Layers int
	// Rounds is how many rounds of steps were timed; Spread how far apart
	// their steps were, relative to the median.
	Rounds int
	Spread float64
}
