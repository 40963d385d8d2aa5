// Package cost is whisperc's memory and time model: given an architecture,
// a workload (inference, full or LoRA fine-tuning with its precision,
// quantisation, checkpointing, attention kernel, optimizer, batch and
// sharding) and a device, it predicts per-device memory by named component
// and step time by roofline. It is pure arithmetic: no I/O, no hardware
// access. spec/plan.md gives every formula with its source, and the tests
// check the predictions against published and measured numbers.
package cost

import "github.com/modelwhisperer/whisperc/stdlib/dtype"

// DType is a storage or compute number format: the one enum of number
// formats, dtype.DType. The zero value is invalid.
type DType = dtype.DType

// The formats, by the names the cost model has always used.
const (
	DTypeInvalid = dtype.Invalid
	FP32         = dtype.FP32
	FP16         = dtype.FP16
	BF16         = dtype.BF16
	FP8          = dtype.FP8
	Int8         = dtype.Int8
	NF4          = dtype.NF4
	FP4          = dtype.FP4
	Q8_0         = dtype.Q8_0
	Q4_0         = dtype.Q4_0
	Q4K          = dtype.Q4_K
	Q6K          = dtype.Q6_K
	Q4_1         = dtype.Q4_1
	Q5_0         = dtype.Q5_0
	Q5_1         = dtype.Q5_1
	Q5K          = dtype.Q5_K
)

// ParseDType returns the format with the given name.
func ParseDType(s string) (DType, error) { return dtype.Parse(s) }

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
