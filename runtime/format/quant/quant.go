// Package quant converts stored tensor encodings to float32: IEEE half
// precision, bfloat16, and GGML's block quantisations Q8_0, Q4_0, Q4_K and
// Q6_K, with the exact arithmetic of ggml's reference dequantisers, and
// quantises to Q8_0, Q4_0, Q5_0, Q4_K and Q6_K for writers and tests.
//
// Block layouts (all little-endian, blocks run along a tensor's rows, the
// innermost dimension):
//
//	Q8_0  34 bytes / 32 values:  d f16, qs [32]int8;            x = d*q
//	Q4_0  18 bytes / 32 values:  d f16, qs [16]uint8;           x = d*(nibble-8),
//	                             low nibbles give values 0..15, high ones 16..31
//	Q4_K 144 bytes / 256 values: d f16, dmin f16, scales [12] (8 six-bit scale
//	                             and min pairs), qs [128] nibbles
//	Q6_K 210 bytes / 256 values: ql [128], qh [64], scales [16]int8, d f16
//	Q4_1  20 bytes / 32 values:  d f16, m f16, qs [16]uint8;    x = d*nibble + m
//	Q5_0  22 bytes / 32 values:  d f16, qh [4], qs [16];        x = d*(q5-16),
//	                             bit j of qh is bit 4 of value j
//	Q5_1  24 bytes / 32 values:  d f16, m f16, qh [4], qs [16]; x = d*q5 + m
//	Q5_K 176 bytes / 256 values: d f16, dmin f16, scales [12], qh [32], qs [128]
package quant

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// BlockSize returns how many values one block of the dtype holds and how many
// bytes it takes. Unquantised types have blocks of one value.
func BlockSize(d weights.DType) (values, bytes int, ok bool) {
	switch d {
	case weights.F32:
		return 1, 4, true
	case weights.F16, weights.BF16:
		return 1, 2, true
	case weights.Q8_0:
		return 32, 34, true
	case weights.Q4_0:
		return 32, 18, true
	case weights.Q4_K:
		return 256, 144, true
	case weights.Q6_K:
		return 256, 210, true
	case weights.Q4_1:
		return 32, 20, true
	case weights.Q5_0:
		return 32, 22, true
	case weights.Q5_1:
		return 32, 24, true
	case weights.Q5_K:
		return 256, 176, true
	}
	return 0, 0, false
}

// ByteSize returns the number of bytes a tensor of the given dtype and shape
// occupies, or an error when the innermost dimension is not a whole number of
// blocks or the size overflows.
func ByteSize(d weights.DType, shape []int) (int64, error) {
	vals, size, ok := BlockSize(d)
	if !ok {
		return 0, fmt.Errorf("unsupported dtype %v", d)
	}
	n := int64(1)
	for _, s := range shape {
		if s < 0 {
			return 0, fmt.Errorf("negative dimension %d", s)
		}
		if s != 0 && n > math.MaxInt64/int64(s) {
			return 0, fmt.Errorf("shape %v overflows", shape)
		}
		n *= int64(s)
	}
	if len(shape) > 0 && shape[len(shape)-1]%vals != 0 {
		return 0, fmt.Errorf("row length %d is not a multiple of the %v block size %d", shape[len(shape)-1], d, vals)
	}
	blocks := n / int64(vals)
	if blocks > math.MaxInt64/int64(size) {
		return 0, fmt.Errorf("shape %v overflows", shape)
	}
	return blocks * int64(size), nil
}

// Dequantize decodes a tensor's data to float32 values in row-major order.
// It returns an error when the data length does not match the shape.
func Dequantize(t *weights.Tensor) ([]float32, error) {
	want, err := ByteSize(t.DType, t.Shape)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	if int64(len(t.Data)) != want {
		return nil, fmt.Errorf("tensor %q: %d bytes of data, shape %v of %v needs %d", t.Name, len(t.Data), t.Shape, t.DType, want)
	}
	out := make([]float32, t.Elements())
	if err := DequantizeInto(out, t.DType, t.Data); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return out, nil
}

