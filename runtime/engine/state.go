package engine

import (
	"math"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// state is what the stateful ops of one engine share: the position of the
// first row of the current call, the rotary tables and the KV cache. The
// engine sets start before each run; ops read it while running.
type state struct {
	start    int
	maxSeq   int
	heads    int
	kvHeads  int
	headSize int
	cached   bool
	// cos and sin hold, for each position p and pair i, the rotary angle
	// p·θ^(-2i/headSize), computed in float32 as llama2.c does.
	cos, sin []float32
	// keys and vals are each layer's cache, [maxSeq, kvHeads·headSize].
	keys, vals [][]float32
	// exec runs the attention kernels.
	exec kernels.Exec
}

func newState(maxSeq, layers, heads, kvHeads, headSize int, theta float64, cached bool) *state {
	st := &state{maxSeq: maxSeq, heads: heads, kvHeads: kvHeads, headSize: headSize, cached: cached}
	half := headSize / 2
	st.cos = make([]float32, maxSeq*half)
	st.sin = make([]float32, maxSeq*half)
	for i := range half {
		freq := 1 / float32(math.Pow(theta, float64(float32(2*i)/float32(headSize))))
		for p := range maxSeq {
			val := float32(p) * freq
			st.cos[p*half+i] = float32(math.Cos(float64(val)))
			st.sin[p*half+i] = float32(math.Sin(float64(val)))
		}
	}
	if cached {
		kvd := kvHeads * headSize
		st.keys = make([][]float32, layers)
		st.vals = make([][]float32, layers)
		for l := range layers {
			st.keys[l] = make([]float32, maxSeq*kvd)
			st.vals[l] = make([]float32, maxSeq*kvd)
		}
	}
	return st
}
