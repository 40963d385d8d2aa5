package kernels

import (
	"encoding/binary"
	"math"
	"sync"
	"unsafe"
)

// The integer-dot path. Rather than decode every weight to float, a
// product quantises its activation vector once to signed bytes (per
// 32-value block for Q8_0, Q4_0, Q5_0 and NF4/FP4; per 256-value block with
// 16-value sums for the K-quants) and multiplies the integer codes of the
// weights with them by VPDPBUSD/VPMADDUBSW, scaling each block's integer sum
// once. The activation's rounding (at most half a step of its block's
// scale, amax/127) is the only numerical difference from the float kernels;
// TestIntDotBound checks the kernels against that bound.

// act8 is an activation vector quantised for the integer-dot kernels.
type act8 struct {
	q []int8    // the codes, in the kernel's order
	d []float32 // the scale of each block of 32 (act32) or 256 (act256) values
	// bias holds 8 int32 lanes per 32-value block, lane l being -k times
	// the sum of codes 4l..4l+3: the kernels start each block's VPDPBUSD
	// lanes from it, which removes the offset k that makes the weight codes
	// unsigned lane by lane, so no lane holds a large value that only
	// cancels after conversion to float.
	bias []int32
	s16  []int16   // act256: Σq over each 16 values
	s32  []int16   // act256: Σq over each 32 values
	dxv  []float32 // act32: laneScales
}

// actPool recycles act8 buffers: a decode step quantises a hundred or more
// activations, and allocating each costs more than quantising it.
var actPool = sync.Pool{New: func() any { return new(act8) }}

// grow returns s resliced to n elements, reallocated when too short.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// roundI8 rounds v (|v| ≤ 127.5) to the nearest integer, ties away from
// zero, without a branch (the signs of activations are random).
func roundI8(v float32) int8 {
	h := math.Float32frombits(0x3f000000 | math.Float32bits(v)&0x80000000) // ±0.5
	return int8(int32(v + h))
}

// act32 quantises x (a multiple of 32 values) per 32-value block, with
// quantBlocksAVX512 (the integer-dot path runs only with AVX-512), for
// kernels whose weight codes are offset by k to make them unsigned. With
// evenOdd each block's codes are stored as its 16 even values then its 16
// odd ones, the order of NF4/FP4's high-nibble-first bytes.
func act32(x []float32, k int32, evenOdd bool) *act8 {
	nb := len(x) / 32
	a := actPool.Get().(*act8)
	a.q, a.d, a.bias = grow(a.q, len(x)), grow(a.d, nb), grow(a.bias, 8*nb)
	a.s16, a.s32, a.dxv = a.s16[:0], a.s32[:0], a.dxv[:0] // a pooled buffer's
	if nb > 0 {
		quantBlocksAVX512(&x[0], nb, 2, &a.q[0], &a.d[0])
	}
	for b := 0; b < nb; b++ {
		q := a.q[32*b : 32*b+32]
		if evenOdd {
			evenOddInPlace((*[32]int8)(q))
		}
		for l := 0; l < 8; l++ {
			a.bias[8*b+l] = -k * (int32(q[4*l]) + int32(q[4*l+1]) + int32(q[4*l+2]) + int32(q[4*l+3]))
		}
	}
	return a
}

// splitEvenOdd writes the 16 even codes of src to even and its 16 odd
// ones to odd, in order: the even-odd order of NF4/FP4's
// high-nibble-first bytes. Eight codes at a time in a word, where a loop
// over the codes had cost NF4's activations three times their
// quantisation (BenchmarkAct32g8/768-nf4: 425 ns against 120 without).
func splitEvenOdd(even, odd *[16]int8, src *[32]int8) {
	in := (*[32]byte)(unsafe.Pointer(src))
	lo, hi := (*[16]byte)(unsafe.Pointer(even)), (*[16]byte)(unsafe.Pointer(odd))
	for w := 0; w < 4; w++ {
		v := binary.LittleEndian.Uint64(in[8*w:])
		binary.LittleEndian.PutUint32(lo[4*w:], evenBytes(v))
		binary.LittleEndian.PutUint32(hi[4*w:], evenBytes(v>>8))
	}
}

// evenOddInPlace puts one block's 32 codes in even-odd order.
func evenOddInPlace(q *[32]int8) {
	src := *q
	splitEvenOdd((*[16]int8)(q[:16]), (*[16]int8)(q[16:]), &src)
}

// evenBytes packs bytes 0, 2, 4 and 6 of v, in that order.
func evenBytes(v uint64) uint32 {
	v &= 0x00ff00ff00ff00ff
	v = (v | v>>8) & 0x0000ffff0000ffff
	return uint32(v | v>>16)
}

// act32g4 quantises x (a multiple of 32 values) per 32-value block for
// dotRowsQ4_0G4VNNI (weight codes offset by k): per group of four blocks,
// the first 16 codes of each block in turn, then the last 16 of each; 16
// biases per group, lane 4b+j being -k times the codes that lane meets in
// both halves of block b; and the block scales. The last group is padded
// with zero codes, biases and scales. With evenOdd the two halves of a
// block are its 16 even values and its 16 odd ones, for NF4/FP4.
func act32g4(x []float32, k int32, evenOdd bool) *act8 {
	nb := len(x) / 32
	ng := (nb + 3) / 4
	a := actPool.Get().(*act8)
	a.q, a.d, a.bias = grow(a.q, 128*ng), grow(a.d, 4*ng), grow(a.bias, 16*ng)
	a.s16, a.s32, a.dxv = a.s16[:0], a.s32[:0], a.dxv[:0] // a pooled buffer's
	if nb > 0 {
		quantBlocksAVX512(&x[0], nb, 2, &a.q[0], &a.d[0])
	}
	clear(a.q[32*nb:])
	clear(a.d[nb:])
	var tmp [128]int8
	for g := 0; g < ng; g++ {
		q := a.q[128*g : 128*g+128]
		copy(tmp[:], q)
		for b := 0; b < 4; b++ {
			if evenOdd {
				splitEvenOdd((*[16]int8)(q[16*b:]), (*[16]int8)(q[64+16*b:]), (*[32]int8)(tmp[32*b:]))
			} else {
				copy(q[16*b:16*b+16], tmp[32*b:32*b+16])
				copy(q[64+16*b:64+16*b+16], tmp[32*b+16:32*b+32])
			}
		}
		for l := 0; l < 16; l++ {
			lo, hi := q[4*l:4*l+4], q[64+4*l:64+4*l+4]
			a.bias[16*g+l] = -k * (int32(lo[0]) + int32(lo[1]) + int32(lo[2]) + int32(lo[3]) +
				int32(hi[0]) + int32(hi[1]) + int32(hi[2]) + int32(hi[3]))
		}
	}
	return a
}

