// Package dtype is whisperc's one enum of number formats: the plain float
// types, the bitsandbytes formats and GGML's block formats. The language's
// quantize.method and compute types, the planner's cost model, the stored
// tensors of a loaded model and the runtime's kernels all use it (the
// other packages' names for it are aliases), so a format never changes
// meaning between phases. It lives in stdlib, the lowest layer that
// compiler, planner and runtime all import.
package dtype

import "fmt"

// DType is a storage or compute number format. The zero value is invalid.
type DType int

// The formats. The GGML block formats and the bitsandbytes 4-bit formats
// store scales alongside the values; a format's size with its scales is
// the planner's business (cost.Quant.BitsPerWeight).
const (
	Invalid DType = iota
	FP32
	FP16
	BF16
	FP8
	Int8 // LLM.int8(): one int8 per weight plus one fp32 absmax per row
	NF4  // QLoRA 4-bit NormalFloat, block-wise absmax
	FP4  // bitsandbytes 4-bit float, same layout as NF4
	Q8_0 // GGML: blocks of 32 int8 with one fp16 scale (34 bytes)
	Q4_0 // GGML: blocks of 32 4-bit with one fp16 scale (18 bytes)
	Q4_K // GGML k-quant: super-blocks of 256 in 144 bytes
	Q6_K // GGML k-quant: super-blocks of 256 in 210 bytes
	Q4_1 // GGML: blocks of 32 4-bit with an fp16 scale and minimum (20 bytes)
	Q5_0 // GGML: blocks of 32 5-bit with one fp16 scale (22 bytes)
	Q5_1 // GGML: blocks of 32 5-bit with an fp16 scale and minimum (24 bytes)
	Q5_K // GGML k-quant: super-blocks of 256 in 176 bytes
)

var names = [...]string{"invalid", "fp32", "fp16", "bf16", "fp8", "int8", "nf4", "fp4", "q8_0", "q4_0", "q4_K", "q6_K", "q4_1", "q5_0", "q5_1", "q5_K"}

// String returns the format's name as the language spells it (GGML's
// k-quants keep their capital K).
func (d DType) String() string {
	if d < 0 || int(d) >= len(names) {
		return "invalid"
	}
	return names[d]
}

// Parse returns the format with the given name.
func Parse(s string) (DType, error) {
	for i, n := range names {
		if i > 0 && n == s {
			return DType(i), nil
		}
	}
	return Invalid, fmt.Errorf("unknown number format %q", s)
}

// MarshalText renders the format by name.
func (d DType) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a format name.
func (d *DType) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	*d = v
	return err
}

// GGML reports whether the format is one of GGML's block formats, which
// whisperc's CPU runtime executes as a GGUF file stores them.
func (d DType) GGML() bool { return d == Q8_0 || d == Q4_0 || d >= Q4_K }

// Quantized reports whether the format stores blocks with scales (and is
// applied to linear layers only).
func (d DType) Quantized() bool { return d >= Int8 }

// Bits returns the storage bits of one value of the format, ignoring
// block scales: 32, 16, 8, 6, 5 or 4.
func (d DType) Bits() int {
	switch d {
	case FP32:
		return 32
	case FP16, BF16:
		return 16
	case FP8, Int8, Q8_0:
		return 8
	case Q5_0, Q5_1, Q5_K:
		return 5
	case Q6_K:
		return 6
	case NF4, FP4, Q4_0, Q4_1, Q4_K:
		return 4
	}
	return 0
}

// Bytes returns the size of one element of a plain (unquantised) format.
func (d DType) Bytes() int {
	switch d {
	case FP32:
		return 4
	case FP16, BF16:
		return 2
	case FP8, Int8:
		return 1
	}
	return 0
}
