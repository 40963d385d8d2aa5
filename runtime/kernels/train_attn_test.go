package kernels

import (
	"fmt"
	"math"
	"testing"
)

// rowMajorFlash2Backward is flash2Backward as it was before the key-major
// accumulation of dK and dV (axpyRows): one Axpy per row and key.
func rowMajorFlash2Backward(e Exec, dq, dk, dv, q, k, v, out, lse, dout []float32, s AttnShape) {
	d, H, KV, G := s.HeadDim, s.Heads, s.KVHeads, s.Heads/s.KVHeads
	br, bc := e.blocks()
	scale := s.Scale()
	T := s.Keys()
	clear(dq)
	e.parallelRows(KV, 1, G*s.N*T*d, func(g0, g1 int) {
		pb := make([]float32, br*bc)
		dsb := make([]float32, br*bc)
		dd := make([]float32, br)
		for g := g0; g < g1; g++ {
			for h := g * G; h < (g+1)*G; h++ {
				for i0 := 0; i0 < s.N; i0 += br {
					i1 := min(i0+br, s.N)
					nr := i1 - i0
					for r := 0; r < nr; r++ {
						o := ((i0+r)*H + h) * d
						dd[r] = Dot(dout[o:o+d], out[o:o+d])
					}
					lastKey := s.Pos + i1 - 1
					for j0 := 0; j0 <= lastKey; j0 += bc {
						j1 := min(j0+bc, lastKey+1)
						nc := j1 - j0
						for r := 0; r < nr; r++ {
							o := ((i0+r)*H + h) * d
							qi, doi := q[o:o+d], dout[o:o+d]
							L := lse[h*s.N+i0+r]
							lim := s.Pos + i0 + r
							visible := max(0, min(nc, lim-j0+1))
							prow := pb[r*bc : r*bc+visible]
							dsrow := dsb[r*bc : r*bc+visible]
							base := (j0*KV + g) * d
							keyScores(prow, qi, k, base, KV*d, visible, scale)
							keyScores(dsrow, doi, v, base, KV*d, visible, 1)
							for c, x := range prow {
								pv := exp32(x - L)
								prow[c] = pv
								dsrow[c] = scale * pv * (dsrow[c] - dd[r])
							}
							accumulateValues(dq[o:o+d], dsrow, k, base, KV*d, visible)
							for c := range prow {
								kv := base + c*KV*d
								Axpy(dv[kv:kv+d], prow[c], doi)
								Axpy(dk[kv:kv+d], dsrow[c], qi)
							}
						}
					}
				}
			}
		}
	})
}

// TestFlash2BackwardKeyMajor checks that flash2's backward pass, which
// adds each key's rows to dK and dV in registers, gives bit for bit the
// gradients of one Axpy per row and key, on shapes with grouped heads, a
// prefix, ragged tiles and head sizes with and without a tail past the
// last eight.
func TestFlash2BackwardKeyMajor(t *testing.T) {
	for _, s := range []AttnShape{
		{N: 37, Pos: 0, Heads: 4, KVHeads: 2, HeadDim: 48},
		{N: 20, Pos: 5, Heads: 2, KVHeads: 1, HeadDim: 12},
		{N: 9, Pos: 0, Heads: 3, KVHeads: 3, HeadDim: 5},
		{N: 70, Pos: 0, Heads: 2, KVHeads: 2, HeadDim: 64},
	} {
		for _, e := range []Exec{{}, {BlockQ: 3, BlockK: 5}, {BlockQ: 8, BlockK: 16, Threads: 2}} {
			t.Run(fmt.Sprintf("%+v/%d,%d", s, e.BlockQ, e.BlockK), func(t *testing.T) {
				q := randVec(21, s.N*s.Heads*s.HeadDim, 1)
				kv := s.Keys() * s.KVHeads * s.HeadDim
				k, v := randVec(22, kv, 1), randVec(23, kv, 1)
				dout := randVec(24, len(q), 1)
				out := make([]float32, len(q))
				lse := make([]float32, s.Heads*s.N)
				if err := e.AttentionForward(AttnFlash2, out, lse, q, k, v, s); err != nil {
					t.Fatal(err)
				}
				dq, dk, dv := make([]float32, len(q)), make([]float32, kv), make([]float32, kv)
				if err := e.AttentionBackward(AttnFlash2, dq, dk, dv, q, k, v, out, lse, dout, s); err != nil {
					t.Fatal(err)
				}
				wq, wk, wv := make([]float32, len(q)), make([]float32, kv), make([]float32, kv)
				rowMajorFlash2Backward(e, wq, wk, wv, q, k, v, out, lse, dout, s)
				for _, c := range []struct {
					name      string
					got, want []float32
				}{{"dq", dq, wq}, {"dk", dk, wk}, {"dv", dv, wv}} {
					for i := range c.want {
						if math.Float32bits(c.got[i]) != math.Float32bits(c.want[i]) {
							t.Fatalf("%s[%d] = %v, row by row %v", c.name, i, c.got[i], c.want[i])
						}
					}
				}
			})
		}
	}
}
