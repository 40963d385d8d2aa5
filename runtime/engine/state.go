package engine

import (
	"fmt"
	"math"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// state is what the stateful ops of one engine share: the position of the
// first row of the current call, the rotary tables and the KV cache. The
// engine sets start before each run and grows the tables and the cache to
// the positions the run reaches (ensure); ops read them while running.
//
// Tables and cache grow on demand, doubling, up to maxSeq, so that a model
// header claiming an enormous context costs nothing until those positions
// are used.
type state struct {
	start    int
	maxSeq   int
	layers   int
	heads    int
	kvHeads  int
	headSize int
	theta    float64
	cached   bool
	// whole is set when the caller chose the context (Options.Context):
	// the first use then allocates the tables and the cache for all of
	// it, where the model's own context grows by doubling.
	whole bool
	// cos and sin hold, for each position p so far and pair i, the rotary
	// angle p·θ^(-2i/headSize), computed in float32 as llama2.c does.
	cos, sin []float32
	// keys and vals are each layer's cache, [positions, kvHeads·headSize],
	// in mem (outside the Go heap; see offHeap).
	keys, vals [][]float32
	mem        *offHeap
	// exec runs the attention kernels.
	exec kernels.Exec
	// scores holds a decode step's attention probabilities for the next
	// step (kernels.AttnShape.Scores); one engine's layers run in turn.
	scores []float32
	// passScores holds a prefill's probabilities from one layer to the
	// next; Engine.Forward drops it when the pass ends.
	passScores []float32
	// batch, during a ForwardBatch call, holds its sequences: the call's
	// rows are theirs in order, each at its own positions in its own
	// cache; rowPos is the position of every row. Both are nil otherwise,
	// and the rows are at start, start+1, ... in the engine's own cache.
	batch  []segment
	rowPos []int
	// runs counts the graph runs (Forward and ForwardBatch calls), so
	// that a linearGroup computes its products once per run.
	runs uint64
}

// segment is one sequence's rows in a ForwardBatch call.
type segment struct {
	rows, pos  int
	keys, vals [][]float32 // [layers][positions·kvHeads·headSize]
	logits     bool        // the last row's logits are wanted
}

// position returns the position of row r of the current call.
func (st *state) position(r int) int {
	if st.batch != nil {
		return st.rowPos[r]
	}
	return st.start + r
}

func newState(maxSeq, layers, heads, kvHeads, headSize int, theta float64, cached bool) *state {
	st := &state{maxSeq: maxSeq, layers: layers, heads: heads, kvHeads: kvHeads, headSize: headSize, theta: theta, cached: cached}
	if cached {
		st.keys = make([][]float32, layers)
		st.vals = make([][]float32, layers)
	}
	return st
}

// positions returns how many positions the tables cover.
func (st *state) positions() int { return len(st.cos) / (st.headSize / 2) }

// ensure grows the rotary tables and the KV cache to cover n positions.
func (st *state) ensure(n int) error {
	return st.grow(n, st.cached)
}

// grow grows the rotary tables, and the engine's own KV cache when cache
// is set, to cover n positions.
func (st *state) grow(n int, cache bool) error {
	if n > st.maxSeq {
		return fmt.Errorf("engine: position %d is beyond the context of %d", n-1, st.maxSeq)
	}
	have := st.positions()
	if n <= have && (!cache || len(st.keys[0]) >= have*st.kvHeads*st.headSize) {
		return nil
	}
	want := min(max(n, 2*have, 64), st.maxSeq)
	if st.whole {
		// Growing by doubling would leave each smaller cache behind as
		// garbage, up to the final cache's size again until the collector
		// runs: 14 MiB more at the peak of a 110M run of 201 positions.
		want = st.maxSeq
	}
	half := st.headSize / 2
	cos := make([]float32, want*half)
	sin := make([]float32, want*half)
	copy(cos, st.cos)
	copy(sin, st.sin)
	for i := range half {
		freq := 1 / float32(math.Pow(st.theta, float64(float32(2*i)/float32(st.headSize))))
		for p := have; p < want; p++ {
			val := float32(p) * freq
			cos[p*half+i] = float32(math.Cos(float64(val)))
			sin[p*half+i] = float32(math.Sin(float64(val)))
		}
	}
	st.cos, st.sin = cos, sin
	if cache {
		kvd := st.kvHeads * st.headSize
		for l := range st.layers {
			k := st.mem.floats(want * kvd)
			v := st.mem.floats(want * kvd)
			copy(k, st.keys[l])
			copy(v, st.vals[l])
			st.mem.release(st.keys[l])
			st.mem.release(st.vals[l])
			st.keys[l], st.vals[l] = k, v
		}
	}
	return nil
}