// pad4 pads an act32 activation of nb blocks to a multiple of four blocks
// with zero codes, biases and scales, for dotRowsQ8_0G4VNNI.
func (a *act8) pad4(nb int) {
	n := (nb + 3) / 4 * 4
	pad := func(s []int8, n int) []int8 {
		if cap(s) < n {
			return append(s, make([]int8, n-len(s))...)
		}
		l := len(s)
		s = s[:n]
		clear(s[l:])
		return s
	}
	a.q = pad(a.q, 32*n)
	a.d = append(a.d, make([]float32, n-nb)...)
	a.bias = append(a.bias, make([]int32, 8*(n-nb))...)
}

// act256 quantises x (a multiple of 256 values) per 256-value block, with
// the sums of each 16 and 32 codes that the K-quant kernels need for their
// mins and offsets.
func act256(x []float32) *act8 {
	nb := len(x) / 256
	a := actPool.Get().(*act8)
	a.q, a.d, a.s16, a.s32 = grow(a.q, len(x)), grow(a.d, nb), grow(a.s16, len(x)/16), grow(a.s32, len(x)/32)
	a.bias, a.dxv = a.bias[:0], a.dxv[:0] // a pooled buffer's
	if nb > 0 {
		quantBlocksAVX512(&x[0], nb, 16, &a.q[0], &a.d[0])
	}
	sums16(a.q, a.s16)
	for i := range a.s32 {
		a.s32[i] = a.s16[2*i] + a.s16[2*i+1]
	}
	return a
}

// sums16 sets s[i] to the sum of the codes q[16i:16i+16], eight codes at
// a time in the bytes of a word: each code plus 128 (its sign bit
// flipped) is unsigned, pairs of bytes add in 16-bit lanes, and one
// multiplication adds the lanes. It is about four times the byte-by-byte
// loop, which was 5% of a 42M Q4_K_M prefill.
func sums16(q []int8, s []int16) {
	if len(q) < 16*len(s) {
		panic("kernels: sums16: too few codes")
	}
	if len(s) == 0 {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&q[0])), 16*len(s))
	const flip, lo = 0x8080808080808080, 0x00ff00ff00ff00ff
	for i := range s {
		w0 := binary.LittleEndian.Uint64(b[16*i:]) ^ flip
		w1 := binary.LittleEndian.Uint64(b[16*i+8:]) ^ flip
		p := w0&lo + w0>>8&lo + w1&lo + w1>>8&lo // four lanes of at most 1020
		s[i] = int16(p*0x0001000100010001>>48) - 16*128
	}
}

// vnni reports whether e may use the AVX-512 VNNI integer-dot kernels.
func (e Exec) vnni() bool { return useVNNI && e.avx512() && !e.NoVNNI }

// intDotMethod reports whether QMatVec has an integer-dot kernel for q.
func intDotMethod(q *QMatrix) bool {
	switch q.Method {
	case Q8_0, Q4_0, Q5_0:
		return q.Cols%32 == 0 && q.Cols > 0
	case Q4_K, Q6_K:
		return q.Cols%256 == 0 && q.Cols > 0
	case NF4, FP4:
		return q.Cols%32 == 0 && q.Cols > 0
	}
	return false
}

// intKernel is the integer-dot form of a product with q: quant quantises
// an activation vector for it and rows sets out[r] = row r of W times that
// activation for r in [lo, hi).
type intKernel struct {
	quant func(x []float32) *act8
	rows  func(a *act8, out []float32, lo, hi int)
	// quant1 and rows1, when not nil, replace quant and rows for a single
	// activation (intMatVec), with a layout of their own.
	quant1 func(x []float32) *act8
	rows1  func(a *act8, out []float32, lo, hi int)
	// rows4g, when not nil, is rows4 for the quant1 layout: activations
	// b..b+3 quantised by quant1 one by one and interleaved by
	// interleave4G4, their results at out[(b+i)·q.Rows+r].
	rows4g func(g *act8, b int, out []float32, lo, hi int)
	// rows4, when not nil, does rows for activations b..b+3 of a batch
	// that quant quantised whole, their results at out[(b+i)·q.Rows+r];
	// it is given group(a, b) when group is not nil, else a.
	rows4 func(a *act8, b int, out []float32, lo, hi int)
	group func(a *act8, b int) *act8
	// quant8 and rows8, when not nil, take a batch eight activations at a
	// time (prefill): quant8 quantises one, interleave8O8 groups eight,
	// and rows8 sets out[a·stride+r-lo] for activation a of the group and
	// r in [lo, hi).
	quant8 func(x []float32) *act8
	rows8  func(g *act8, out []float32, stride, lo, hi int, ws []float32)
	// scales8, when not nil, returns in dst (resliced or reallocated) the
	// weight scales that rows8 reads for rows [lo, hi), computed once per
	// tile of rows.
	scales8 func(dst []float32, lo, hi int) []float32
	// group8, when not nil, replaces interleave8O8 for quant8's layout.
	group8 func(dst *act8, acts []*act8)
}