// DequantizeInto decodes data of the given dtype into dst, which must have
// exactly as many values as data encodes.
func DequantizeInto(dst []float32, d weights.DType, data []byte) error {
	vals, size, ok := BlockSize(d)
	if !ok {
		return fmt.Errorf("unsupported dtype %v", d)
	}
	if len(data)%size != 0 || len(data)/size*vals != len(dst) {
		return fmt.Errorf("%d bytes of %v do not encode %d values", len(data), d, len(dst))
	}
	switch d {
	case weights.F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		return nil
	case weights.F16:
		for i := range dst {
			dst[i] = F16ToF32(binary.LittleEndian.Uint16(data[2*i:]))
		}
		return nil
	case weights.BF16:
		for i := range dst {
			dst[i] = BF16ToF32(binary.LittleEndian.Uint16(data[2*i:]))
		}
		return nil
	}
	dec := blockDecoders[d]
	for b := 0; b < len(data)/size; b++ {
		dec(dst[b*vals:(b+1)*vals], data[b*size:(b+1)*size])
	}
	return nil
}

// blockDecoders decode one block of each GGML block type.
var blockDecoders = map[weights.DType]func(y []float32, blk []byte){
	weights.Q8_0: dequantQ8_0,
	weights.Q4_0: dequantQ4_0,
	weights.Q4_1: dequantQ4_1,
	weights.Q5_0: dequantQ5_0,
	weights.Q5_1: dequantQ5_1,
	weights.Q4_K: dequantQ4_K,
	weights.Q5_K: dequantQ5_K,
	weights.Q6_K: dequantQ6_K,
}

// BlockDecoder returns the function that decodes one block of a GGML block
// type into its values, or nil for types without blocks.
func BlockDecoder(d weights.DType) func(y []float32, blk []byte) { return blockDecoders[d] }

func dequantQ8_0(y []float32, blk []byte) {
	d := F16ToF32(binary.LittleEndian.Uint16(blk))
	for j := 0; j < 32; j++ {
		y[j] = float32(int8(blk[2+j])) * d
	}
}

func dequantQ4_0(y []float32, blk []byte) {
	d := F16ToF32(binary.LittleEndian.Uint16(blk))
	qs := blk[2:18]
	for j := 0; j < 16; j++ {
		y[j] = float32(int(qs[j]&0x0F)-8) * d
		y[j+16] = float32(int(qs[j]>>4)-8) * d
	}
}

func dequantQ4_1(y []float32, blk []byte) {
	d := F16ToF32(binary.LittleEndian.Uint16(blk))
	m := F16ToF32(binary.LittleEndian.Uint16(blk[2:]))
	qs := blk[4:20]
	for j := 0; j < 16; j++ {
		y[j] = float32(float32(qs[j]&0x0F)*d) + m
		y[j+16] = float32(float32(qs[j]>>4)*d) + m
	}
}

// q5 returns the two 5-bit values of byte j of a Q5_0/Q5_1 block: value j
// (low nibble, high bit j of qh) and value j+16 (high nibble, bit j+16).
func q5(qs []byte, qh uint32, j int) (lo, hi int) {
	return int(qs[j]&0x0F) | int((qh>>j)&1)<<4, int(qs[j]>>4) | int((qh>>(j+16))&1)<<4
}

func dequantQ5_0(y []float32, blk []byte) {
	d := F16ToF32(binary.LittleEndian.Uint16(blk))
	qh := binary.LittleEndian.Uint32(blk[2:])
	qs := blk[6:22]
	for j := 0; j < 16; j++ {
		lo, hi := q5(qs, qh, j)
		y[j] = float32(lo-16) * d
		y[j+16] = float32(hi-16) * d
	}
}

