package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// attnFixture is a state for T positions of grouped-query attention and
// random q, k, v and upstream gradient.
func attnFixture(t testing.TB, T, heads, kvHeads, hs int) (*state, []float32, []float32, []float32, []float32) {
	t.Helper()
	st := newState(T, 1, heads, kvHeads, hs, 10000, false)
	if err := st.ensure(T); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 8))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		return x
	}
	return st, fill(T * heads * hs), fill(T * kvHeads * hs), fill(T * kvHeads * hs), fill(T * heads * hs)
}

// TestFlash2BackwardMatchesRowWise holds flash2's tiled backward pass
// (3×5 tiles over 37 positions, grouped query heads), with and without
// the recomputed attention core of selective checkpointing, to the
// row-wise recomputation eager attention uses, to within fp32 rounding of
// the different summation orders.
func TestFlash2BackwardMatchesRowWise(t *testing.T) {
	const T, heads, kvHeads, hs = 37, 4, 2, 8
	for _, core := range []bool{false, true} {
		t.Run(fmt.Sprintf("core=%t", core), func(t *testing.T) {
			st, q, k, v, g := attnFixture(t, T, heads, kvHeads, hs)
			st.exec.BlockQ, st.exec.BlockK = 3, 5
			fwd := newAttention("attn", st, 0, AttentionFlash2, false)
			if core {
				fwd.core = &coreScratch{}
			}
			wrap := func(x []float32, cols int) *tensor.Dense {
				return tensor.New(tensor.WithShape(T, cols), tensor.WithBacking(append([]float32(nil), x...)))
			}
			outV, err := fwd.Do(wrap(q, heads*hs), wrap(k, kvHeads*hs), wrap(v, kvHeads*hs))
			if err != nil {
				t.Fatal(err)
			}
			out := outV.(*tensor.Dense).Float32s()
			gop := &flashGradOp{opBase: opBase{name: "attn.dqkv"}, fwd: fwd}
			dqV, err := gop.Do(wrap(q, heads*hs), wrap(k, kvHeads*hs), wrap(v, kvHeads*hs), wrap(out, heads*hs), wrap(g, heads*hs))
			if err != nil {
				t.Fatal(err)
			}
			got := [][]float32{dqV.(*tensor.Dense).Float32s(), gop.dk.Float32s(), gop.dv.Float32s()}
			// The row-wise reference on q and k rotated as the core does.
			rq, rk := q, k
			if core {
				rq, rk = make([]float32, len(q)), make([]float32, len(k))
				if err := rotate(st, rq, q, T, heads*hs, false); err != nil {
					t.Fatal(err)
				}
				if err := rotate(st, rk, k, T, kvHeads*hs, false); err != nil {
					t.Fatal(err)
				}
			}
			for which, name := range []string{"dq", "dk", "dv"} {
				want := make([]float32, len(got[which]))
				if err := attentionBackward(st, which, want, rq, rk, v, g, T); err != nil {
					t.Fatal(err)
				}
				if core && which < 2 {
					if err := rotate(st, want, want, T, len(want)/T, true); err != nil {
						t.Fatal(err)
					}
				}
				var d, m float64
				for i := range want {
					d = math.Max(d, math.Abs(float64(got[which][i]-want[i])))
					m = math.Max(m, math.Abs(float64(want[i])))
				}
				if d > 1e-5*m || m == 0 {
					t.Errorf("%s: tiled and row-wise differ by %.3g (largest %.3g)", name, d, m)
				}
			}
		})
	}
}

// BenchmarkAttentionBackward compares, for one training sequence of the
// 15M shape (6 heads of 48), the backward pass of eager attention (three
// row-wise recomputations, one per gradient) with flash2's tiled one,
// single-threaded, at 256 and 1024 positions:
//
//	go test -run '^$' -bench AttentionBackward ./runtime/engine
func BenchmarkAttentionBackward(b *testing.B) {
	const heads, hs = 6, 48
	for _, T := range []int{256, 1024} {
		st, q, k, v, g := attnFixture(b, T, heads, heads, hs)
		st.exec.Threads = 1
		b.Run(fmt.Sprintf("eager/T=%d", T), func(b *testing.B) {
			dst := [][]float32{make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))}
			for range b.N {
				for which := range 3 {
					if err := attentionBackward(st, which, dst[which], q, k, v, g, T); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run(fmt.Sprintf("flash2/T=%d", T), func(b *testing.B) {
			fwd := newAttention("attn", st, 0, AttentionFlash2, false)
			in := func(x []float32) *tensor.Dense {
				return tensor.New(tensor.WithShape(T, len(x)/T), tensor.WithBacking(x))
			}
			outV, err := fwd.Do(in(q), in(k), in(v))
			if err != nil {
				b.Fatal(err)
			}
			gop := &flashGradOp{opBase: opBase{name: "attn.dqkv"}, fwd: fwd}
			b.ResetTimer()
			for range b.N {
				if _, err := gop.Do(in(q), in(k), in(v), outV, in(g)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
