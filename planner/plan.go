// Package planner predicts, before a GPU-hour is spent, whether a
// pipeline fits its hardware, what each optimisation costs and saves and
// how long each stage takes, and lowers the checked program to the
// execution graph the runtime runs: stages in dependency order and, per
// model, every per-layer decision (linear kernel and format, adapters,
// checkpoint boundaries, attention kernel, KV-cache layout, compile mode),
// with `auto` resolved. The runtime decides nothing again.
package planner

import (
	"fmt"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner/cost"
)

// FormatVersion is the version of the plan JSON document. It changes when
// a field changes meaning or disappears; added fields keep it.
const FormatVersion = "2"

// Plan is the planner's result: what will execute where, and what it
// costs. It is also the saved-plan document (`whisperc plan -out`).
type Plan struct {
	FormatVersion string     `json:"format_version"`
	Pipeline      string     `json:"pipeline"`
	Target        TargetInfo `json:"target"`
	// Model is the first stage's base model; Models lists every model.
	Model  *ModelInfo  `json:"model,omitempty"`
	Models []ModelInfo `json:"models"`
	Stages []Stage     `json:"stages"`
	// Fits reports whether every stage fits its devices' memory.
	Fits bool `json:"fits"`
	// Summary is the one-line verdict.
	Summary     string           `json:"summary"`
	Diagnostics diag.Diagnostics `json:"diagnostics"`
	// Saved is filled by Save: what the plan was made from.
	Saved *Provenance `json:"saved,omitempty"`
}

// TargetInfo describes the devices planned for.
type TargetInfo struct {
	Name              string             `json:"name"`
	Description       string             `json:"description,omitempty"`
	Source            string             `json:"source"`
	Count             int                `json:"count"`
	GPU               bool               `json:"gpu"`
	MemoryBytes       int64              `json:"memory_bytes"`
	BandwidthBytes    float64            `json:"bandwidth_bytes_per_s"`
	ComputeCapability float64            `json:"compute_capability,omitempty"`
	BF16              bool               `json:"bf16"`
	FP8               bool               `json:"fp8"`
	PeakTFLOPS        map[string]float64 `json:"peak_tflops"`
}

// ModelInfo describes one model's architecture.
type ModelInfo struct {
	Name         string `json:"name"`
	Source       string `json:"source"`
	Architecture string `json:"architecture"`
	Family       string `json:"family"`
	Params       int64  `json:"params"`
	Layers       int    `json:"layers"`
	Hidden       int    `json:"hidden"`
	Heads        int    `json:"heads"`
	KVHeads      int    `json:"kv_heads"`
	HeadDim      int    `json:"head_dim"`
	FFN          int    `json:"ffn"`
	Vocab        int    `json:"vocab"`
	Context      int    `json:"context"`
	Tied         bool   `json:"tied"`
	// Approximation says how the shapes approximate the model, when they do.
	Approximation string `json:"approximation,omitempty"`
	// Resolved reports whether the architecture is known; without it the
	// plan has no memory or time for the model's stages.
	Resolved bool `json:"resolved"`
}

// StageKind says what a stage does. The zero value is invalid.
type StageKind string

// The stage kinds, in the order a pipeline runs them.
const (
	StageLoad     StageKind = "load"
	StageQuantize StageKind = "quantize"
	StageAdapters StageKind = "attach_adapters"
	StageTrain    StageKind = "train"
	StageEvaluate StageKind = "evaluate"
	StageExport   StageKind = "export"
	StageGenerate StageKind = "generate"
	StageServe    StageKind = "serve"
)

// Stage is one step of the execution, in dependency order.
type Stage struct {
	// ID is unique in the plan: "load.base", "train.sft".
	ID   string    `json:"id"`
	Kind StageKind `json:"kind"`
	// Decl is the declaration the stage comes from.
	Decl string `json:"decl"`
	// Model is the model the stage works on.
	Model string `json:"model"`
	// After lists the stage IDs that must finish first.
	After     []string   `json:"after,omitempty"`
	Decisions []Decision `json:"decisions"`
	// Quantize is what a quantize stage stores the model's linear weights
	// as; nil for other stages.
	Quantize *Quantization `json:"quantize,omitempty"`
	// Graph is the lowered model the stage executes (train, evaluate,
	// generate, serve).
	Graph *Graph `json:"graph,omitempty"`
	// Memory is the peak of each device (devices are symmetric).
	Memory *DeviceMemory `json:"memory,omitempty"`
	Time   *StageTime    `json:"time,omitempty"`
}

// Quantization is a quantize stage's format: the format of the per-layer
// linear weights, and for the 4-bit formats their block size and whether
// the block scales are quantised again.
type Quantization struct {
	Format      cost.DType `json:"format"`
	BlockSize   int        `json:"block_size,omitempty"`
	DoubleQuant bool       `json:"double_quant,omitempty"`
}