func dequantQ5_1(y []float32, blk []byte) {
	d := F16ToF32(binary.LittleEndian.Uint16(blk))
	m := F16ToF32(binary.LittleEndian.Uint16(blk[2:]))
	qh := binary.LittleEndian.Uint32(blk[4:])
	qs := blk[8:24]
	for j := 0; j < 16; j++ {
		lo, hi := q5(qs, qh, j)
		y[j] = float32(float32(lo)*d) + m
		y[j+16] = float32(float32(hi)*d) + m
	}
}

func dequantQ5_K(y []float32, blk []byte) {
	d := F16ToF32(binary.LittleEndian.Uint16(blk[0:]))
	dmin := F16ToF32(binary.LittleEndian.Uint16(blk[2:]))
	scales := blk[4:16]
	qh := blk[16:48]
	ql := blk[48:176]
	var u1, u2 byte = 1, 2
	is := 0
	for j := 0; j < 256; j += 64 {
		sc, m := scaleMinK4(is, scales)
		d1, m1 := d*float32(sc), dmin*float32(m)
		sc, m = scaleMinK4(is+1, scales)
		d2, m2 := d*float32(sc), dmin*float32(m)
		for l := 0; l < 32; l++ {
			v := ql[l] & 0xF
			if qh[l]&u1 != 0 {
				v += 16
			}
			y[j+l] = float32(d1*float32(v)) - m1
		}
		for l := 0; l < 32; l++ {
			v := ql[l] >> 4
			if qh[l]&u2 != 0 {
				v += 16
			}
			y[j+32+l] = float32(d2*float32(v)) - m2
		}
		ql = ql[32:]
		is += 2
		u1 <<= 2
		u2 <<= 2
	}
}

// scaleMinK4 unpacks the j-th six-bit scale and min of a Q4_K block.
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return (q[j+4] & 0xF) | ((q[j-4] >> 6) << 4), (q[j+4] >> 4) | ((q[j] >> 6) << 4)
}

func dequantQ4_K(y []float32, blk []byte) {
	d := F16ToF32(binary.LittleEndian.Uint16(blk[0:]))
	dmin := F16ToF32(binary.LittleEndian.Uint16(blk[2:]))
	scales := blk[4:16]
	q := blk[16:144]
	is := 0
	for j := 0; j < 256; j += 64 {
		sc, m := scaleMinK4(is, scales)
		d1, m1 := d*float32(sc), dmin*float32(m)
		sc, m = scaleMinK4(is+1, scales)
		d2, m2 := d*float32(sc), dmin*float32(m)
		for l := 0; l < 32; l++ {
			y[j+l] = float32(d1*float32(q[l]&0xF)) - m1
		}
		for l := 0; l < 32; l++ {
			y[j+32+l] = float32(d2*float32(q[l]>>4)) - m2
		}
		q = q[32:]
		is += 2
	}
}

func dequantQ6_K(y []float32, blk []byte) {
	ql := blk[0:128]
	qh := blk[128:192]
	sc := blk[192:208]
	d := F16ToF32(binary.LittleEndian.Uint16(blk[208:]))
	for n := 0; n < 256; n += 128 {
		for l := 0; l < 32; l++ {
			is := l / 16
			q1 := int8((ql[l]&0xF)|((qh[l]>>0)&3)<<4) - 32
			q2 := int8((ql[l+32]&0xF)|((qh[l]>>2)&3)<<4) - 32
			q3 := int8((ql[l]>>4)|((qh[l]>>4)&3)<<4) - 32
			q4 := int8((ql[l+32]>>4)|((qh[l]>>6)&3)<<4) - 32
			y[n+l] = float32(d*float32(int8(sc[is]))) * float32(q1)
			y[n+l+32] = float32(d*float32(int8(sc[is+2]))) * float32(q2)
			y[n+l+64] = float32(d*float32(int8(sc[is+4]))) * float32(q3)
			y[n+l+96] = float32(d*float32(int8(sc[is+6]))) * float32(q4)
		}
		ql = ql[64:]
		qh = qh[32:]
		sc = sc[8:]
	}
}
