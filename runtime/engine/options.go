// Package engine runs Llama-family models on Gorgonia: it builds the
// forward pass as one Gorgonia expression graph from a weights.Set,
// executes it with a TapeMachine under one of four compile modes, keeps a
// per-layer key/value cache, and generates text token by token.
//
// The engine decides nothing: the attention kernel of each layer, the
// cache, the compile mode, each linear weight's stored format and the
// thread count come from Options, which the runtime fills in from the
// planner's graph. Its enums are the planner's (one enum per concept):
// Attention is cost.Attention, Compile is compiler.CompileMode, a weight
// format is cost.DType.
package engine

import (
	"fmt"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// Attention selects the attention kernel: the planner's enum. The zero
// value is invalid; the engine executes eager and flash2 (the tiled
// kernel in runtime/kernels).
type Attention = cost.Attention

// The attention kernels the engine executes.
const (
	AttentionInvalid = cost.AttentionInvalid
	// AttentionEager materialises each head's score row, then softmaxes it.
	AttentionEager = cost.Eager
	// AttentionFlash2 streams over keys with an online softmax (running
	// maximum and sum, FlashAttention-2's recurrence) and never
	// materialises the scores.
	AttentionFlash2 = cost.Flash2
)

// Compile selects how much work is done once rather than per call (ML005):
// the language's compile mode. The zero value is invalid.
type Compile = compiler.CompileMode

// The compile modes, each doing everything the previous one does.
const (
	CompileInvalid = compiler.CompileInvalid
	// CompileNone builds the graph and its TapeMachine on every forward
	// call.
	CompileNone = compiler.CompileNone
	// CompileDefault builds the graph and TapeMachine once per input shape
	// and reuses them.
	CompileDefault = compiler.CompileDefault
	// CompileReduceOverhead also fuses element-wise work into single ops
	// (RMSNorm with its scale, SwiGLU, the residual adds into the
	// projections) and has every op write into a buffer allocated once.
	CompileReduceOverhead = compiler.CompileReduceOverhead
	// CompileMaxAutotune also searches, at start-up, the number of threads
	// and the row-block size of the matrix-vector kernel for this CPU, and
	// caches the result in the user cache directory.
	CompileMaxAutotune = compiler.CompileMaxAutotune
)

// Quantize is the stored format of linear weights while running: the
// planner's number format. The zero value is invalid.
type Quantize = cost.DType

// The formats the engine stores linear weights in.
const (
	QuantizeInvalid = cost.DTypeInvalid
	// QuantizeNone keeps fp32 weights.
	QuantizeNone = cost.FP32
	// QuantizeNF4 stores 4-bit NormalFloat blocks of 64 (QLoRA).
	QuantizeNF4 = cost.NF4
	// QuantizeFP4 stores 4-bit floating-point blocks of 64.
	QuantizeFP4 = cost.FP4
	// QuantizeQ8_0 stores GGML Q8_0 blocks of 32.
	QuantizeQ8_0 = cost.Q8_0
	// QuantizeBF16 stores bfloat16 weights, widened to fp32 row by row as
	// they multiply: half of fp32's memory, fp32 arithmetic.
	QuantizeBF16 = cost.BF16
)

// Weight is how one linear weight is stored while running.
type Weight struct {
	Format Quantize
	// DoubleQuant quantises a 4-bit format's block scales again (QLoRA §3).
	DoubleQuant bool
}

// Options are the execution choices the planner made. Every enum must be
// set; DefaultOptions returns a valid starting point.
type Options struct {
	// Attention is every layer's attention kernel, unless LayerAttention
	// names one per layer.
	Attention Attention
	// LayerAttention, when set, has one kernel per layer.
	LayerAttention []Attention
	// KVCache keeps each layer's keys and values so that a decode step
	// costs the same at every position (ML004). Without it every step
	// recomputes the whole prefix.
	KVCache bool
	Compile Compile
	// Quantize is the format of the transformer blocks' linear weights,
	// unless Weights names each weight's; QuantizeHead also stores the
	// classifier in it. 4-bit formats are double-quantised, as QLoRA does.
	Quantize     Quantize
	QuantizeHead bool
	// Weights, when set, is the stored format of each linear weight by
	// tensor name ("layers.0.attention.wq.weight", "output.weight"); it
	// must name every projection and the classifier. The token embeddings
	// always stay fp32.
	Weights map[string]Weight
	// Threads is the number of goroutines a matrix product may use; 0
	// means 1. CompileMaxAutotune treats it as a budget: it times every
	// count from 1 to Threads and keeps the fastest.
	Threads int
	// Pool, when set, is the worker pool the engine's products share
	// their rows on, instead of one of its own (an engine of more than
	// one thread otherwise starts one); it splits a product at most
	// Pool.Threads() ways. Engines that step in turn, as the planner's
	// decode-step calibration's two models do, share one so that they
	// run on the same workers as a run's single engine does.
	Pool *kernels.Pool
	// Context is the number of positions the engine accepts and its KV
	// cache holds, allocated whole by the first Forward (by New, with
	// Batch); 0 or more than the model's context length means the model's
	// context length, and then the cache grows (by doubling) as positions
	// arrive. ForwardBatch uses the caller's caches and allocates none.
	Context int
	// Batch, when more than 0, is the prompt chunk, in rows, that New
	// reserves for, as llama.cpp reserves for its batch size when it
	// creates a context: New allocates the KV cache for the chosen
	// Context and touches all of its pages (llama.cpp clears its cache),
	// and, when the compile mode keeps graphs, builds the graph of Batch
	// rows (Prepare) and, where it shares its ops' buffers
	// (reduce_overhead and up), allocates and touches those at the sizes
	// that graph needs. A first Forward of up to Batch rows then pays
	// none of that; New does, and the memory is resident from New on
	// rather than from the first Forward. It must not exceed Context.
	Batch int
	// CacheDir is where CompileMaxAutotune keeps its tuning results; empty
	// means os.UserCacheDir()/whisperc.
	CacheDir string
}

// DefaultOptions returns fp32, eager attention, a KV cache, the default
// compile mode and one thread.
func DefaultOptions() Options {
	return Options{Attention: AttentionEager, KVCache: true, Compile: CompileDefault, Quantize: QuantizeNone, Threads: 1}
}

// runsAttention reports whether the engine has a kernel for a.
func runsAttention(a Attention) bool { return a == AttentionEager || a == AttentionFlash2 }

// runsFormat reports whether the engine holds weights in q: fp32, nf4,
// fp4, bf16 and q8_0 from any stored dtype, GGML's other block formats
// only as a GGUF file stores them.
func runsFormat(q Quantize) bool {
	return q == QuantizeNone || q == QuantizeNF4 || q == QuantizeFP4 || q == QuantizeBF16 || q.GGML()
}

// validate reports the first unset or unknown field.
func (o Options) validate() error {
	if !runsAttention(o.Attention) && o.LayerAttention == nil {
		return fmt.Errorf("engine: Options.Attention is %s (%d); set eager or flash2", o.Attention, int(o.Attention))
	}
	for i, a := range o.LayerAttention {
		if !runsAttention(a) {
			return fmt.Errorf("engine: Options.LayerAttention[%d] is %s; the engine runs eager and flash2", i, a)
		}
	}
	if o.Compile <= CompileInvalid || o.Compile > CompileMaxAutotune {
		return fmt.Errorf("engine: Options.Compile is %s (%d); set none, default, reduce_overhead or max_autotune", o.Compile, int(o.Compile))
	}
	if o.Weights == nil && !runsFormat(o.Quantize) {
		return fmt.Errorf("engine: Options.Quantize is %s; the engine stores fp32, nf4, fp4 and q8_0 weights", o.Quantize)
	}
	for name, w := range o.Weights {
		if !runsFormat(w.Format) {
			return fmt.Errorf("engine: Options.Weights[%q] is %s; the engine holds fp32, nf4, fp4 and GGML block weights", name, w.Format)
		}
	}
	if o.Context < 0 {
		return fmt.Errorf("engine: Options.Context is %d; use 0 or more", o.Context)
	}
	if o.Batch < 0 {
		return fmt.Errorf("engine: Options.Batch is %d; use 0 or more", o.Batch)
	}
	if o.Threads < 0 {
		return fmt.Errorf("engine: Options.Threads is %d; use 0 or more", o.Threads)
	}
	return nil
}

// LinearNames returns the tensor names of the model's linear weights:
// every projection of every layer, then the classifier.
func LinearNames(c arch.Config) []string {
	var names []string
	for l := range c.Layers {
		p := fmt.Sprintf("layers.%d.", l)
		names = append(names, p+"attention.wq.weight", p+"attention.wk.weight", p+"attention.wv.weight", p+"attention.wo.weight",
			p+"feed_forward.w1.weight", p+"feed_forward.w2.weight", p+"feed_forward.w3.weight")
	}
	return append(names, "output.weight")
}

// perNode expands Options' uniform settings into one attention kernel
// per layer and one format per linear weight, and checks per-node
// settings against the model.
func (o *Options) perNode(c arch.Config) error {
	if o.LayerAttention == nil {
		for range c.Layers {
			o.LayerAttention = append(o.LayerAttention, o.Attention)
		}
	} else if len(o.LayerAttention) != c.Layers {
		return fmt.Errorf("engine: Options.LayerAttention has %d kernels for %d layers", len(o.LayerAttention), c.Layers)
	}
	names := LinearNames(c)
	if o.Weights == nil {
		o.Weights = map[string]Weight{}
		double := o.Quantize == QuantizeNF4 || o.Quantize == QuantizeFP4
		for _, n := range names {
			w := Weight{Format: o.Quantize, DoubleQuant: double}
			if n == "output.weight" && !o.QuantizeHead {
				w = Weight{Format: QuantizeNone}
			}
			o.Weights[n] = w
		}
		return nil
	}
	for _, n := range names {
		if _, ok := o.Weights[n]; !ok {
			return fmt.Errorf("engine: Options.Weights has no format for %s", n)
		}
	}
	if len(o.Weights) != len(names) {
		for n := range o.Weights {
			if !contains(names, n) {
				return fmt.Errorf("engine: Options.Weights names %s, which the model does not have", n)
			}
		}
	}
	return nil
}

func contains(names []string, n string) bool {
	for _, m := range names {
		if m == n {
			return true
		}
	}
	return false
}
