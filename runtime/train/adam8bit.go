package train

import (
	"math"
	"sort"

	"github.com/modelwhisperer/whisperc/runtime/engine"
)

// This file holds 8-bit AdamW's state: each moment is stored as one byte
// per value, block-wise quantised as in Dettmers et al., "8-bit
// Optimizers via Block-wise Quantization" (arXiv 2110.02861): values are
// cut into blocks of 2048, each block is scaled by its absolute maximum,
// and each scaled value is stored as the index of the nearest entry of a
// 256-entry dynamic tree code. The code spends its entries on magnitudes
// from 1e-6 to 1 in decades, more entries per larger decade, so that both
// the many small and the few large moments keep about the same relative
// precision. The first moment uses a signed code, the second (never
// negative) an unsigned one with twice the entries per decade. Every
// step dequantises a block, updates it in fp32 and quantises it again.

// quantBlock is the block size of the 8-bit moments.
const quantBlock = 2048

// dynamicCode returns the sorted 256 values of the dynamic tree code:
// for decade i of 7 (10^-6 … 10^0), the midpoints of 2^i (signed) or
// 2^(i+1) (unsigned) equal steps of [0.1, 1] scaled by 10^(i-6), their
// negatives when signed, then 0 and 1.
func dynamicCode(signed bool) []float32 {
	var code []float64
	for i := range 7 {
		n := 1 << (i + 1)
		if signed {
			n = 1 << i
		}
		scale := math.Pow(10, float64(i-6))
		for j := range n {
			lo := 0.1 + 0.9*float64(j)/float64(n)
			hi := 0.1 + 0.9*float64(j+1)/float64(n)
			m := scale * (lo + hi) / 2
			code = append(code, m)
			if signed {
				code = append(code, -m)
			}
		}
	}
	// Signed: 1+2+…+64 entries, doubled, are 254; unsigned: 2+4+…+128
	// are 254. With 0 and 1 each code has 256 entries.
	code = append(code, 0, 1)
	sort.Float64s(code)
	out := make([]float32, len(code))
	for i, v := range code {
		out[i] = float32(v)
	}
	return out
}

// quantMoment is one moment tensor in 8 bits.
type quantMoment struct {
	codes  []uint8
	absmax []float32 // per block
	code   []float32 // the dynamic code, sorted
}

func newQuantMoment(n int, signed bool) *quantMoment {
	return &quantMoment{codes: make([]uint8, n), absmax: make([]float32, (n+quantBlock-1)/quantBlock), code: dynamicCode(signed)}
}

// zeroIndex returns the code index of 0.
func (q *quantMoment) zeroIndex() uint8 {
	return uint8(sort.Search(len(q.code), func(i int) bool { return q.code[i] >= 0 }))
}

// init sets every value to zero.
func (q *quantMoment) init() {
	z := q.zeroIndex()
	for i := range q.codes {
		q.codes[i] = z
	}
}

// dequantize writes block b into dst.
func (q *quantMoment) dequantize(b int, dst []float32) {
	s := q.absmax[b]
	for i := range dst {
		dst[i] = q.code[q.codes[b*quantBlock+i]] * s
	}
}

// quantize stores src as block b: scaled by its absmax, each value to the
// nearest code entry.
func (q *quantMoment) quantize(b int, src []float32) {
	var m float32
	for _, v := range src {
		m = max(m, float32(math.Abs(float64(v))))
	}
	q.absmax[b] = m
	codes := q.codes[b*quantBlock : b*quantBlock+len(src)]
	if m == 0 {
		z := q.zeroIndex()
		for i := range codes {
			codes[i] = z
		}
		return
	}
	for i, v := range src {
		x := v / m
		j := sort.Search(len(q.code), func(k int) bool { return q.code[k] >= x })
		switch {
		case j == len(q.code):
			j--
		case j > 0 && x-q.code[j-1] < q.code[j]-x:
			j--
		}
		codes[i] = uint8(j)
	}
}

// adam8 is 8-bit AdamW's state for every parameter.
type adam8 struct {
	m, v []*quantMoment
}

func newAdam8(sizes []int) *adam8 {
	a := &adam8{}
	for _, n := range sizes {
		m, v := newQuantMoment(n, true), newQuantMoment(n, false)
		m.init()
		v.init()
		a.m, a.v = append(a.m, m), append(a.v, v)
	}
	return a
}

// clone returns a deep copy.
func (a *adam8) clone() *adam8 {
	if a == nil {
		return nil
	}
	c := &adam8{}
	for i := range a.m {
		m, v := *a.m[i], *a.v[i]
		m.codes, m.absmax = append([]uint8(nil), m.codes...), append([]float32(nil), m.absmax...)
		v.codes, v.absmax = append([]uint8(nil), v.codes...), append([]float32(nil), v.absmax...)
		c.m, c.v = append(c.m, &m), append(c.v, &v)
	}
	return c
}

// copyFrom copies b's values into a (same sizes).
func (a *adam8) copyFrom(b *adam8) {
	for i := range a.m {
		copy(a.m[i].codes, b.m[i].codes)
		copy(a.m[i].absmax, b.m[i].absmax)
		copy(a.v[i].codes, b.v[i].codes)
		copy(a.v[i].absmax, b.v[i].absmax)
	}
}

// update8 is AdamW's update with 8-bit moments: block by block, the
// moments are dequantised, updated exactly as AdamW's, and quantised
// again.
func update8(o Optimizer, a *adam8, step int, params []*engine.Param, lr float64) {
	bc1 := 1 - math.Pow(o.Beta1, float64(step))
	bc2 := 1 - math.Pow(o.Beta2, float64(step))
	stepSize := float32(lr / bc1)
	bc2Sqrt := float32(math.Sqrt(bc2))
	decay := float32(1 - lr*o.WeightDecay)
	b1, b2, eps := float32(o.Beta1), float32(o.Beta2), float32(o.Eps)
	m := make([]float32, quantBlock)
	v := make([]float32, quantBlock)
	for i, p := range params {
		for blk := 0; blk*quantBlock < len(p.Grad); blk++ {
			lo, hi := blk*quantBlock, min((blk+1)*quantBlock, len(p.Grad))
			mb, vb := m[:hi-lo], v[:hi-lo]
			a.m[i].dequantize(blk, mb)
			a.v[i].dequantize(blk, vb)
			for j := range mb {
				g := p.Grad[lo+j]
				if o.WeightDecay != 0 {
					p.Value[lo+j] *= decay
				}
				mb[j] = mb[j]*b1 + g*(1-b1)
				vb[j] = vb[j]*b2 + (1-b2)*g*g
				denom := float32(math.Sqrt(float64(vb[j])))/bc2Sqrt + eps
				p.Value[lo+j] += -stepSize * (mb[j] / denom)
			}
			a.m[i].quantize(blk, mb)
			a.v[i].quantize(blk, vb)
		}
	}
}
