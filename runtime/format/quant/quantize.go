package quant

import (
	"encoding/binary"
	"fmt"
	"math"
)

// QuantizeQ8_0 encodes values, a multiple of 32 long, as GGML Q8_0 blocks
// with ggml's reference rounding.
func QuantizeQ8_0(x []float32) ([]byte, error) {
	if len(x)%32 != 0 {
		return nil, fmt.Errorf("q8_0: %d values are not a multiple of 32", len(x))
	}
	out := make([]byte, len(x)/32*34)
	for b := 0; b < len(x)/32; b++ {
		xs := x[b*32 : b*32+32]
		blk := out[b*34 : b*34+34]
		var amax float32
		for _, v := range xs {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(blk, F32ToF16(d))
		for j, v := range xs {
			blk[2+j] = byte(int8(math.Round(float64(v * id))))
		}
	}
	return out, nil
}

// QuantizeQ4_0 encodes values, a multiple of 32 long, as GGML Q4_0 blocks
// with ggml's reference rounding.
func QuantizeQ4_0(x []float32) ([]byte, error) {
	if len(x)%32 != 0 {
		return nil, fmt.Errorf("q4_0: %d values are not a multiple of 32", len(x))
	}
	out := make([]byte, len(x)/32*18)
	for b := 0; b < len(x)/32; b++ {
		xs := x[b*32 : b*32+32]
		blk := out[b*18 : b*18+18]
		var amax, vmax float32
		for _, v := range xs {
			if a := float32(math.Abs(float64(v))); a > amax {
				amax, vmax = a, v
			}
		}
		d := vmax / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(blk, F32ToF16(d))
		for j := 0; j < 16; j++ {
			x0 := min(15, int8(xs[j]*id+8.5))
			x1 := min(15, int8(xs[j+16]*id+8.5))
			blk[2+j] = byte(x0) | byte(x1)<<4
		}
	}
	return out, nil
}
