package quant

import (
	"encoding/binary"
	"fmt"
	"math"
)

// This file quantises to the block types of llama.cpp's Q4_K_M mix: Q4_K
// and Q6_K super-blocks, and Q5_0 for rows that are not a whole number of
// super-blocks. The layouts are those in the package comment; the search
// for scales is whisperc's own (a per-sub-block least-squares refinement),
// not ggml's, so the bytes need not equal ggml's, only decode as closely.

// QuantizeQ4_K encodes values, a multiple of 256 long, as Q4_K blocks.
func QuantizeQ4_K(x []float32) ([]byte, error) {
	if len(x)%256 != 0 {
		return nil, fmt.Errorf("q4_k: %d values are not a multiple of 256", len(x))
	}
	out := make([]byte, len(x)/256*144)
	for b := 0; b < len(x)/256; b++ {
		quantQ4_KBlock(out[b*144:b*144+144], x[b*256:b*256+256])
	}
	return out, nil
}

// fitAffine4 finds a scale s ≥ 0 and offset m ≥ 0 with xs ≈ s·q − m for
// q in 0..15: it starts from the range and alternates rounding with a
// least-squares fit of (s, m) to the rounded levels.
func fitAffine4(xs []float32) (s, m float32) {
	lo, hi := xs[0], xs[0]
	for _, v := range xs {
		lo, hi = min(lo, v), max(hi, v)
	}
	lo = min(lo, 0) // the offset is stored unsigned: x = s·q − m with m ≥ 0
	if hi <= lo {
		return 0, -lo
	}
	s, m = (hi-lo)/15, -lo
	best := sqErrAffine(xs, s, m)
	for it := 0; it < 4; it++ {
		// Least squares over the current levels: minimise Σ(s·q − m − x)².
		var n, sq, sq2, sx, sqx float64
		for _, v := range xs {
			q := float64(levelAffine(v, s, m))
			n++
			sq += q
			sq2 += q * q
			sx += float64(v)
			sqx += q * float64(v)
		}
		det := n*sq2 - sq*sq
		if det == 0 {
			break
		}
		ns := (n*sqx - sq*sx) / det
		nm := (sq*ns - sx) / n
		if ns <= 0 || nm < 0 {
			break
		}
		if e := sqErrAffine(xs, float32(ns), float32(nm)); e < best {
			best, s, m = e, float32(ns), float32(nm)
		} else {
			break
		}
	}
	return s, m
}

func levelAffine(v, s, m float32) int {
	if s == 0 {
		return 0
	}
	return max(0, min(15, int(math.Round(float64((v+m)/s)))))
}

func sqErrAffine(xs []float32, s, m float32) float64 {
	var e float64
	for _, v := range xs {
		d := float64(s*float32(levelAffine(v, s, m)) - m - v)
		e += d * d
	}
	return e
}

func quantQ4_KBlock(blk []byte, xs []float32) {
	var sc, mn [8]float32
	var maxS, maxM float32
	for j := 0; j < 8; j++ {
		sc[j], mn[j] = fitAffine4(xs[32*j : 32*j+32])
		maxS, maxM = max(maxS, sc[j]), max(maxM, mn[j])
	}
	d, dmin := f16Cover(maxS, 63), f16Cover(maxM, 63)
	var ls, lm [8]uint8
	for j := 0; j < 8; j++ {
		if d > 0 {
			ls[j] = uint8(min(63, math.Round(float64(sc[j]/d))))
		}
		if dmin > 0 {
			lm[j] = uint8(min(63, math.Round(float64(mn[j]/dmin))))
		}
	}
	binary.LittleEndian.PutUint16(blk[0:], F32ToF16(d))
	binary.LittleEndian.PutUint16(blk[2:], F32ToF16(dmin))
	scales := blk[4:16]
	for j := range scales {
		scales[j] = 0
	}
	for j := 0; j < 8; j++ {
		if j < 4 {
			scales[j] |= ls[j] & 63
			scales[j+4] |= lm[j] & 63
		} else {
			scales[j+4] = ls[j]&0xF | (lm[j]&0xF)<<4
			scales[j-4] |= (ls[j] >> 4) << 6
			scales[j] |= (lm[j] >> 4) << 6
		}
	}
	q := blk[16:144]
	for j := 0; j < 8; j++ {
		// The levels are chosen against the scale and offset as decoded.
		s, m := d*float32(ls[j]), dmin*float32(lm[j])
		for l := 0; l < 32; l++ {
			v := byte(levelAffine(xs[32*j+l], s, m))
			if j%2 == 0 {
				q[32*(j/2)+l] = v
			} else {
				q[32*(j/2)+l] |= v << 4
			}
		}
	}
}

