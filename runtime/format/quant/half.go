package quant

import "github.com/modelwhisperer/whisperc/runtime/internal/half"

// F16ToF32 converts an IEEE 754 half-precision value to float32 exactly.
func F16ToF32(h uint16) float32 { return half.F16ToF32(h) }

// F32ToF16 converts a float32 to half precision, rounding to nearest even,
// overflowing to infinity and keeping NaN a NaN.
func F32ToF16(f float32) uint16 { return half.F32ToF16(f) }

// BF16ToF32 converts a bfloat16 value to float32 exactly.
func BF16ToF32(h uint16) float32 { return half.BF16ToF32(h) }

// F32ToBF16 converts a float32 to bfloat16, rounding to nearest even and
// keeping NaN a NaN.
func F32ToBF16(f float32) uint16 { return half.F32ToBF16(f) }
