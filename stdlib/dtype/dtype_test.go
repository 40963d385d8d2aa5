package dtype

import "testing"

// TestNamesRoundTrip parses every format's name back to the format, and
// keeps the zero value and unknown names invalid.
func TestNamesRoundTrip(t *testing.T) {
	for d := FP32; d <= Q5_K; d++ {
		got, err := Parse(d.String())
		if err != nil || got != d {
			t.Errorf("Parse(%q) = %v, %v; want %v", d.String(), got, err, d)
		}
		var u DType
		if b, _ := d.MarshalText(); u.UnmarshalText(b) != nil || u != d {
			t.Errorf("%v: text round trip gave %v", d, u)
		}
		if d.Quantized() == (d.Bytes() != 0 && d != Int8) {
			t.Errorf("%v: Quantized %v but plain element size %d", d, d.Quantized(), d.Bytes())
		}
		if d.Bits() == 0 {
			t.Errorf("%v: no bit width", d)
		}
	}
	if Invalid.String() != "invalid" || DType(99).String() != "invalid" {
		t.Error("zero and unknown values must print invalid")
	}
	if _, err := Parse("int3"); err == nil {
		t.Error("Parse accepted int3")
	}
	for _, d := range []DType{Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K} {
		if !d.GGML() {
			t.Errorf("%v is a GGML block format", d)
		}
	}
	for _, d := range []DType{FP32, FP16, BF16, FP8, Int8, NF4, FP4} {
		if d.GGML() {
			t.Errorf("%v is not a GGML block format", d)
		}
	}
}