// QuantizeQ6_K encodes values, a multiple of 256 long, as Q6_K blocks.
func QuantizeQ6_K(x []float32) ([]byte, error) {
	if len(x)%256 != 0 {
		return nil, fmt.Errorf("q6_k: %d values are not a multiple of 256", len(x))
	}
	out := make([]byte, len(x)/256*210)
	for b := 0; b < len(x)/256; b++ {
		quantQ6_KBlock(out[b*210:b*210+210], x[b*256:b*256+256])
	}
	return out, nil
}

// level6 returns round(v/s) clamped to the six-bit signed range.
func level6(v, s float32) int {
	if s == 0 {
		return 0
	}
	return max(-32, min(31, int(math.Round(float64(v/s)))))
}

func quantQ6_KBlock(blk []byte, xs []float32) {
	// Each 16 values have a signed scale s with x ≈ s·q, q in -32..31; the
	// value of largest magnitude maps to -32, the end with room.
	var sc [16]float32
	var amax float32
	for k := 0; k < 16; k++ {
		var a, vmax float32
		for _, v := range xs[16*k : 16*k+16] {
			if av := float32(math.Abs(float64(v))); av > a {
				a, vmax = av, v
			}
		}
		sc[k] = vmax / -32
		amax = max(amax, float32(math.Abs(float64(sc[k]))))
	}
	d := f16Cover(amax, 127)
	ql, qh, scales := blk[0:128], blk[128:192], blk[192:208]
	for i := range blk[:208] {
		blk[i] = 0
	}
	var q [256]int
	for k := 0; k < 16; k++ {
		var is int8
		if d > 0 {
			is = int8(max(-127, min(127, math.Round(float64(sc[k]/d)))))
		}
		scales[k] = byte(is)
		s := d * float32(is)
		for l := 0; l < 16; l++ {
			q[16*k+l] = level6(xs[16*k+l], s) + 32
		}
	}
	binary.LittleEndian.PutUint16(blk[208:], F32ToF16(d))
	for h := 0; h < 2; h++ {
		n := 128 * h
		for l := 0; l < 32; l++ {
			q1, q2, q3, q4 := byte(q[n+l]), byte(q[n+l+32]), byte(q[n+l+64]), byte(q[n+l+96])
			ql[64*h+l] = q1&0xF | (q3&0xF)<<4
			ql[64*h+l+32] = q2&0xF | (q4&0xF)<<4
			qh[32*h+l] = q1>>4 | (q2>>4)<<2 | (q3>>4)<<4 | (q4>>4)<<6
		}
	}
}

// QuantizeQ5_0 encodes values, a multiple of 32 long, as Q5_0 blocks: the
// value of largest magnitude maps to -16.
func QuantizeQ5_0(x []float32) ([]byte, error) {
	if len(x)%32 != 0 {
		return nil, fmt.Errorf("q5_0: %d values are not a multiple of 32", len(x))
	}
	out := make([]byte, len(x)/32*22)
	for b := 0; b < len(x)/32; b++ {
		xs := x[b*32 : b*32+32]
		blk := out[b*22 : b*22+22]
		var amax, vmax float32
		for _, v := range xs {
			if a := float32(math.Abs(float64(v))); a > amax {
				amax, vmax = a, v
			}
		}
		d := f16Cover(vmax, -16)
		binary.LittleEndian.PutUint16(blk, F32ToF16(d))
		var qh uint32
		for j := 0; j < 16; j++ {
			var lo, hi int
			if d != 0 {
				lo = max(0, min(31, int(math.Round(float64(xs[j]/d)))+16))
				hi = max(0, min(31, int(math.Round(float64(xs[j+16]/d)))+16))
			}
			blk[6+j] = byte(lo&0xF) | byte(hi&0xF)<<4
			qh |= uint32(lo>>4&1)<<j | uint32(hi>>4&1)<<(j+16)
		}
		binary.LittleEndian.PutUint32(blk[2:], qh)
	}
	return out, nil
}

// f16Cover returns the half-precision value nearest v/n whose magnitude
// times |n| still reaches |v|, so the largest level is never clipped by the
// scale's rounding (which matters for small, subnormal scales).
func f16Cover(v float32, n int) float32 {
	h := F32ToF16(v / float32(n))
	if f := F16ToF32(h); float32(math.Abs(float64(f*float32(n)))) < float32(math.Abs(float64(v))) && h&0x7C00 != 0x7C00 {
		h++
	}
	return F16ToF32(h)
}