// newIntKernel returns q's integer-dot kernel; the caller has checked
// intDotMethod(q).
func newIntKernel(q *QMatrix) intKernel {
	cols := q.Cols
	switch q.Method {
	case Q4_K:
		nb := cols / 256
		var quant8 func(x []float32) *act8
		var rows8 func(g *act8, out []float32, stride, lo, hi int, ws []float32)
		if !noG8 {
			quant8 = actK8
			rows8 = func(g *act8, out []float32, stride, lo, hi int, _ []float32) {
				dotRows8Q4KVNNI(&q.Data[lo*nb*144], hi-lo, nb, &g.q[0], &g.dxv[0], &g.s16[0], &out[0], 4*stride)
			}
		}
		return intKernel{quant8: quant8, rows8: rows8, group8: interleaveK8, quant: act256, rows: func(a *act8, out []float32, lo, hi int) {
			dotRowsQ4KVNNI(&q.Data[lo*nb*144], hi-lo, nb, &a.q[0], &a.d[0], &a.s32[0], &out[lo])
		}, rows4: func(g *act8, b int, out []float32, lo, hi int) {
			dotRows4Q4KVNNI(&q.Data[lo*nb*144], hi-lo, nb, &g.q[0], &g.d[0], &g.s32[0], &out[b*q.Rows+lo], 4*q.Rows)
		}, group: func(a *act8, b int) *act8 { return a.interleave4K(b, cols) }}
	case Q6_K:
		nb := cols / 256
		var quant8 func(x []float32) *act8
		var rows8 func(g *act8, out []float32, stride, lo, hi int, ws []float32)
		if !noG8 {
			quant8 = act256
			rows8 = func(g *act8, out []float32, stride, lo, hi int, _ []float32) {
				dotRows8Q6KVNNI(&q.Data[lo*nb*210], hi-lo, nb, &g.q[0], &g.dxv[0], &g.s16[0], &out[0], 4*stride)
			}
		}
		return intKernel{quant8: quant8, rows8: rows8, group8: interleaveQ6K8, quant: act256, rows: func(a *act8, out []float32, lo, hi int) {
			dotRowsQ6KVNNI(&q.Data[lo*nb*210], hi-lo, nb, &a.q[0], &a.d[0], &a.s16[0], &out[lo])
		}, rows4: func(g *act8, b int, out []float32, lo, hi int) {
			dotRows4Q6KVNNI(&q.Data[lo*nb*210], hi-lo, nb, &g.q[0], &g.d[0], &g.s16[0], &out[b*q.Rows+lo], 4*q.Rows)
		}, group: func(a *act8, b int) *act8 { return a.interleave4K(b, cols) }}
	case NF4, FP4:
		tab := &nf4Int8
		if q.Method == FP4 {
			tab = &fp4Int8
		}
		halves := cols / 32
		s := blockScales{mul: tab.scale, tab: &tab.codes}
		dot := dot4bitRowsVNNI
		if q.DoubleQuant {
			dot = dot4bitRowsDQVNNI
			s.qa, s.a2, s.code, s.off = &q.QAbsmax[0], &q.Absmax2[0], &dynamicCode, q.Offset
		} else {
			s.absmax = &q.Absmax[0]
		}
		quant := func(x []float32) *act8 {
			a := act32(x, 128, true)
			a.laneScales()
			return a
		}
		dot4 := dot4bitRows4VNNI
		if q.DoubleQuant {
			dot4 = dot4bitRows4DQVNNI
		}
		var quant1 func(x []float32) *act8
		var rows1 func(a *act8, out []float32, lo, hi int)
		var rows4g func(g *act8, b int, out []float32, lo, hi int)
		if q.DoubleQuant && !noG4 {
			quant1 = func(x []float32) *act8 { return intQuant1(q, x) }
			rows1 = func(a *act8, out []float32, lo, hi int) { intRows1(q, a, out, lo, hi) }
		}
		if q.DoubleQuant && halves%2 == 0 && !noG4 {
			rows4g = func(g *act8, b int, out []float32, lo, hi int) {
				s := s
				s.h0 = lo * halves
				dot4bitRows4DQG4VNNI(&q.Data[lo*cols/2], hi-lo, halves, &g.q[0], &g.d[0], &g.bias[0], &s, &out[b*q.Rows+lo], 4*q.Rows)
			}
		}
		var quant8 func(x []float32) *act8
		var rows8 func(g *act8, out []float32, stride, lo, hi int, ws []float32)
		var scales8 func(dst []float32, lo, hi int) []float32
		if !noG8 {
			quant8 = func(x []float32) *act8 { return act32g8(x, 128, true) }
			// groups runs rows [lo, hi)'s whole groups of eight halves,
			// two rows at a time (dot4bitRows8x2O8VNNI) and an odd last
			// one alone, storing each activation's sums. Rows of one
			// group (15M's 288 columns) stay one at a time: two at a time
			// they took 6% more CPU (BenchmarkIntPrefill 768x288, 396
			// against 372 µs), where rows of 3 and 5 groups took 6% and 9%
			// less (2048x768, 512x1376).
			groups := func(g *act8, out []float32, stride, lo, hi int, ws []float32) {
				n2 := 0
				if !noX2 && halves >= 16 {
					n2 = (hi - lo) / 2 * 2
				}
				if n2 > 0 {
					dot4bitRows8x2O8VNNI(&q.Data[lo*cols/2], n2, halves, &g.q[0], &g.dxv[0], &g.bias[0], &ws[0], &tab.codes, &out[0], 4*stride)
				}
				if lo+n2 < hi {
					dot4bitRows8O8VNNI(&q.Data[(lo+n2)*cols/2], lo+n2-hi, halves, &g.q[0], &g.dxv[0], &g.bias[0], &ws[n2*halves], &tab.codes, &out[n2], 4*stride)
				}
			}
			rows8 = func(g *act8, out []float32, stride, lo, hi int, ws []float32) {
				if tail := halves % 8; tail > 4 || tail > 0 && (q.Rows < 4 || noTail4) {
					// The last five to seven halves (or, without the
					// four-row tail kernel, one to four) row by row.
					dot4bitRows8O8VNNI(&q.Data[lo*cols/2], hi-lo, halves, &g.q[0], &g.dxv[0], &g.bias[0], &ws[0], &tab.codes, &out[0], 4*stride)
					return
				}
				groups(g, out, stride, lo, hi, ws)
				if halves%8 == 0 {
					return
				}
				// The last one to four halves four rows at a time, as
				// for Q8_0 (newIntKernel's last case); the rows past the
				// last whole four take the four that ends at hi, or, in
				// a tile of fewer than four rows, a four of the matrix's
				// rows that holds them, with its own scales.
				last := halves / 8
				xq, xs, bias := &g.q[2048*last], &g.dxv[128*last], &g.bias[128*last]
				n4 := (hi - lo) / 4 * 4
				if n4 > 0 {
					dotTail4NF4O8VNNI(&q.Data[lo*cols/2], n4, halves, xq, xs, bias, &ws[0], &tab.codes, &out[0], 4*stride)
				}
				if r0 := lo + n4; r0 < hi {
					w, wws := hi-4, ws
					if w >= lo {
						wws = ws[(w-lo)*halves:]
					} else {
						w = min(lo, q.Rows-4)
						wws = scales8(nil, w, w+4)
					}
					var scr [32]float32
					negZero := math.Float32frombits(1 << 31)
					for i := range scr {
						scr[i] = negZero
					}
					dotTail4NF4O8VNNI(&q.Data[w*cols/2], 4, halves, xq, xs, bias, &wws[0], &tab.codes, &scr[0], 16)
					for a := range 8 {
						for r := r0; r < hi; r++ {
							out[a*stride+r-lo] += scr[4*a+r-w]
						}
					}
				}
			}
			scales8 = func(dst []float32, lo, hi int) []float32 {
				n := (hi - lo) * halves
				dst = grow(dst, n+8)
				q.halfScales(dst[:n], lo*halves)
				for i := range dst[:n] {
					dst[i] *= tab.scale
				}
				clear(dst[n:])
				return dst
			}
		}
		return intKernel{quant8: quant8, rows8: rows8, scales8: scales8, quant: quant, quant1: quant1, rows1: rows1, rows4g: rows4g, rows: func(a *act8, out []float32, lo, hi int) {
			s := s
			s.h0 = lo * halves
			dot(&q.Data[lo*cols/2], hi-lo, halves, &a.q[0], &a.dxv[0], &a.bias[0], &s, &out[lo])
		}, rows4: func(g *act8, b int, out []float32, lo, hi int) {
			s := s
			s.h0 = lo * halves
			dot4(&q.Data[lo*cols/2], hi-lo, halves, &g.q[0], &g.dxv[0], &g.bias[0], &s, &out[b*q.Rows+lo], 4*q.Rows)
		}, group: func(a *act8, b int) *act8 { return a.interleave4(b, cols) }}
	}
	var k int32
	var dot func(*byte, int, int, *int8, *float32, *float32, *int32, *float32)
	var dot4 func(*byte, int, int, *int8, *float32, *int32, *float32, int)
	var size int
	switch q.Method {
	case Q8_0:
		k, dot, dot4, size = 128, dotRowsQ8_0VNNI, dotRows4Q8_0VNNI, bytesQ8Block
	case Q4_0:
		k, dot, dot4, size = 8, dotRowsQ4_0VNNI, dotRows4Q4_0VNNI, 18
	default: // Q5_0
		k, dot, dot4, size = 16, dotRowsQ5_0VNNI, dotRows4Q5_0VNNI, 22
	}
	nb := cols / 32
	rec := nb * size
	quant := func(x []float32) *act8 {
		a := act32(x, k, false)
		a.laneScales()
		return a
	}
	k1 := intKernel{quant: quant, rows: func(a *act8, out []float32, lo, hi int) {
		dot(&q.Data[lo*rec], hi-lo, nb, &a.q[0], &a.d[0], &a.dxv[0], &a.bias[0], &out[lo])
	}, rows4: func(a *act8, b int, out []float32, lo, hi int) {
		// Each activation's codes, biases and lane scales take cols bytes.
		dot4(&q.Data[lo*rec], hi-lo, nb, &a.q[b*cols], &a.dxv[b*cols/4], &a.bias[b*cols/4], &out[b*q.Rows+lo], 4*q.Rows)
	}}
	if (q.Method == Q8_0 || q.Method == Q4_0) && !noG4 {
		k1.quant1 = func(x []float32) *act8 { return intQuant1(q, x) }
		k1.rows1 = func(a *act8, out []float32, lo, hi int) { intRows1(q, a, out, lo, hi) }
	}
	if !noG8 {
		dot8, tail4 := dotRows8Q8_0O8VNNI, dotTail4Q8_0O8VNNI
		switch q.Method {
		case Q4_0:
			dot8, tail4 = dotRows8Q4_0O8VNNI, dotTail4Q4_0O8VNNI
		case Q5_0:
			dot8, tail4 = dotRows8Q5_0O8VNNI, dotTail4Q5_0O8VNNI
		}
		k1.quant8 = func(x []float32) *act8 { return act32g8(x, k, false) }
		// groups runs dot8 on rows [lo, hi) with a negative row count
		// (whole groups of eight blocks only), two rows at a time where
		// the format has the two-row kernel.
		var x2 func(*byte, int, int, *int8, *float32, *int32, *float32, int)
		switch q.Method {
		case Q4_0:
			x2 = dotRows8x2Q4_0O8VNNI
		case Q8_0:
			x2 = dotRows8x2Q8_0O8VNNI
		}
		groups := func(g *act8, out []float32, stride, lo, hi int) {
			if x2 != nil && !noX2 {
				n2 := (hi - lo) / 2 * 2
				if n2 > 0 {
					x2(&q.Data[lo*rec], n2, nb, &g.q[0], &g.dxv[0], &g.bias[0], &out[0], 4*stride)
				}
				if lo+n2 < hi {
					dot8(&q.Data[(lo+n2)*rec], -1, nb, &g.q[0], &g.dxv[0], &g.bias[0], &out[n2], 4*stride)
				}
				return
			}
			dot8(&q.Data[lo*rec], lo-hi, nb, &g.q[0], &g.dxv[0], &g.bias[0], &out[0], 4*stride)
		}
		k1.rows8 = func(g *act8, out []float32, stride, lo, hi int, _ []float32) {
			if nb%8 == 0 {
				groups(g, out, stride, lo, hi) // no blocks past the groups
				return
			}
			if tail4 == nil || nb%8 > 4 || q.Rows < 4 || noTail4 {
				dot8(&q.Data[lo*rec], hi-lo, nb, &g.q[0], &g.dxv[0], &g.bias[0], &out[0], 4*stride)
				return
			}
			// The last one to four blocks of each row (15M's rows of
			// nine) four rows at a time: dot8 skips them. A row's tail
			// is summed in its own lanes, so its result is the same in
			// any four, and so whichever rows [lo, hi) a thread is
			// given: the rows past the last whole four take a four of
			// the matrix's rows that holds them, into a scratch of −0
			// (so that adding it changes nothing), and add their own.
			last := nb / 8
			xq, xs, bias := &g.q[2048*last], &g.dxv[128*last], &g.bias[128*last]
			groups(g, out, stride, lo, hi)
			n4 := (hi - lo) / 4 * 4
			if n4 > 0 {
				tail4(&q.Data[lo*rec], n4, nb, xq, xs, bias, &out[0], 4*stride)
			}
			if r0 := lo + n4; r0 < hi {
				w := min(r0, q.Rows-4)
				var scr [32]float32
				negZero := math.Float32frombits(1 << 31)
				for i := range scr {
					scr[i] = negZero
				}
				tail4(&q.Data[w*rec], 4, nb, xq, xs, bias, &scr[0], 16)
				for a := range 8 {
					for r := r0; r < hi; r++ {
						out[a*stride+r-lo] += scr[4*a+r-w]
					}
				}
			}
		}
	}
	if q.Method == Q4_0 && !noG4 {
		dot4 := dotRows4Q4_0G4VNNI
		if useVBMI && !noVBMI {
			dot4 = dotRows4Q4_0G4VBMI
		}
		k1.rows4g = func(g *act8, b int, out []float32, lo, hi int) {
			dot4(&q.Data[lo*rec], hi-lo, nb, &g.q[0], &g.d[0], &g.bias[0], &out[b*q.Rows+lo], 4*q.Rows)
		}
	}
	return k1
}

