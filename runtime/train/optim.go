package train

import (
	"fmt"
	"math"
	"sync"

	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"github.com/modelwhisperer/whisperc/stdlib/training"
)

// OptimizerKind is an optimizer: the one enum of optimizers,
// training.Optimizer. The trainer runs AdamW, AdamW8bit and SGD; New
// refuses the others. The zero value is invalid.
type OptimizerKind = training.Optimizer

// The optimizers the trainer runs.
const (
	OptimizerInvalid = training.OptimizerInvalid
	// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter),
	// computed in the order of torch.optim.AdamW (PyTorch 1.13,
	// single-tensor path).
	AdamW = training.AdamW
	// SGD is stochastic gradient descent with momentum and (coupled)
	// weight decay, as torch.optim.SGD with dampening 0.
	SGD = training.SGD
	// AdamW8bit is AdamW with block-wise 8-bit moments (adam8bit.go).
	AdamW8bit = training.AdamW8bit
)

// Runs reports whether the trainer runs optimizer k; New refuses the
// others.
func Runs(k OptimizerKind) bool { return k.CPUTrainer() }

// Optimizer settings. Zero Beta1, Beta2, Eps and Momentum take the usual
// defaults (0.9, 0.999, 1e-8; momentum 0.9).
type Optimizer struct {
	Kind        OptimizerKind
	LR          float64
	WeightDecay float64
	Beta1       float64
	Beta2       float64
	Eps         float64
	Momentum    float64
}

func (o Optimizer) withDefaults() Optimizer {
	if o.Beta1 == 0 {
		o.Beta1 = 0.9
	}
	if o.Beta2 == 0 {
		o.Beta2 = 0.999
	}
	if o.Eps == 0 {
		o.Eps = 1e-8
	}
	if o.Momentum == 0 {
		o.Momentum = 0.9
	}
	return o
}

// state is the optimizer state of every parameter: Adam's two moments
// (M, V) or SGD's momentum buffer (M), in the parameters' order.
type state struct {
	Step int
	M, V [][]float32
	// Q holds 8-bit AdamW's moments instead of M and V.
	Q *adam8
}

func newState(o Optimizer, params []*engine.Param) *state {
	if o.Kind == AdamW8bit {
		var sizes []int
		for _, p := range params {
			sizes = append(sizes, p.Len())
		}
		return &state{Q: newAdam8(sizes)}
	}
	s := &state{M: make([][]float32, len(params))}
	if o.Kind == AdamW {
		s.V = make([][]float32, len(params))
	}
	for i, p := range params {
		s.M[i] = make([]float32, p.Len())
		if s.V != nil {
			s.V[i] = make([]float32, p.Len())
		}
	}
	return s
}

// update applies one optimizer step with learning rate lr to params from
// their Grad; AdamW's element-wise update is shared by threads goroutines.
func update(o Optimizer, s *state, params []*engine.Param, lr float64, threads int) error {
	s.Step++
	switch o.Kind {
	case AdamW:
		// torch.optim.AdamW (foreach=False): p ← p·(1 − lr·wd);
		// m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
		// p ← p − (lr/bc1)·m / (√v/√bc2 + eps), in float32 with scalars
		// computed in float64 as Python does.
		bc1 := 1 - math.Pow(o.Beta1, float64(s.Step))
		bc2 := 1 - math.Pow(o.Beta2, float64(s.Step))
		k := kernels.AdamWScalars{Decay: float32(1 - lr*o.WeightDecay), Beta1: float32(o.Beta1), Beta2: float32(o.Beta2),
			BC2Sqrt: float32(math.Sqrt(bc2)), Eps: float32(o.Eps), Step: float32(lr / bc1)}
		if hasBF16(params) {
			adamwBF16(params, s, &k, threads) // bf16.go
			break
		}
		adamwAll(params, s, &k, threads)
	case SGD:
		mom, wd, rate := float32(o.Momentum), float32(o.WeightDecay), float32(lr)
		for i, p := range params {
			buf := s.M[i]
			for j, g := range p.Grad {
				if wd != 0 {
					g += wd * p.Value[j]
				}
				if s.Step == 1 {
					buf[j] = g
				} else {
					buf[j] = buf[j]*mom + g
				}
				p.Value[j] += -rate * buf[j]
			}
		}
	case AdamW8bit:
		update8(o, s.Q, s.Step, params, lr)
	default:
		return fmt.Errorf("train: optimizer %s is not implemented", o.Kind)
	}
	return nil
}

// adamwAll runs kernels.AdamW over every parameter, its elements split
// into threads equal runs, each on its own goroutine: the update is
// element-wise, so the bits do not depend on the split. Below 2¹⁶
// elements (a LoRA step's adapters) one goroutine does it all.
func adamwAll(params []*engine.Param, s *state, k *kernels.AdamWScalars, threads int) {
	total := 0
	for _, p := range params {
		total += len(p.Value)
	}
	if threads <= 1 || total < 1<<16 {
		for i, p := range params {
			kernels.AdamW(p.Value, p.Grad, s.M[i], s.V[i], k)
		}
		return
	}
	chunk := ((total+threads-1)/threads + 15) &^ 15
	run := func(lo, hi int) {
		off := 0
		for i, p := range params {
			n := len(p.Value)
			a, b := max(lo-off, 0), min(hi-off, n)
			if a < b {
				kernels.AdamW(p.Value[a:b], p.Grad[a:b], s.M[i][a:b], s.V[i][a:b], k)
			}
			off += n
		}
	}
	var wg sync.WaitGroup
	for lo := chunk; lo < total; lo += chunk {
		wg.Go(func() { run(lo, min(lo+chunk, total)) })
	}
	run(0, min(chunk, total))
	wg.Wait()
}

// clipGlobalNorm scales every gradient so that their global L2 norm is at
// most maxNorm (torch.nn.utils.clip_grad_norm_: coefficient
// maxNorm/(norm+1e-6), capped at 1). It returns the norm before clipping;
// maxNorm <= 0 only measures.
func clipGlobalNorm(params []*engine.Param, maxNorm float64) float64 {
	norm := gradNorm(params)
	clipTo(params, norm, maxNorm)
	return norm
}

// gradNorm returns the global L2 norm of the gradients: per-tensor norms
// first, then the norm of the norms, as torch does. A NaN or Inf gradient
// makes it NaN or Inf (so does a finite gradient whose square overflows).
func gradNorm(params []*engine.Param) float64 {
	var total float64
	for _, p := range params {
		n := float64(float32(math.Sqrt(float64(kernels.SumSquares(p.Grad)))))
		total += n * n
	}
	return math.Sqrt(total)
}

// clipTo scales the gradients, whose global norm is norm, down to maxNorm
// as clipGlobalNorm does.
func clipTo(params []*engine.Param, norm, maxNorm float64) {
	if maxNorm <= 0 {
		return
	}
	coef := maxNorm / (norm + 1e-6)
	if coef >= 1 {
		return
	}
	c := float32(coef)
	for _, p := range params {
		kernels.Scale(p.Grad, c) // p.Grad[j] *= c, vectorised
	}
}

// finite reports whether every gradient is finite.
func finite(params []*engine.Param) bool {
	for _, p := range params {
		for _, g := range p.Grad {
			if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
				return false
			}
		}
	}
	return true
}
