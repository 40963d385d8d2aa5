package kernels

import "math"

// NF4Code returns the 4-bit NormalFloat code of QLoRA (arXiv:2305.14314 §3,
// Appendix E): the 16 values, normalised to [-1, 1], that quantise a normal
// distribution with equal expected counts per bin and an exact zero. The
// values are those of bitsandbytes' get_4bit_type("nf4") in
// bitsandbytes/functional.py and of its CUDA decoder dDequantizeNF4; code i
// is the 4-bit pattern i.
func NF4Code() [16]float32 { return nf4Code }

var nf4Code = [16]float32{
	-1.0,
	-0.6961928009986877,
	-0.5250730514526367,
	-0.39491748809814453,
	-0.28444138169288635,
	-0.18477343022823334,
	-0.09105003625154495,
	0.0,
	0.07958029955625534,
	0.16093020141124725,
	0.24611230194568634,
	0.33791524171829224,
	0.44070982933044434,
	0.5626170039176941,
	0.7229568362236023,
	1.0,
}

// FP4Code returns bitsandbytes' 4-bit float (e2m1 with bitsandbytes' own
// exponent bias and subnormal) in get_4bit_type("fp4"), normalised by its
// largest magnitude 12 as that function does: bit 3 is the sign, and the
// magnitudes of patterns 0–7 are 0, 0.0625, 8, 12, 4, 6, 2, 3 twelfths.
// It matches bitsandbytes' CUDA decoder dDequantizeFP4Tree.
func FP4Code() [16]float32 { return fp4Code }

var fp4Code = [16]float32{
	0, 0.0625 / 12, 8.0 / 12, 12.0 / 12, 4.0 / 12, 6.0 / 12, 2.0 / 12, 3.0 / 12,
	-0.0, -0.0625 / 12, -8.0 / 12, -12.0 / 12, -4.0 / 12, -6.0 / 12, -2.0 / 12, -3.0 / 12,
}

// DynamicCode returns bitsandbytes' signed dynamic 8-bit quantisation map,
// create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8) in
// bitsandbytes/functional.py (Dettmers, "8-Bit Approximations for
// Parallelism in Deep Learning", arXiv:1511.04561), sorted ascending: for
// each exponent i in 0..6 the midpoints of linspace(0.1, 1, 2^i+1) scaled by
// 10^(i-6), with both signs, plus 0 and 1. It is the code that double
// quantisation applies to the 4-bit absmax values (bitsandbytes
// quantize_blockwise with code=None). Arithmetic is in float32 as PyTorch
// does it.
func DynamicCode() [256]float32 {
	var data []float32
	const maxExp = 7
	for i := 0; i < maxExp; i++ {
		items := 1<<i + 1
		bounds := linspace32(0.1, 1, items)
		scale := float32(math.Pow10(i - (maxExp - 1)))
		for j := 0; j+1 < len(bounds); j++ {
			m := (bounds[j] + bounds[j+1]) / 2
			data = append(data, scale*m)
		}
		for j := 0; j+1 < len(bounds); j++ {
			m := (bounds[j] + bounds[j+1]) / 2
			data = append(data, -scale*m)
		}
	}
	data = append(data, 0, 1)
	var out [256]float32
	copy(out[:], data)
	sortFloat32s(out[:])
	return out
}

// dynamicCode is DynamicCode(), computed once; it is never written.
var dynamicCode = DynamicCode()

// linspace32 reproduces torch.linspace for float32: the first half of the
// points counts up from start, the second half down from end.
func linspace32(start, end float32, steps int) []float32 {
	out := make([]float32, steps)
	if steps == 1 {
		out[0] = start
		return out
	}
	step := (end - start) / float32(steps-1)
	half := steps / 2
	for i := range out {
		if i < half {
			out[i] = start + step*float32(i)
		} else {
			out[i] = end - step*float32(steps-i-1)
		}
	}
	return out
}

func sortFloat32s(v []float32) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

// thresholds returns the 15 decision boundaries between consecutive values
// of a sorted 16-entry code, the midpoints bitsandbytes hard-codes in its
// dQuantizeNF4 and dQuantizeFP4 decision trees.
func thresholds(sorted [16]float32) [15]float32 {
	var t [15]float32
	for i := range t {
		t[i] = (sorted[i] + sorted[i+1]) / 2
	}
	return t
}
