package runtime

import (
	"fmt"
	goruntime "runtime"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// llamaTensors maps the planner's per-layer module names to the tensor
// names (after "layers.N.") the engine reads.
var llamaTensors = map[string]string{
	"q_proj":    "attention.wq.weight",
	"k_proj":    "attention.wk.weight",
	"v_proj":    "attention.wv.weight",
	"o_proj":    "attention.wo.weight",
	"gate_proj": "feed_forward.w1.weight",
	"up_proj":   "feed_forward.w3.weight",
	"down_proj": "feed_forward.w2.weight",
}

// EngineOptions builds the engine's options for an inference stage from
// every node of its lowered graph, checked against the architecture c of
// the model the stage loaded: each layer's attention kernel and
// checkpoint flag, each linear's module, kernel, stored and compute
// formats, block size, double quantisation, shape, trainable flag and
// adapter, the embedding and the classifier, the KV cache's layout, the
// compile mode and the compute format. It returns an error, and runs
// nothing, for any node the engine would not execute exactly as written:
// nothing is remapped. Only the thread count is the runtime's own: every
// CPU the Go runtime may use.
func EngineOptions(g *planner.Graph, c arch.Config) (engine.Options, error) {
	o := engine.Options{Threads: goruntime.GOMAXPROCS(0), Weights: map[string]engine.Weight{}}
	if g.Architecture != c.Name {
		return o, fmt.Errorf("the graph was lowered for architecture %q but the model is %q", g.Architecture, c.Name)
	}
	if g.Compute != cost.FP32 {
		return o, fmt.Errorf("the graph computes in %s, but the CPU runtime computes in fp32 only", g.Compute)
	}
	switch g.Compile {
	case compiler.CompileNone, compiler.CompileDefault, compiler.CompileReduceOverhead, compiler.CompileMaxAutotune:
		o.Compile = g.Compile
	default:
		return o, fmt.Errorf("compile mode %s is not one the runtime executes", g.Compile)
	}
	if len(g.Layers) != c.Layers {
		return o, fmt.Errorf("the graph has %d layers but the model has %d", len(g.Layers), c.Layers)
	}
	modules := map[string]arch.Module{}
	for _, m := range c.Modules() {
		if m.Kind == arch.Linear && m.PerLayer {
			modules[m.Name] = m
		}
	}
	for i, l := range g.Layers {
		if l.Index != i {
			return o, fmt.Errorf("layer %d of the graph has index %d", i, l.Index)
		}
		if l.Checkpoint || l.RecomputeAttention {
			return o, fmt.Errorf("layer %d is a checkpoint boundary or recomputes its attention, which only a backward pass does; an inference stage runs none", i)
		}
		switch l.Attention {
		case cost.Eager, cost.Flash2:
		case cost.SDPA:
			return o, fmt.Errorf("layer %d asks for the sdpa kernel, a GPU kernel; a CPU plan writes flash2, the tiled kernel the CPU runs for sdpa", i)
		default:
			return o, fmt.Errorf("layer %d's attention kernel %s is not one the runtime executes (eager or flash2)", i, l.Attention)
		}
		o.LayerAttention = append(o.LayerAttention, l.Attention)
		seen := map[string]bool{}
		for _, ln := range l.Linears {
			m, ok := modules[ln.Module]
			tensor, known := llamaTensors[ln.Module]
			if !ok || !known {
				return o, fmt.Errorf("layer %d has a linear %q, which %s has not", i, ln.Module, c.Name)
			}
			if seen[ln.Module] {
				return o, fmt.Errorf("layer %d lists linear %s twice", i, ln.Module)
			}
			seen[ln.Module] = true
			w, err := weightOf(ln, m.In, m.Out)
			if err != nil {
				return o, fmt.Errorf("layer %d, %s: %w", i, ln.Module, err)
			}
			o.Weights[fmt.Sprintf("layers.%d.%s", i, tensor)] = w
		}
		if len(seen) != len(modules) {
			return o, fmt.Errorf("layer %d lists %d linear layers, but the model's blocks have %d", i, len(seen), len(modules))
		}
	}
	e := g.Embedding
	switch {
	case e.Module != "embed_tokens" || e.Kernel != planner.KernelGather:
		return o, fmt.Errorf("the embedding is %s applied by %s; the runtime looks up embed_tokens rows (gather)", e.Module, e.Kernel)
	case e.Weight != cost.FP32 && !e.Weight.GGML() || e.Compute != cost.FP32 || e.BlockSize != 0 || e.DoubleQuant:
		return o, fmt.Errorf("the embedding is stored as %s and computed in %s; the runtime keeps token embeddings in fp32 or as a GGUF file stores them", e.Weight, e.Compute)
	case e.In != c.Vocab || e.Out != c.Dim:
		return o, fmt.Errorf("the embedding is %d×%d but the model's is %d×%d", e.In, e.Out, c.Vocab, c.Dim)
	case e.Trainable || e.Adapter != nil:
		return o, fmt.Errorf("the embedding is trainable or adapted, which an inference stage does not do")
	}
	if g.Head.Module != "lm_head" {
		return o, fmt.Errorf("the classifier is %q; the runtime's is lm_head", g.Head.Module)
	}
	w, err := weightOf(g.Head, c.Dim, c.Vocab)
	if err != nil {
		return o, fmt.Errorf("lm_head: %w", err)
	}
	o.Weights["output.weight"] = w
	if kv := g.KVCache; kv != nil {
		bytes := 2 * int64(c.Layers) * int64(c.KVHeads) * int64(c.HeadSize()) * int64(kv.Context) * int64(kv.Batch) * 4
		switch {
		case kv.Layers != c.Layers || kv.KVHeads != c.KVHeads || kv.HeadDim != c.HeadSize():
			return o, fmt.Errorf("the KV cache is laid out for %d layers of %d×%d, but the model has %d layers of %d×%d",
				kv.Layers, kv.KVHeads, kv.HeadDim, c.Layers, c.KVHeads, c.HeadSize())
		case kv.Batch != 1:
			return o, fmt.Errorf("the KV cache holds a batch of %d; the runtime generates one sequence", kv.Batch)
		case kv.Context < 1 || kv.Context > c.MaxSeq:
			return o, fmt.Errorf("the KV cache holds %d positions; the model accepts 1 to %d", kv.Context, c.MaxSeq)
		case kv.Format != cost.FP32:
			return o, fmt.Errorf("the KV cache is in %s; the runtime keeps it in fp32", kv.Format)
		case !kv.Static:
			return o, fmt.Errorf("the KV cache is not static, but the runtime preallocates it for its whole context")
		case kv.Bytes != bytes:
			return o, fmt.Errorf("the KV cache is said to take %d bytes, but %d positions take %d", kv.Bytes, kv.Context, bytes)
		}
		o.KVCache, o.Context = true, kv.Context
	}
	return o, nil
}

// weightOf checks one linear of an inference graph, shaped in×out, and
// returns how the engine stores it.
func weightOf(ln planner.Linear, in, out int) (engine.Weight, error) {
	if ln.In != in || ln.Out != out {
		return engine.Weight{}, fmt.Errorf("it is %d×%d in the graph but %d×%d in the model", ln.In, ln.Out, in, out)
	}
	if ln.Compute != cost.FP32 {
		return engine.Weight{}, fmt.Errorf("it computes in %s; the CPU runtime computes in fp32", ln.Compute)
	}
	if ln.Trainable || ln.Adapter != nil {
		return engine.Weight{}, fmt.Errorf("it is trainable or has an adapter, which an inference stage does not execute (adapters are merged by training first)")
	}
	switch ln.Kernel {
	case planner.KernelMatMul:
		if ln.Weight != cost.FP32 || ln.BlockSize != 0 || ln.DoubleQuant {
			return engine.Weight{}, fmt.Errorf("it is a dense %s weight; the CPU runtime holds dense weights in fp32", ln.Weight)
		}
		return engine.Weight{Format: engine.QuantizeNone}, nil
	case planner.KernelQuantMatMul:
		switch ln.Weight {
		case cost.NF4, cost.FP4:
			if ln.BlockSize != 64 {
				return engine.Weight{}, fmt.Errorf("%s blocks of %d weights; the CPU kernels use 64", ln.Weight, ln.BlockSize)
			}
			return engine.Weight{Format: ln.Weight, DoubleQuant: ln.DoubleQuant}, nil
		case cost.BF16:
			if ln.BlockSize != 0 || ln.DoubleQuant {
				return engine.Weight{}, fmt.Errorf("bf16 weights have no blocks or double quantisation")
			}
			return engine.Weight{Format: engine.QuantizeBF16}, nil
		}
		if ln.Weight.GGML() {
			if ln.BlockSize != 0 || ln.DoubleQuant {
				return engine.Weight{}, fmt.Errorf("%s has fixed GGML blocks: no block size or double quantisation", ln.Weight)
			}
			return engine.Weight{Format: ln.Weight}, nil
		}
		return engine.Weight{}, fmt.Errorf("weight format %s has no CPU kernel (nf4, fp4, bf16, q8_0, and GGML's block formats as a GGUF file stores them, have)", ln.Weight)
	}
	return engine.Weight{}, fmt.Errorf("kernel %s does not apply a linear layer", ln.Kernel)
}

// storedFormat returns the format the runtime holds a tensor of dtype d
// in when it runs it as stored: GGML block formats as they are, every
// other dtype decoded to fp32.
func storedFormat(d weights.DType) cost.DType {
	if d.GGML() {
		return d // one enum: the stored dtype is the kernel's format
	}
	return cost.FP32
}

// checkStored refuses a graph whose formats the engine would not honour
// for the tensors of ws: a GGML block format it names must be how the
// file stores the tensor (the engine cannot produce one), and a tensor the
// file stores in a block format runs as stored, so the graph must not say
// fp32 for it. nf4, fp4, q8_0 and bf16 are quantised from whatever is
// stored (bf16: a bf16 fine-tune's checkpoint, kept in bf16).
func checkStored(g *planner.Graph, o engine.Options, ws *weights.Set) error {
	check := func(name string, want cost.DType) error {
		t, err := ws.Get(name)
		if err != nil {
			return err
		}
		have := storedFormat(t.DType)
		switch {
		case want == cost.NF4 || want == cost.FP4 || want == cost.Q8_0 || want == cost.BF16:
			return nil
		case want != have:
			return fmt.Errorf("the graph holds %s as %s but the model file stores it as %s, which the runtime runs as stored", name, want, have)
		}
		return nil
	}
	for name, w := range o.Weights {
		if name == "output.weight" && ws.Config.Tied {
			name = "tok_embeddings.weight"
		}
		if err := check(name, w.Format); err != nil {
			return err
		}
	}
	return check("tok_embeddings.weight", g.Embedding.Weight)
}