// intQuant1 quantises the activation x for intRows1 with q.
func intQuant1(q *QMatrix, x []float32) *act8 {
	var a *act8
	switch q.Method {
	case Q4_K, Q6_K:
		return act256(x)
	case NF4, FP4:
		if q.DoubleQuant && !noG4 {
			return act32g4(x, 128, true)
		}
		a = act32(x, 128, true)
	case Q8_0:
		a = act32(x, 128, false)
		if !noG4 {
			a.pad4(q.Cols / 32)
			return a
		}
	case Q4_0:
		if !noG4 {
			return act32g4(x, 8, false)
		}
		a = act32(x, 8, false)
	default: // Q5_0
		a = act32(x, 16, false)
	}
	a.laneScales()
	return a
}

// intRows1 sets out[r] for r in [lo, hi) to row r of q times the
// activation a that intQuant1 quantised: the one-activation kernels,
// called without building an intKernel's closures, so that a decode
// product allocates nothing.
func intRows1(q *QMatrix, a *act8, out []float32, lo, hi int) {
	cols := q.Cols
	nb := cols / 32
	switch q.Method {
	case Q4_K:
		dotRowsQ4KVNNI(&q.Data[lo*(cols/256)*144], hi-lo, cols/256, &a.q[0], &a.d[0], &a.s32[0], &out[lo])
	case Q6_K:
		dotRowsQ6KVNNI(&q.Data[lo*(cols/256)*210], hi-lo, cols/256, &a.q[0], &a.d[0], &a.s16[0], &out[lo])
	case NF4, FP4:
		tab := &nf4Int8
		if q.Method == FP4 {
			tab = &fp4Int8
		}
		halves := cols / 32
		s := blockScales{mul: tab.scale, tab: &tab.codes, h0: lo * halves}
		codes := &q.Data[lo*cols/2]
		if !q.DoubleQuant {
			s.absmax = &q.Absmax[0]
			dot4bitRowsVNNI(codes, hi-lo, halves, &a.q[0], &a.dxv[0], &a.bias[0], &s, &out[lo])
			return
		}
		s.qa, s.a2, s.code, s.off = &q.QAbsmax[0], &q.Absmax2[0], &dynamicCode, q.Offset
		switch {
		case noG4:
			dot4bitRowsDQVNNI(codes, hi-lo, halves, &a.q[0], &a.dxv[0], &a.bias[0], &s, &out[lo])
		case halves%2 == 0:
			dot4bitRowsDQG4VNNI(codes, hi-lo, halves, &a.q[0], &a.d[0], &a.bias[0], &s, &out[lo])
		default: // rows of an odd number of halves start at either parity
			dot4bitRowsDQG4OddVNNI(codes, hi-lo, halves, &a.q[0], &a.d[0], &a.bias[0], &s, &out[lo])
		}
	case Q8_0:
		data := &q.Data[lo*nb*bytesQ8Block]
		if noG4 {
			dotRowsQ8_0VNNI(data, hi-lo, nb, &a.q[0], &a.d[0], &a.dxv[0], &a.bias[0], &out[lo])
		} else {
			dotRowsQ8_0G4VNNI(data, hi-lo, nb, &a.q[0], &a.d[0], &a.bias[0], &out[lo])
		}
	case Q4_0:
		data := &q.Data[lo*nb*18]
		switch {
		case noG4:
			dotRowsQ4_0VNNI(data, hi-lo, nb, &a.q[0], &a.d[0], &a.dxv[0], &a.bias[0], &out[lo])
		case useVBMI && !noVBMI:
			dotRowsQ4_0G4VBMI(data, hi-lo, nb, &a.q[0], &a.d[0], &a.bias[0], &out[lo])
		default:
			dotRowsQ4_0G4VNNI(data, hi-lo, nb, &a.q[0], &a.d[0], &a.bias[0], &out[lo])
		}
	default: // Q5_0
		dotRowsQ5_0VNNI(&q.Data[lo*nb*22], hi-lo, nb, &a.q[0], &a.d[0], &a.dxv[0], &a.bias[0], &out[lo])
	}
}

