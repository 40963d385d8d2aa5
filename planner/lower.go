package planner

import (
	"fmt"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
)

// lower builds the execution graph of a workload: per layer, each linear
// layer's kernel, stored and compute formats and adapter, whether the
// layer is a checkpoint boundary, and the attention kernel; the KV-cache
// layout when one is used. preallocated says the runtime allocates the
// cache for its whole context up front whatever the compile mode (the CPU
// runtime does). stored, for a GGUF model, holds the block format of each
// block-quantised tensor by GGUF name: the CPU runtime runs those as
// stored, so unless the workload quantises again the graph names them.
func lower(w cost.Workload, compile compiler.CompileMode, kv, preallocated bool, stored map[string]cost.DType) *Graph {
	c := w.Arch
	g := &Graph{Architecture: c.Name, Compile: compile, Compute: w.Compute}
	adapters := map[string]bool{}
	if w.AdapterTraining() {
		for _, t := range w.LoRATargets {
			adapters[t] = true
		}
	}
	storage := w.Storage // unquantised parameters (fp32 beside a 4-bit base under peft)
	asStored := func(l *Linear, name string) {
		if f, ok := stored[name]; ok && !w.Quant.Type.Quantized() {
			l.Weight, l.BlockSize, l.DoubleQuant = f, 0, false
			if l.Kernel != KernelGather {
				l.Kernel = KernelQuantMatMul
			}
		}
	}
	linear := func(m arch.Module, q cost.Quant) Linear {
		l := Linear{Module: m.Name, In: m.In, Out: m.Out, Compute: w.Compute, Weight: storage, Kernel: KernelMatMul}
		if q.Type.Quantized() || q.Type == cost.BF16 {
			l.Weight = q.Type
			l.Kernel = KernelQuantMatMul
			if q.Type == cost.NF4 || q.Type == cost.FP4 {
				l.BlockSize = q.BlockSize
				if l.BlockSize <= 0 {
					l.BlockSize = 64
				}
				l.DoubleQuant = q.Double
			}
		}
		l.Trainable = w.FullTraining()
		if adapters[m.Name] && m.PerLayer {
			l.Adapter = &Adapter{Rank: w.LoRARank, Alpha: 2 * float64(w.LoRARank), Dropout: w.LoRADropout, Format: cost.FP32}
		}
		return l
	}
	var perLayer []arch.Module
	for _, m := range c.Modules() {
		switch {
		case m.Kind == arch.Linear && m.PerLayer:
			perLayer = append(perLayer, m)
		case m.Name == "embed_tokens":
			g.Embedding = Linear{Module: m.Name, Kernel: KernelGather, Weight: storage, Compute: w.Compute,
				In: c.Vocab, Out: c.Dim, Trainable: w.FullTraining()}
		case m.Name == "lm_head":
			g.Head = linear(m, w.HeadQuant)
		}
	}
	if c.Tied {
		g.Head = linear(arch.Module{Name: "lm_head", Kind: arch.Linear, In: c.Dim, Out: c.Vocab}, w.HeadQuant)
		asStored(&g.Head, "token_embd.weight")
	} else {
		asStored(&g.Head, "output.weight")
	}
	asStored(&g.Embedding, "token_embd.weight")
	train := w.Mode != cost.Inference
	for i := 0; i < c.Layers; i++ {
		l := Layer{Index: i, Attention: w.Attention}
		if train {
			switch w.Checkpointing {
			case cost.CheckpointFull:
				l.Checkpoint = true
			case cost.CheckpointEvery:
				l.Checkpoint = i%max(w.CheckpointEvery, 1) == 0
			case cost.CheckpointSelective:
				l.RecomputeAttention = true
			}
		}
		for _, m := range perLayer {
			ln := linear(m, w.Quant)
			if !train {
				ln.Adapter = nil
			}
			asStored(&ln, fmt.Sprintf("blk.%d.%s.weight", i, ggufModules[m.Name]))
			l.Linears = append(l.Linears, ln)
		}
		g.Layers = append(g.Layers, l)
	}
	if kv && w.Mode == cost.Inference {
		ctx := w.Seq + w.NewTokens
		if c.MaxSeq > 0 && ctx > c.MaxSeq {
			ctx = c.MaxSeq
		}
		g.KVCache = &KVCache{Layers: c.Layers, Batch: w.Batch, KVHeads: c.KVHeads, HeadDim: c.HeadSize(), Context: ctx,
			Format: w.Compute, Bytes: w.KVCacheBytes(ctx),
			Static: preallocated || compile == compiler.CompileReduceOverhead || compile == compiler.CompileMaxAutotune}
	}
	return g
}

// ggufModules maps the planner's per-layer module names to GGUF's.
var ggufModules = map[string]string{
	"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
	"gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down",
}
