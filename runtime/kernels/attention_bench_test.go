package kernels

import (
	"fmt"
	"testing"
)

// BenchmarkAttention compares the kernels on a training-length causal
// sequence (llama2.c 15M: 6 heads of 48) and on one decode step against a
// long cache. Allocated bytes per op show eager's O(s²) scores.
func BenchmarkAttention(b *testing.B) {
	for _, s := range []AttnShape{
		{N: 127, Heads: 6, KVHeads: 6, HeadDim: 48}, // a 15M prefill
		{N: 256, Heads: 6, KVHeads: 6, HeadDim: 48},
		{N: 1024, Heads: 6, KVHeads: 6, HeadDim: 48},
		{N: 1, Pos: 1023, Heads: 6, KVHeads: 6, HeadDim: 48},
	} {
		q := randVec(1, s.N*s.Heads*s.HeadDim, 1)
		k := randVec(2, s.Keys()*s.KVHeads*s.HeadDim, 1)
		v := randVec(3, s.Keys()*s.KVHeads*s.HeadDim, 1)
		out := make([]float32, len(q))
		lse := make([]float32, s.Heads*s.N)
		for _, c := range []struct {
			kind          AttnKernel
			name          string
			rows          bool // eager one query row at a time
			scalarSoftmax bool // softmaxInPlace's scalar form
		}{{AttnEager, "eager-rows", true, false}, {AttnEager, "eager-scalarsoftmax", false, true}, {AttnEager, "eager", false, false}, {AttnFlash2, "flash2", false, false}} {
			if c.rows && s.N < 4 {
				continue // the same kernel
			}
			b.Run(fmt.Sprintf("fwd/n=%d,pos=%d/%s", s.N, s.Pos, c.name), func(b *testing.B) {
				old, oldSoftmax := tile4, noSoftmaxAVX512
				tile4, noSoftmaxAVX512 = !c.rows, c.scalarSoftmax
				defer func() { tile4, noSoftmaxAVX512 = old, oldSoftmax }()
				b.ReportAllocs()
				defer cpuMetric(b)()
				for b.Loop() {
					_ = Exec{}.AttentionForward(c.kind, out, lse, q, k, v, s)
				}
			})
		}
		if s.Pos > 0 || s.N > 256 {
			continue
		}
		dq := make([]float32, len(q))
		dk := make([]float32, len(k))
		dv := make([]float32, len(v))
		for _, kind := range []AttnKernel{AttnEager, AttnFlash2} {
			_ = Exec{}.AttentionForward(kind, out, lse, q, k, v, s)
			b.Run(fmt.Sprintf("bwd/n=%d/%v", s.N, kind), func(b *testing.B) {
				b.ReportAllocs()
				defer cpuMetric(b)()
				for b.Loop() {
					_ = Exec{}.AttentionBackward(kind, dq, dk, dv, q, k, v, out, lse, out, s)
				}
			})
		}
	}
}