// noG4 turns the four-block one-activation kernels off, for tests and
// benchmarks that compare them with the pair-at-a-time ones.
var noG4 = false

// noG8 turns the eight-activation prefill kernels off, for tests and
// benchmarks that compare them with the four-activation ones.
var noG8 = false

// noTail4 keeps the Q8_0, Q4_0, Q5_0 and NF4/FP4 prefill kernels'
// one-row form of a row's last one to four blocks (halves), for tests and
// benchmarks that compare it with dotTail4Q8_0O8VNNI, dotTail4Q4_0O8VNNI,
// dotTail4Q5_0O8VNNI and dotTail4NF4O8VNNI.
var noTail4 = false

// noX2 keeps the one-row form of the eight-activation Q4_0, Q8_0 and
// NF4/FP4 prefill kernels, for tests and benchmarks that compare it with
// dotRows8x2Q4_0O8VNNI, dotRows8x2Q8_0O8VNNI and dot4bitRows8x2O8VNNI.
var noX2 = false

// noVBMI keeps the VNNI-only forms of kernels that have a VBMI one, for
// tests and benchmarks that compare the two.
var noVBMI = false

// row returns activation b of a batch that one act32 or act256 call
// quantised whole (rows of cols values never share a block).
func (a *act8) row(b, cols int) act8 {
	sub := func(n int) (lo, hi int) { return b * n, (b + 1) * n }
	v := act8{}
	lo, hi := sub(cols)
	v.q = a.q[lo:hi]
	per := cols / (len(a.q) / len(a.d)) // blocks per row
	lo, hi = sub(per)
	v.d = a.d[lo:hi]
	if len(a.bias) > 0 {
		lo, hi = sub(cols / 4)
		v.bias = a.bias[lo:hi]
	}
	if len(a.dxv) > 0 {
		lo, hi = sub(cols / 4)
		v.dxv = a.dxv[lo:hi]
	}
	if len(a.s16) > 0 {
		lo, hi = sub(cols / 16)
		v.s16 = a.s16[lo:hi]
		lo, hi = sub(cols / 32)
		v.s32 = a.s32[lo:hi]
	}
	return v
}

// intWork is the parallelRows work of one row of q by the integer-dot
// kernels, counted as the float quantised kernels count theirs (half a
// multiply-add per weight) so that the same products are split: even a
// 512×512 product, about 10 µs on one thread, gains from a second one.
func intWork(q *QMatrix) int { return q.Cols / 2 }

// intMatVec sets out = W·x with the integer-dot kernels, splitting rows
// over e's threads. The caller has checked vnni() and intDotMethod(q).
func (e Exec) intMatVec(out []float32, q *QMatrix, x []float32) {
	a := intQuant1(q, x)
	defer actPool.Put(a)
	if e.threads() <= 1 {
		intRows1(q, a, out, 0, q.Rows)
		return
	}
	e.parallelRows(q.Rows, 1, intWork(q), func(lo, hi int) {
		if hi > lo {
			intRows1(q, a, out, lo, hi)
		}
	})
}

// intTileRows is how many weight rows intMatMul multiplies with every
// activation row before moving on, so that they stay in the L1 cache.
const intTileRows = 16

