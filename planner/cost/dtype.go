// Package cost is whisperc's memory and time model: given an architecture,
// a workload (inference, full or LoRA fine-tuning with its precision,
// quantisation, checkpointing, attention kernel, optimizer, batch and
// sharding) and a device, it predicts per-device memory by named component
// and step time by roofline. It is pure arithmetic: no I/O, no hardware
// access. spec/plan.md gives every formula with its source, and the tests
// check the predictions against published and measured numbers.
package cost

import "fmt"

// DType is a storage or compute number format. The zero value is invalid.
type DType int

// The formats. The GGML block formats and the bitsandbytes 4-bit formats
// store scales alongside the values; Bits accounts for them.
const (
	DTypeInvalid DType = iota
	FP32
	FP16
	BF16
	FP8
	Int8 // LLM.int8(): one int8 per weight plus one fp32 absmax per row
	NF4  // QLoRA 4-bit NormalFloat, block-wise absmax
	FP4  // bitsandbytes 4-bit float, same layout as NF4
	Q8_0 // GGML: blocks of 32 int8 with one fp16 scale (34 bytes)
	Q4_0 // GGML: blocks of 32 4-bit with one fp16 scale (18 bytes)
	Q4K  // GGML k-quant: super-blocks of 256 in 144 bytes
	Q6K  // GGML k-quant: super-blocks of 256 in 210 bytes
	Q4_1 // GGML: blocks of 32 4-bit with an fp16 scale and minimum (20 bytes)
	Q5_0 // GGML: blocks of 32 5-bit with one fp16 scale (22 bytes)
	Q5_1 // GGML: blocks of 32 5-bit with an fp16 scale and minimum (24 bytes)
	Q5K  // GGML k-quant: super-blocks of 256 in 176 bytes
)

var dtypeNames = [...]string{"invalid", "fp32", "fp16", "bf16", "fp8", "int8", "nf4", "fp4", "q8_0", "q4_0", "q4_K", "q6_K", "q4_1", "q5_0", "q5_1", "q5_K"}

// String returns the format's name as the language spells it.
func (d DType) String() string {
	if d < 0 || int(d) >= len(dtypeNames) {
		return "invalid"
	}
	return dtypeNames[d]
}

// ParseDType returns the format with the given name.
func ParseDType(s string) (DType, error) {
	for i, n := range dtypeNames {
		if i > 0 && n == s {
			return DType(i), nil
		}
	}
	return DTypeInvalid, fmt.Errorf("unknown number format %q", s)
}

// MarshalText renders the format by name.
func (d DType) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a format name.
func (d *DType) UnmarshalText(b []byte) error {
	v, err := ParseDType(string(b))
	*d = v
	return err
}

// GGML reports whether the format is one of GGML's block formats, which
// whisperc's CPU runtime executes as a GGUF file stores them.
func (d DType) GGML() bool { return d == Q8_0 || d == Q4_0 || d >= Q4K }

// Quantized reports whether the format stores blocks with scales (and is
// applied to linear layers only).
func (d DType) Quantized() bool { return d >= Int8 }

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

// Quant describes how linear weights are quantised.
type Quant struct {
	Type      DType
	BlockSize int  // weights per scale for nf4, fp4 (default 64)
	Double    bool // nf4/fp4 double quantisation of the scales (QLoRA §3)
	Rows      int  // int8: output rows, one fp32 absmax each; 0 ignores it
}

// BitsPerWeight returns the storage cost of one weight of the format,
// scales included.
//
//   - nf4/fp4 (QLoRA §3): 4 bits plus one absmax per block: 32/64 = 0.5
//     bits with fp32 constants, or with double quantisation 8/64 +
//     32/(64·256) = 0.127 bits, so 4.127 bits per weight.
//   - GGML (ggml-common.h): q8_0 34 B/32, q4_0 18 B/32, q4_K 144 B/256,
//     q6_K 210 B/256.
func (q Quant) BitsPerWeight() float64 {
	switch q.Type {
	case FP32:
		return 32
	case FP16, BF16:
		return 16
	case FP8:
		return 8
	case Int8:
		return 8
	case NF4, FP4:
		bs := q.BlockSize
		if bs <= 0 {
			bs = 64
		}
		if q.Double {
			// 8-bit constants per block, and one fp32 per 256 of those.
			return 4 + 8/float64(bs) + 32/(float64(bs)*256)
		}
		return 4 + 32/float64(bs)
	case Q8_0:
		return 34 * 8 / 32.0
	case Q4_0:
		return 18 * 8 / 32.0
	case Q4K:
		return 144 * 8 / 256.0
	case Q6K:
		return 210 * 8 / 256.0
	case Q4_1:
		return 20 * 8 / 32.0
	case Q5_0:
		return 22 * 8 / 32.0
	case Q5_1:
		return 24 * 8 / 32.0
	case Q5K:
		return 176 * 8 / 256.0
	}
	return 0
}

// Bytes returns the storage of an in×out weight matrix in the format.
func (q Quant) Bytes(in, out int64) int64 {
	n := in * out
	b := int64(float64(n)*q.BitsPerWeight()/8 + 0.5)
	if q.Type == Int8 && q.Rows > 0 {
		b += int64(out) * 4 // one fp32 absmax per output row
	}
	return b
}
