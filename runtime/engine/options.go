// Package engine runs Llama-family models on Gorgonia: it builds the
// forward pass as one Gorgonia expression graph from a weights.Set,
// executes it with a TapeMachine under one of four compile modes, keeps a
// per-layer key/value cache, and generates text token by token.
//
// The engine decides nothing: the attention kernel, the cache, the compile
// mode, the quantisation and the thread count come from Options, which the
// planner fills in.
package engine

import "fmt"

// Attention selects the attention kernel. The zero value is invalid.
type Attention int

// The attention kernels.
const (
	AttentionInvalid Attention = iota
	// AttentionEager materialises each head's score row, then softmaxes it.
	AttentionEager
	// AttentionFlash2 streams over keys with an online softmax (running
	// maximum and sum, FlashAttention-2's recurrence) and never
	// materialises the scores.
	AttentionFlash2
)

// String returns the name the .whisper language uses.
func (a Attention) String() string {
	switch a {
	case AttentionEager:
		return "eager"
	case AttentionFlash2:
		return "flash2"
	}
	return "invalid"
}

// Compile selects how much work is done once rather than per call (ML005).
// The zero value is invalid.
type Compile int

// The compile modes, each doing everything the previous one does.
const (
	CompileInvalid Compile = iota
	// CompileNone builds the graph and its TapeMachine on every forward
	// call.
	CompileNone
	// CompileDefault builds the graph and TapeMachine once per input shape
	// and reuses them.
	CompileDefault
	// CompileReduceOverhead also fuses element-wise work into single ops
	// (RMSNorm with its scale, SwiGLU, the residual adds into the
	// projections) and has every op write into a buffer allocated once.
	CompileReduceOverhead
	// CompileMaxAutotune also searches, at start-up, the number of threads
	// and the row-block size of the matrix-vector kernel for this CPU, and
	// caches the result in the user cache directory.
	CompileMaxAutotune
)

// String returns the name the .whisper language uses.
func (c Compile) String() string {
	switch c {
	case CompileNone:
		return "none"
	case CompileDefault:
		return "default"
	case CompileReduceOverhead:
		return "reduce_overhead"
	case CompileMaxAutotune:
		return "max_autotune"
	}
	return "invalid"
}

// Quantize selects how linear-layer weights are stored while running. The
// zero value is invalid.
type Quantize int

// The quantisation choices.
const (
	QuantizeInvalid Quantize = iota
	// QuantizeNone keeps fp32 weights.
	QuantizeNone
	// QuantizeNF4 stores 4-bit NormalFloat blocks (QLoRA).
	QuantizeNF4
	// QuantizeFP4 stores 4-bit floating-point blocks.
	QuantizeFP4
	// QuantizeInt8 stores int8 rows with one scale each.
	QuantizeInt8
	// QuantizeQ8_0 stores GGML Q8_0 blocks of 32.
	QuantizeQ8_0
)

// String returns the name the .whisper language uses.
func (q Quantize) String() string {
	switch q {
	case QuantizeNone:
		return "none"
	case QuantizeNF4:
		return "nf4"
	case QuantizeFP4:
		return "fp4"
	case QuantizeInt8:
		return "int8"
	case QuantizeQ8_0:
		return "q8_0"
	}
	return "invalid"
}

// Options are the execution choices the planner made. Every enum must be
// set; DefaultOptions returns a valid starting point.
type Options struct {
	Attention Attention
	// KVCache keeps each layer's keys and values so that a decode step
	// costs the same at every position (ML004). Without it every step
	// recomputes the whole prefix.
	KVCache bool
	Compile Compile
	// Quantize is the format of the transformer blocks' linear weights.
	Quantize Quantize
	// QuantizeHead also stores the classifier in the Quantize format
	// (llama.cpp does; QLoRA keeps it in 16 bits). The token embeddings
	// always stay fp32.
	QuantizeHead bool
	// Threads is the number of goroutines a matrix product may use; 0
	// means 1. CompileMaxAutotune treats it as a budget: it times every
	// count from 1 to Threads and keeps the fastest.
	Threads int
	// Context is the number of positions the engine accepts and its KV
	// cache holds, preallocated; 0 or more than the model's context length
	// means the model's context length.
	Context int
	// CacheDir is where CompileMaxAutotune keeps its tuning results; empty
	// means os.UserCacheDir()/whisperc.
	CacheDir string
}

// DefaultOptions returns fp32, eager attention, a KV cache, the default
// compile mode and one thread.
func DefaultOptions() Options {
	return Options{Attention: AttentionEager, KVCache: true, Compile: CompileDefault, Quantize: QuantizeNone, Threads: 1}
}

// validate reports the first unset or unknown field.
func (o Options) validate() error {
	if o.Attention <= AttentionInvalid || o.Attention > AttentionFlash2 {
		return fmt.Errorf("engine: Options.Attention is %s (%d); set eager or flash2", o.Attention, int(o.Attention))
	}
	if o.Compile <= CompileInvalid || o.Compile > CompileMaxAutotune {
		return fmt.Errorf("engine: Options.Compile is %s (%d); set none, default, reduce_overhead or max_autotune", o.Compile, int(o.Compile))
	}
	if o.Quantize <= QuantizeInvalid || o.Quantize > QuantizeQ8_0 {
		return fmt.Errorf("engine: Options.Quantize is %s (%d)", o.Quantize, int(o.Quantize))
	}
	if o.Context < 0 {
		return fmt.Errorf("engine: Options.Context is %d; use 0 or more", o.Context)
	}
	if o.Threads < 0 {
		return fmt.Errorf("engine: Options.Threads is %d; use 0 or more", o.Threads)
	}
	return nil
}