// intMatMul sets out = X·Wᵀ for n activation rows with the integer-dot
// kernels: X is quantised once, and each tile of intTileRows weight rows
// is multiplied with all n rows while it is in cache, four at a time where
// the format has a four-activation kernel. The caller has checked vnni()
// and intDotMethod(q).
func (e Exec) intMatMul(out, x []float32, q *QMatrix, n int) {
	k := newIntKernel(q)
	rows, cols := q.Rows, q.Cols
	if k.rows8 != nil && n >= 8 {
		e.intMatMulG8(out, x, q, n, k)
		return
	}
	if k.rows4g != nil {
		e.intMatMulG4(out, x, q, n, k)
		return
	}
	a := k.quant(x[:n*cols])
	defer actPool.Put(a)
	acts := make([]act8, n)
	for b := range acts {
		acts[b] = a.row(b, cols)
	}
	var groups []*act8
	if k.group != nil {
		for b := 0; b+4 <= n; b += 4 {
			groups = append(groups, k.group(a, b))
		}
	}
	e.parallelRows(rows, 1, n*intWork(q), func(lo, hi int) {
		for t := lo; t < hi; t += intTileRows {
			th := min(t+intTileRows, hi)
			b := 0
			if k.rows4 != nil {
				for ; b+4 <= n; b += 4 {
					g := a
					if groups != nil {
						g = groups[b/4]
					}
					k.rows4(g, b, out, t, th)
				}
			}
			for ; b < n; b++ {
				k.rows(&acts[b], out[b*rows:(b+1)*rows], t, th)
			}
		}
	})
}

// intMatMulG4 is intMatMul for kernels with rows4g: each activation row
// is quantised by quant1, each four interleaved for rows4g, and the rows
// left over go to rows1.
func (e Exec) intMatMulG4(out, x []float32, q *QMatrix, n int, k intKernel) {
	rows, cols := q.Rows, q.Cols
	acts := make([]*act8, n)
	for b := range acts {
		acts[b] = k.quant1(x[b*cols : (b+1)*cols])
	}
	defer func() {
		for _, a := range acts {
			actPool.Put(a)
		}
	}()
	var groups []*act8
	for b := 0; b+4 <= n; b += 4 {
		groups = append(groups, interleave4G4(acts[b:b+4]))
	}
	e.parallelRows(rows, 1, n*intWork(q), func(lo, hi int) {
		for t := lo; t < hi; t += intTileRows {
			th := min(t+intTileRows, hi)
			b := 0
			for ; b+4 <= n; b += 4 {
				k.rows4g(groups[b/4], b, out, t, th)
			}
			for ; b < n; b++ {
				k.rows1(acts[b], out[b*rows:(b+1)*rows], t, th)
			}
		}
	})
}

// intMatMulG8 is intMatMul for kernels with rows8: the activation rows
// are quantised by quant8 and interleaved eight at a time by interleave8O8, the last group
// padded with zero activations whose results go to a scratch tile.
func (e Exec) intMatMulG8(out, x []float32, q *QMatrix, n int, k intKernel) {
	groups := groupsG8(x, n, q.Cols, k)
	defer putGroups(groups)
	e.parallelRows(q.Rows, 1, n*intWork(q), func(lo, hi int) {
		rowsG8(out, q, n, k, groups, lo, hi)
	})
}

// groupsG8 quantises the n activation rows of x (cols values each) by
// k.quant8 and interleaves them eight to a group for k.rows8, the last
// group padded with zero activations. The groups' buffers come from
// actPool; putGroups gives them back, so that a forward pass's products
// (and the next pass's) reuse them: allocated per product, they were 2.6
// MB a 15M prefill of 127 tokens, and a cold prefill paid for them in page
// faults and collections.
func groupsG8(x []float32, n, cols int, k intKernel) []*act8 {
	groups := make([]*act8, (n+7)/8)
	var acts [8]*act8
	for g := range groups {
		m := min(8, n-8*g)
		for i := range m {
			b := 8*g + i
			acts[i] = k.quant8(x[b*cols : (b+1)*cols])
		}
		groups[g] = actPool.Get().(*act8)
		if k.group8 != nil {
			k.group8(groups[g], acts[:m])
		} else {
			interleave8O8(groups[g], acts[:m])
		}
		for _, a := range acts[:m] {
			actPool.Put(a)
		}
	}
	return groups
}

// putGroups gives groupsG8's buffers back to actPool.
func putGroups(groups []*act8) {
	for _, g := range groups {
		actPool.Put(g)
	}
}

// rowsG8 sets rows [lo, hi) of out = X·Wᵀ for the n activation rows that
// groupsG8 grouped, tile by tile of intTileRows weight rows.
func rowsG8(out []float32, q *QMatrix, n int, k intKernel, groups []*act8, lo, hi int) {
	rows := q.Rows
	full, rem := n/8, n%8
	var scr, ws []float32
	if rem > 0 {
		scr = make([]float32, 8*intTileRows)
	}
	for t := lo; t < hi; t += intTileRows {
		th := min(t+intTileRows, hi)
		if k.scales8 != nil {
			ws = k.scales8(ws, t, th)
		}
		for g := 0; g < full; g++ {
			k.rows8(groups[g], out[8*g*rows+t:], rows, t, th, ws)
		}
		if rem > 0 {
			k.rows8(groups[full], scr, intTileRows, t, th, ws)
			for a := 0; a < rem; a++ {
				o := (8*full+a)*rows + t
				copy(out[o:o+th-t], scr[a*intTileRows:])
			}
		}
	}
}

// intMatMulsG8 is intMatMulG8 for matrices that share their input X and
// their format and width (intMatMuls checked): X is quantised and grouped
// once, and the threads share the rows of all the matrices.
func (e Exec) intMatMulsG8(outs [][]float32, x []float32, qs []*QMatrix, n int, ks []intKernel) {
	groups := groupsG8(x, n, qs[0].Cols, ks[0])
	defer putGroups(groups)
	var buf [8]int
	rows := buf[:0]
	for _, q := range qs {
		rows = append(rows, q.Rows)
	}
	e.parallelStacked(rows, 1, n*intWork(qs[0]), func(i, lo, hi int) {
		if hi > lo {
			rowsG8(outs[i], qs[i], n, ks[i], groups, lo, hi)
		}
	})
}