// Decision is one choice the planner made, with the rule that decided it
// and what it saves or costs.
type Decision struct {
	// What is decided: "checkpointing", "attention", "precision", ...
	What string `json:"what"`
	// Choice is the resolved value: "full", "flash2", "bf16".
	Choice string `json:"choice"`
	// Requested is what the program asked for, when it differs ("auto").
	Requested string `json:"requested,omitempty"`
	// Rule is the ML or P code behind the decision.
	Rule string `json:"rule,omitempty"`
	// Effect says what it saves or costs, with numbers:
	// "activations 24.3 GiB → 1.1 GiB, +50% compute".
	Effect string `json:"effect,omitempty"`
	// SavesBytes is the memory saved per device (negative: costs).
	SavesBytes int64 `json:"saves_bytes,omitempty"`
	// ExtraCompute is the added compute as a fraction (0.33: +33%).
	ExtraCompute float64 `json:"extra_compute,omitempty"`
}

// DeviceMemory is one device's predicted peak against its capacity.
type DeviceMemory struct {
	Devices       int              `json:"devices"`
	TotalBytes    int64            `json:"total_bytes"`
	CapacityBytes int64            `json:"capacity_bytes"`
	Fits          bool             `json:"fits"`
	Phase         string           `json:"phase"`
	Components    []cost.Component `json:"components"`
	// AllocatedBytes is what the framework's tensors hold at the peak
	// (torch.cuda.max_memory_allocated); ReservedBytes adds the caching
	// allocator's reserve (torch.cuda.max_memory_reserved); TotalBytes adds
	// the CUDA context to that: what nvidia-smi shows.
	AllocatedBytes int64 `json:"allocated_bytes,omitempty"`
	ReservedBytes  int64 `json:"reserved_bytes,omitempty"`
}

// StageTime is the predicted duration of a stage.
type StageTime struct {
	// StepSeconds is one optimizer step (train), the prefill (generate).
	StepSeconds float64 `json:"step_seconds"`
	Steps       int64   `json:"steps,omitempty"`
	// TokensPerSecond is the throughput over all devices.
	TokensPerSecond float64 `json:"tokens_per_second"`
	// Seconds is the whole stage, when the amount of work is known.
	Seconds float64 `json:"seconds,omitempty"`
	// Assumption states the efficiency assumed: "MFU 25%".
	Assumption string `json:"assumption"`
	Bound      string `json:"bound"`
	// DecodeLayerSeconds and DecodeHeadSeconds are the CPU runtime's decode
	// step measured on this shape at plan time (one layer, and the rest),
	// and DecodePositionSeconds how much a layer's step grows per position
	// of context, from which a CPU plan predicts decode; zero when not
	// measured.
	DecodeLayerSeconds    float64 `json:"decode_layer_seconds,omitempty"`
	DecodeHeadSeconds     float64 `json:"decode_head_seconds,omitempty"`
	DecodePositionSeconds float64 `json:"decode_position_seconds,omitempty"`
	// DecodeLayers is how many layers the model whose steps were timed
	// had (all the shape's, or three for a shape too large to time whole).
	DecodeLayers int `json:"decode_layers,omitempty"`
	// DecodeRounds is how many rounds of steps that measurement timed, and
	// DecodeSpread how far apart their medians were (relative); above
	// cost.StepNoisy the Assumption says the machine looked noisy.
	DecodeRounds int     `json:"decode_rounds,omitempty"`
	DecodeSpread float64 `json:"decode_spread,omitempty"`
	// Serving is a CPU server's predicted aggregate decode rate by the
	// number of sequences decoding together, from the server's batched
	// steps measured at plan time (serve stages only; TokensPerSecond is
	// the last, at max_batch).
	Serving []ServeRate `json:"serving,omitempty"`
	// ServeSteps are the CPU server's batched steps measured at plan time
	// (runtime.MeasureServe) that Serving was predicted from, at
	// ServePosition, the sequences' assumed position, kept so that the
	// prediction can be recomputed (planner/cost's TestMeasuredServe).
	ServeSteps    *cost.MeasuredServe `json:"serve_steps,omitempty"`
	ServePosition int                 `json:"serve_position,omitempty"`
}

// ServeRate is a server's predicted aggregate decode rate with Sequences
// sequences decoding together.
type ServeRate struct {
	Sequences       int     `json:"sequences"`
	TokensPerSecond float64 `json:"tokens_per_second"`
}

// Graph is the lowered model: what the runtime executes, layer by layer.
// Every field is typed and every field is consumed: the runtime builds its
// engine from each node or refuses the graph (runtime's graph test fails
// when a field is added here that the runtime does not read).
type Graph struct {
	// Architecture is the model's architecture name; the runtime refuses a
	// graph lowered for another architecture than the model it loads.
	Architecture string  `json:"architecture"`
	Layers       []Layer `json:"layers"`
	// Embedding and Head describe the linear layers outside the blocks.
	Embedding Linear `json:"embedding"`
	Head      Linear `json:"head"`
	// KVCache is the cache layout, nil without a cache.
	KVCache *KVCache `json:"kv_cache,omitempty"`
	// Compile is the resolved compile mode.
	Compile compiler.CompileMode `json:"compile"`
	// Compute is the activation and matmul format.
	Compute cost.DType `json:"compute"`
}

