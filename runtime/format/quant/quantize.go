package quant

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/modelwhisperer/whisperc/runtime/weights"
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

// Convert returns t re-encoded as dtype to (F32, F16, BF16, Q8_0, Q4_0,
// Q5_0, Q4_K or Q6_K),
// by way of float32. A tensor already of that dtype is returned as is.
func Convert(t *weights.Tensor, to weights.DType) (*weights.Tensor, error) {
	if t.DType == to {
		return t, nil
	}
	x, err := Dequantize(t)
	if err != nil {
		return nil, err
	}
	var data []byte
	switch to {
	case weights.F32:
		data = make([]byte, 4*len(x))
		for i, v := range x {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
		}
	case weights.F16, weights.BF16:
		data = make([]byte, 2*len(x))
		for i, v := range x {
			h := F32ToF16(v)
			if to == weights.BF16 {
				h = F32ToBF16(v)
			}
			binary.LittleEndian.PutUint16(data[2*i:], h)
		}
	case weights.Q8_0, weights.Q4_0, weights.Q5_0, weights.Q4_K, weights.Q6_K:
		vals, _, _ := BlockSize(to)
		if len(t.Shape) == 0 || t.Shape[len(t.Shape)-1]%vals != 0 {
			return nil, fmt.Errorf("tensor %q: rows of shape %v are not a multiple of %d values", t.Name, t.Shape, vals)
		}
		q := map[weights.DType]func([]float32) ([]byte, error){weights.Q8_0: QuantizeQ8_0, weights.Q4_0: QuantizeQ4_0,
			weights.Q5_0: QuantizeQ5_0, weights.Q4_K: QuantizeQ4_K, weights.Q6_K: QuantizeQ6_K}[to]
		if data, err = q(x); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("tensor %q: cannot convert to %v", t.Name, to)
	}
	return &weights.Tensor{Name: t.Name, Shape: t.Shape, DType: to, Data: data}, nil
}