// act32g8 quantises x (a multiple of 32 values) per 32-value block for
// the eight-block kernels (weight codes offset by k): per group of eight
// blocks, four runs of 64 codes, run r = 2h+s holding, for c < 4, codes
// 16h+8s..16h+8s+7 of block c and then the same codes of block c+4; 16
// biases per group, lane l being -k times the codes that lane meets in
// the four runs (bytes 4l..4l+3 of each); and per group the block scales
// spread over the lanes of their blocks (block c in lanes 4c and 4c+1,
// block c+4 in 4c+2 and 4c+3), in dxv. A last group of five to seven
// blocks is padded with zero codes, biases and scales; one of one to four
// blocks takes two runs instead, values 0-15 of each block then 16-31
// (as act32g4 stores a group of four), block c in lanes 4c..4c+3. With
// evenOdd each block's codes are first put in even-odd order, as act32
// does for NF4/FP4.
func act32g8(x []float32, k int32, evenOdd bool) *act8 {
	nb := len(x) / 32
	ng := (nb + 7) / 8
	a := actPool.Get().(*act8)
	a.q, a.d, a.bias, a.dxv = grow(a.q, 512*ng), grow(a.d, 8*ng), grow(a.bias, 16*ng), grow(a.dxv, 16*ng)
	a.s16, a.s32 = a.s16[:0], a.s32[:0] // a pooled buffer's
	if ng == 0 {
		return a
	}
	nat := a.q[256*ng:] // the codes in x's order, padded with zeros
	quantBlocksAVX512(&x[0], nb, 2, &nat[0], &a.d[0])
	clear(nat[32*nb:])
	clear(a.d[nb:])
	if evenOdd {
		for b := 0; b < nb; b++ {
			evenOddInPlace((*[32]int8)(nat[32*b:]))
		}
	}
	half := nb%8 != 0 && nb%8 <= 4 // the last group takes two runs
	if full := ng - b2i(half); full > 0 {
		packO8(&nat[0], full, k, &a.q[0], &a.bias[0])
	}
	// Lane l of a group holds block l/4 + 4·(l%4/2) (o8lanes), written
	// out: the indexed loop was a fifth of the call.
	for g := 0; g < ng; g++ {
		d := (*[8]float32)(a.d[8*g : 8*g+8])
		v := (*[16]float32)(a.dxv[16*g : 16*g+16])
		v[0], v[1], v[2], v[3] = d[0], d[0], d[4], d[4]
		v[4], v[5], v[6], v[7] = d[1], d[1], d[5], d[5]
		v[8], v[9], v[10], v[11] = d[2], d[2], d[6], d[6]
		v[12], v[13], v[14], v[15] = d[3], d[3], d[7], d[7]
	}
	if half {
		g := ng - 1
		q := (*[256]int8)(a.q[256*g : 256*g+256])
		clear(q[:])
		for c := 0; c < nb-8*g; c++ {
			b := nat[32*(8*g+c):]
			copy(q[16*c:16*c+16], b[:16])
			copy(q[64+16*c:64+16*c+16], b[16:32])
		}
		bias := (*[16]int32)(a.bias[16*g : 16*g+16])
		dxv := (*[16]float32)(a.dxv[16*g : 16*g+16])
		d := (*[8]float32)(a.d[8*g : 8*g+8])
		for l := 0; l < 16; l++ {
			lo, hi := (*[4]int8)(q[4*l:4*l+4]), (*[4]int8)(q[64+4*l:64+4*l+4])
			s := int32(lo[0]) + int32(lo[1]) + int32(lo[2]) + int32(lo[3]) + int32(hi[0]) + int32(hi[1]) + int32(hi[2]) + int32(hi[3])
			bias[l] = -k * s
			dxv[l] = d[l/4]
		}
	}
	a.q = a.q[:256*ng]
	return a
}

// b2i is 1 for true and 0 for false.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// actK8 quantises x (a multiple of 256 values) as act256 does for the
// eight-activation Q4_K kernel: per 256-value block, its codes as four runs
// of 64 in the kernel's order (32-value sub-blocks 0|2, 1|3, 4|6, 5|7),
// its eight 32-value sums (s16), and its scale repeated 20 times (dxv):
// 16 copies for its own accumulator, four for its lanes of the mins'.
func actK8(x []float32) *act8 {
	a := act256(x)
	nb := len(x) / 256
	k := actPool.Get().(*act8)
	k.q, k.s16, k.dxv = grow(k.q, 256*nb), grow(k.s16, 8*nb), grow(k.dxv, 20*nb)
	k.d, k.bias, k.s32 = k.d[:0], k.bias[:0], k.s32[:0] // a pooled buffer's
	for b := 0; b < nb; b++ {
		src, dst := a.q[256*b:256*b+256], k.q[256*b:256*b+256]
		for r := 0; r < 4; r++ {
			s0 := 32 * (r%2 + 4*(r/2)) // sub-blocks s0/32 and s0/32+2
			copy(dst[64*r:64*r+32], src[s0:s0+32])
			copy(dst[64*r+32:64*r+64], src[s0+64:s0+96])
		}
		copy(k.s16[8*b:8*b+8], a.s32[8*b:8*b+8])
		for l := 0; l < 20; l++ {
			k.dxv[20*b+l] = a.d[b]
		}
	}
	actPool.Put(a)
	return k
}

// interleaveK8 interleaves up to eight activations quantised by actK8
// into g (its slices resliced or reallocated), padding to eight with zero
// ones: per 256-value block, each activation's 256 codes in turn (q),
// each one's eight sums in turn (s16), and each one's 16 broadcast scales
// in turn followed by each one's four spread ones in turn (dxv).
func interleaveK8(g *act8, acts []*act8) {
	nb := len(acts[0].q) / 256
	g.q, g.s16, g.dxv = grow(g.q, 2048*nb), grow(g.s16, 64*nb), grow(g.dxv, 160*nb)
	g.d, g.bias, g.s32 = g.d[:0], g.bias[:0], g.s32[:0]
	m := len(acts)
	for j := 0; j < nb; j++ {
		for i, a := range acts {
			copy(g.q[2048*j+256*i:2048*j+256*(i+1)], a.q[256*j:256*(j+1)])
			copy(g.s16[64*j+8*i:64*j+8*(i+1)], a.s16[8*j:8*(j+1)])
			copy(g.dxv[160*j+16*i:160*j+16*(i+1)], a.dxv[20*j:20*j+16])
			copy(g.dxv[160*j+128+4*i:160*j+128+4*(i+1)], a.dxv[20*j+16:20*(j+1)])
		}
		clear(g.q[2048*j+256*m : 2048*(j+1)])
		clear(g.s16[64*j+8*m : 64*(j+1)])
		clear(g.dxv[160*j+16*m : 160*j+128])
		clear(g.dxv[160*j+128+4*m : 160*(j+1)])
	}
}

// interleaveQ6K8 interleaves up to eight activations quantised by act256
// into g (its slices resliced or reallocated) for dotRows8Q6KVNNI,
// padding to eight with zero ones: per 256-value block, each activation's
// 256 codes in turn (q), each one's sixteen 16-value sums in turn (s16)
// and each one's scale repeated 16 times in turn (dxv).
func interleaveQ6K8(g *act8, acts []*act8) {
	nb := len(acts[0].q) / 256
	g.q, g.s16, g.dxv = grow(g.q, 2048*nb), grow(g.s16, 128*nb), grow(g.dxv, 128*nb)
	g.d, g.bias, g.s32 = g.d[:0], g.bias[:0], g.s32[:0]
	m := len(acts)
	for j := 0; j < nb; j++ {
		for i, a := range acts {
			copy(g.q[2048*j+256*i:2048*j+256*(i+1)], a.q[256*j:256*(j+1)])
			copy(g.s16[128*j+16*i:128*j+16*(i+1)], a.s16[16*j:16*(j+1)])
			for l := 0; l < 16; l++ {
				g.dxv[128*j+16*i+l] = a.d[j]
			}
		}
		clear(g.q[2048*j+256*m : 2048*(j+1)])
		clear(g.s16[128*j+16*m : 128*(j+1)])
		clear(g.dxv[128*j+16*m : 128*(j+1)])
	}
}

