package train

import (
	"sync"

	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// Full fine-tuning in bf16 (Config.BF16), the semantics of torchtune's
// bf16 full fine-tune with fp32 accumulation: the block linear weights
// are stored in bf16 (2 bytes each; engine.Param.BF16) and widened to fp32
// for every product, so the forward and backward passes compute in fp32;
// the gradients are fp32, AdamW's two moments are fp32, and the update of
// each weight is computed in fp32 from its widened value, exactly as the
// fp32 AdamW computes it, then rounded to bf16 to nearest, ties to even.
// The embeddings (tied to the classifier) and the norm gains stay fp32 and
// update as in an fp32 run, as the engine's bf16 storage keeps them.
// Bit for bit this equals PyTorch running an AdamW step on p.float() and
// copying the result back into a bfloat16 p.

// bf16Chunk is the number of weights widened, updated and rounded at a
// time: a float32 scratch of 16 KiB per goroutine.
const bf16Chunk = 4096

// hasBF16 reports whether any param is stored in bf16.
func hasBF16(params []*engine.Param) bool {
	for _, p := range params {
		if p.BF16 != nil {
			return true
		}
	}
	return false
}

// adamwBF16 is adamwAll for params of which some are stored in bf16: each
// bf16 param is updated a chunk at a time (widen, kernels.AdamW, round),
// the fp32 ones as adamwAll does. The chunks are spread over threads
// goroutines; the update is element-wise, so the bits do not depend on
// the split.
func adamwBF16(params []*engine.Param, s *state, k *kernels.AdamWScalars, threads int) {
	type job struct{ i, lo, hi int }
	var jobs []job
	for i, p := range params {
		for lo := 0; lo < p.Len(); lo += bf16Chunk {
			jobs = append(jobs, job{i, lo, min(lo+bf16Chunk, p.Len())})
		}
	}
	run := func(first, step int) {
		w := make([]float32, bf16Chunk)
		for j := first; j < len(jobs); j += step {
			jb := jobs[j]
			p := params[jb.i]
			g, m, v := p.Grad[jb.lo:jb.hi], s.M[jb.i][jb.lo:jb.hi], s.V[jb.i][jb.lo:jb.hi]
			if p.BF16 == nil {
				kernels.AdamW(p.Value[jb.lo:jb.hi], g, m, v, k)
				continue
			}
			x, bits := w[:jb.hi-jb.lo], p.BF16[2*jb.lo:2*jb.hi]
			kernels.WidenBF16(x, bits)
			kernels.AdamW(x, g, m, v, k)
			kernels.RoundBF16(bits, x)
		}
	}
	threads = max(1, min(threads, len(jobs)))
	var wg sync.WaitGroup
	for t := 1; t < threads; t++ {
		wg.Go(func() { run(t, threads) })
	}
	run(0, threads)
	wg.Wait()
}