// Layer is one transformer block.
type Layer struct {
	Index int `json:"index"`
	// Checkpoint reports whether the block's activations are recomputed in
	// the backward pass (its input is kept).
	Checkpoint bool `json:"checkpoint"`
	// RecomputeAttention reports whether the attention core (rotary
	// embedding, scores, softmax, the weighted sum) is recomputed in the
	// backward pass from the kept q, k and v projections: selective
	// checkpointing (Korthikanti et al.).
	RecomputeAttention bool           `json:"recompute_attention,omitempty"`
	Attention          cost.Attention `json:"attention"`
	Linears            []Linear       `json:"linears"`
}

// Kernel is how a linear layer is applied. The zero value is invalid.
type Kernel int

// The kernels.
const (
	KernelInvalid Kernel = iota
	// KernelGather looks rows up (token embeddings).
	KernelGather
	// KernelMatMul multiplies by a dense (fp32, fp16 or bf16) weight.
	KernelMatMul
	// KernelQuantMatMul multiplies by block-quantised weights in their
	// stored format (Linear.Weight names it), dequantising block by block.
	KernelQuantMatMul
)

var kernelNames = [...]string{"invalid", "gather", "matmul", "quant_matmul"}

// String returns the kernel's name.
func (k Kernel) String() string {
	if k < 0 || int(k) >= len(kernelNames) {
		return "invalid"
	}
	return kernelNames[k]
}

// MarshalText renders the kernel by name.
func (k Kernel) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses a kernel name.
func (k *Kernel) UnmarshalText(b []byte) error {
	for i, n := range kernelNames {
		if i > 0 && n == string(b) {
			*k = Kernel(i)
			return nil
		}
	}
	return fmt.Errorf("unknown kernel %q (want gather, matmul or quant_matmul)", b)
}

// Linear is one weight matrix and how it is applied.
type Linear struct {
	Module string `json:"module"`
	Kernel Kernel `json:"kernel"`
	// Weight is the stored format, Compute the multiplication format.
	Weight  cost.DType `json:"weight"`
	Compute cost.DType `json:"compute"`
	// BlockSize is the number of weights per scale of a 4-bit format
	// (nf4, fp4), and DoubleQuant whether those scales are quantised again
	// (QLoRA §3); both are zero for other formats.
	BlockSize   int  `json:"block_size,omitempty"`
	DoubleQuant bool `json:"double_quant,omitempty"`
	In          int  `json:"in,omitempty"`
	Out         int  `json:"out,omitempty"`
	// Trainable reports whether the base weight is updated.
	Trainable bool     `json:"trainable,omitempty"`
	Adapter   *Adapter `json:"adapter,omitempty"`
}

// Adapter is a LoRA adapter attached to a linear layer.
type Adapter struct {
	Rank    int        `json:"rank"`
	Alpha   float64    `json:"alpha"`
	Dropout float64    `json:"dropout"`
	Format  cost.DType `json:"format"`
	// RSLoRA scales the update by Alpha/√Rank instead of Alpha/Rank.
	RSLoRA bool `json:"rslora,omitempty"`
}

// KVCache is the key/value cache layout: [layers][2][batch][kv_heads]
// [context][head_dim], preallocated to Context positions.
type KVCache struct {
	Layers  int        `json:"layers"`
	Batch   int        `json:"batch"`
	KVHeads int        `json:"kv_heads"`
	HeadDim int        `json:"head_dim"`
	Context int        `json:"context"`
	Format  cost.DType `json:"format"`
	Bytes   int64      `json:"bytes"`
	// Static reports whether the cache is preallocated at full context
	// (static shapes for compiled decoding).
	Static bool `json:"static"`
}

// Provenance is what a saved plan was made from, to tell when it is stale.
type Provenance struct {
	HardwareFingerprint string            `json:"hardware_fingerprint,omitempty"`
	Variables           map[string]string `json:"variables,omitempty"`
	// Inputs are the .whisper files, Models the local model files and
	// Tokenizers the tokenizer files of local models, each with its
	// sha256. In a saved file, relative paths are relative to the plan
	// file's directory (Load makes them usable from anywhere).
	Inputs     []FileHash `json:"inputs"`
	Models     []FileHash `json:"models,omitempty"`
	Tokenizers []FileHash `json:"tokenizers,omitempty"`
}

// FileHash is a file and the sha256 of its content.
type FileHash struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Stage returns the stage with the given ID, or nil.
func (p *Plan) Stage(id string) *Stage {
	for i := range p.Stages {
		if p.Stages[i].ID == id {
			return &p.Stages[i]
		}
	}
	return nil
}

// Decision returns the stage's decision about what, or nil.
func (s *Stage) Decision(what string) *Decision {
	for i := range s.Decisions {
		if s.Decisions[i].What == what {
			return &s.Decisions[i]
		}
	}
	return nil
}