// interleave8O8 interleaves up to eight activations quantised by act32g8
// into g (its slices resliced or reallocated) for the eight-block
// eight-activation kernels, padding to eight with zero ones: per group of
// eight blocks, each activation's 256 codes in turn, then each one's 16
// biases, then each one's 16 spread scales, each kind in a slice of its
// own (q, bias, dxv).
func interleave8O8(g *act8, acts []*act8) {
	ng := len(acts[0].d) / 8
	g.q, g.bias, g.dxv = grow(g.q, 2048*ng), grow(g.bias, 128*ng), grow(g.dxv, 128*ng)
	g.d, g.s16, g.s32 = g.d[:0], g.s16[:0], g.s32[:0]
	m := len(acts)
	for j := 0; j < ng; j++ {
		for i, a := range acts {
			copy(g.q[2048*j+256*i:2048*j+256*(i+1)], a.q[256*j:256*(j+1)])
			copy(g.bias[128*j+16*i:128*j+16*(i+1)], a.bias[16*j:16*(j+1)])
			copy(g.dxv[128*j+16*i:128*j+16*(i+1)], a.dxv[16*j:16*(j+1)])
		}
		clear(g.q[2048*j+256*m : 2048*(j+1)])
		clear(g.bias[128*j+16*m : 128*(j+1)])
		clear(g.dxv[128*j+16*m : 128*(j+1)])
	}
}

// interleave4G4 interleaves four activations quantised by act32g4 for the
// four-activation four-block kernels: per group of four blocks, each
// activation's 128 codes in turn, then each one's 16 biases, then each
// one's four block scales, each kind in a slice of its own.
func interleave4G4(acts []*act8) *act8 {
	ng := len(acts[0].d) / 4
	g := &act8{q: make([]int8, 512*ng), bias: make([]int32, 64*ng), d: make([]float32, 16*ng)}
	for j := 0; j < ng; j++ {
		for i, a := range acts[:4] {
			copy(g.q[512*j+128*i:512*j+128*(i+1)], a.q[128*j:128*(j+1)])
			copy(g.bias[64*j+16*i:64*j+16*(i+1)], a.bias[16*j:16*(j+1)])
			copy(g.d[16*j+4*i:16*j+4*(i+1)], a.d[4*j:4*(j+1)])
		}
	}
	return g
}

// int8Table is a 4-bit code table as signed bytes for VPSHUFB: codes[c] is
// round(table[c]/scale) offset by 128 (so unsigned, for VPDPBUSD), in each
// of four 16-byte lanes, and scale = max|table|/127 is folded into the
// block scales.
type int8Table struct {
	codes [64]byte
	scale float32
	vals  [16]int8 // the unoffset values, for the reference
}

var (
	nf4Int8 = newInt8Table(&nf4Code)
	fp4Int8 = newInt8Table(&fp4Code)
)

func newInt8Table(tab *[16]float32) int8Table {
	var amax float32
	for _, v := range tab {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	t := int8Table{scale: amax / 127}
	for c, v := range tab {
		q := roundI8(v / t.scale)
		t.vals[c] = q
		for l := 0; l < 4; l++ {
			t.codes[16*l+c] = byte(int32(q) + 128)
		}
	}
	return t
}

// laneScales returns, per 64 values of an act32 activation, its two block
// scales each repeated over 8 lanes: the scale of each int32 lane of a
// 512-bit VPDPBUSD over those 64 values.
func (a *act8) laneScales() []float32 {
	a.dxv = grow(a.dxv, 8*len(a.d))
	v := a.dxv
	for b, d := range a.d {
		for l := 0; l < 8; l++ {
			v[8*b+l] = d
		}
	}
	return v
}

// blockScales tells the 4-bit row kernels the block scales: half h of
// the matrix (global index, from h0 for the first row) has block b = h/2's
// scale absmax[b]·mul, or with double quantisation
// (code[qa[b]]·a2[b/BlockDQ] + off)·mul; tab is the int8 code table. The
// assembly reads the fields at fixed offsets (0, 8, ..., 40, 44, 48).
type blockScales struct {
	absmax *float32
	qa     *uint8
	a2     *float32
	code   *[256]float32
	h0     int
	off    float32
	mul    float32
	tab    *[64]byte
}

// interleave4 returns activations b..b+3 of an act32 batch (rows of cols
// values, with laneScales) interleaved for the four-activation 4-bit
// kernels: per pair of 32-value halves, each activation's 64 codes, 16
// biases and 16 lane scales in turn; a last odd half, 32, 8 and 8 of each.
func (a *act8) interleave4(b, cols int) *act8 {
	g := &act8{q: make([]int8, 4*cols), bias: make([]int32, cols), dxv: make([]float32, cols)}
	for p := 0; p < cols; p += 64 {
		w := min(64, cols-p) // values in this unit: a pair, or the last half
		for i := 0; i < 4; i++ {
			src := (b+i)*cols + p
			copy(g.q[4*p+i*w:4*p+(i+1)*w], a.q[src:src+w])
			copy(g.bias[p+i*w/4:p+(i+1)*w/4], a.bias[src/4:src/4+w/4])
			copy(g.dxv[p+i*w/4:p+(i+1)*w/4], a.dxv[src/4:src/4+w/4])
		}
	}
	return g
}

// interleave4K returns activations b..b+3 of an act256 batch (rows of
// cols values) interleaved for dotRows4Q4KVNNI and dotRows4Q6KVNNI: per
// 256-value block, each activation's 256 codes in turn, their four
// scales, each one's eight 32-value sums in turn and each one's sixteen
// 16-value sums in turn.
func (a *act8) interleave4K(b, cols int) *act8 {
	nb := cols / 256
	g := &act8{q: make([]int8, 4*cols), d: make([]float32, 4*nb), s32: make([]int16, 4*cols/32), s16: make([]int16, 4*cols/16)}
	for k := 0; k < nb; k++ {
		for i := 0; i < 4; i++ {
			src := (b+i)*cols + 256*k
			copy(g.q[1024*k+256*i:1024*k+256*(i+1)], a.q[src:src+256])
			g.d[4*k+i] = a.d[src/256]
			copy(g.s32[32*k+8*i:32*k+8*(i+1)], a.s32[src/32:src/32+8])
			copy(g.s16[64*k+16*i:64*k+16*(i+1)], a.s16[src/16:src/16+16])
		}
	}
	return g
}
