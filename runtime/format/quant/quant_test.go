package quant

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/weights"
)

func TestF16Known(t *testing.T) {
	for _, c := range []struct {
		h uint16
		f float32
	}{
		{0x3C00, 1}, {0xC000, -2}, {0x7BFF, 65504}, {0x0001, 1.0 / (1 << 24)},
		{0x0400, 1.0 / (1 << 14)}, {0x3555, 0.33325195}, {0x8000, float32(math.Copysign(0, -1))},
	} {
		if got := F16ToF32(c.h); got != c.f {
			t.Errorf("F16ToF32(%#04x) = %v, want %v", c.h, got, c.f)
		}
	}
	if !math.IsInf(float64(F16ToF32(0x7C00)), 1) || !math.IsNaN(float64(F16ToF32(0x7E00))) {
		t.Error("half infinity or NaN decoded wrongly")
	}
	if got := F32ToF16(1.0 + 1.0/2048); got != 0x3C00 { // tie rounds to even
		t.Errorf("F32ToF16(1+2^-11) = %#04x, want 0x3c00", got)
	}
	if got := F32ToF16(1e6); got != 0x7C00 {
		t.Errorf("F32ToF16(1e6) = %#04x, want +Inf", got)
	}
}

func TestF16RoundTripAll(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if f != f {
			continue
		}
		if got := F32ToF16(f); got != uint16(h) {
			t.Fatalf("F32ToF16(F16ToF32(%#04x)) = %#04x", h, got)
		}
	}
}

func TestBF16(t *testing.T) {
	if got := BF16ToF32(0x3F80); got != 1 {
		t.Errorf("BF16ToF32(0x3f80) = %v", got)
	}
	if got := F32ToBF16(1.00390625); got != 0x3F80 { // tie to even
		t.Errorf("F32ToBF16 tie = %#04x", got)
	}
	if got := F32ToBF16(-2.5); got != 0xC020 {
		t.Errorf("F32ToBF16(-2.5) = %#04x", got)
	}
}

func dq(t *testing.T, d weights.DType, n int, data []byte) []float32 {
	t.Helper()
	out, err := Dequantize(&weights.Tensor{Name: "x", Shape: []int{n}, DType: d, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestQ8_0HandBlock(t *testing.T) {
	blk := make([]byte, 34)
	binary.LittleEndian.PutUint16(blk, 0x3800) // d = 0.5
	copy(blk[2:], []byte{0, 1, 0xFF, 127, 0x80})
	y := dq(t, weights.Q8_0, 32, blk)
	want := []float32{0, 0.5, -0.5, 63.5, -64}
	for i, w := range want {
		if y[i] != w {
			t.Errorf("y[%d] = %v, want %v", i, y[i], w)
		}
	}
}

func TestQ4_0HandBlock(t *testing.T) {
	blk := make([]byte, 18)
	binary.LittleEndian.PutUint16(blk, 0x4000) // d = 2
	blk[2] = 0x9F                              // low 15 -> y[0], high 9 -> y[16]
	blk[3] = 0x08                              // low 8 -> y[1]=0, high 0 -> y[17]
	y := dq(t, weights.Q4_0, 32, blk)
	for i, w := range map[int]float32{0: 14, 16: 2, 1: 0, 17: -16, 2: -16} {
		if y[i] != w {
			t.Errorf("y[%d] = %v, want %v", i, y[i], w)
		}
	}
}

func TestQ4_KHandBlock(t *testing.T) {
	blk := make([]byte, 144)
	binary.LittleEndian.PutUint16(blk[0:], 0x3C00) // d = 1
	binary.LittleEndian.PutUint16(blk[2:], 0x3800) // dmin = 0.5
	sc := blk[4:16]
	sc[0] = 2 | 1<<6 // scale 0 = 2; top bits feed scale 4
	sc[1] = 3        // scale 1
	sc[4] = 4        // min 0
	sc[5] = 6        // min 1
	sc[8] = 0x75     // scale 4 low = 5, min 4 low = 7
	qs := blk[16:]
	qs[0] = 0x3A  // y[0] from low 10, y[32] from high 3
	qs[64] = 0x21 // y[128] from low 1
	y := dq(t, weights.Q4_K, 256, blk)
	want := map[int]float32{
		0:   1*2*10 - 0.5*4, // 18
		1:   -0.5 * 4,       // q = 0
		32:  1*3*3 - 0.5*6,  // 6
		128: 1*21*1 - 0.5*7, // scale 4 = 5 | 1<<4 = 21
		160: 0,
	}
	for i, w := range want {
		if y[i] != w {
			t.Errorf("y[%d] = %v, want %v", i, y[i], w)
		}
	}
}

func TestQ6_KHandBlock(t *testing.T) {
	blk := make([]byte, 210)
	ql, qh, sc := blk[0:128], blk[128:192], blk[192:208]
	binary.LittleEndian.PutUint16(blk[208:], 0x3800) // d = 0.5
	sc[0], sc[2], sc[4], sc[6] = 2, 0xFD, 4, 1       // 0xFD = -3
	ql[0], ql[32], qh[0] = 0x5A, 0x0F, 0xE4
	y := dq(t, weights.Q6_K, 256, blk)
	want := map[int]float32{
		0:   0.5 * 2 * -22, // (10 | 0<<4) - 32
		32:  0.5 * -3 * -1, // (15 | 1<<4) - 32
		64:  0.5 * 4 * 5,   // (5 | 2<<4) - 32
		96:  0.5 * 1 * 16,  // (0 | 3<<4) - 32
		1:   0.5 * 2 * -32, // all bits zero
		16:  0,             // scale 1 is zero
		200: 0,
	}
	for i, w := range want {
		if y[i] != w {
			t.Errorf("y[%d] = %v, want %v", i, y[i], w)
		}
	}
}

func TestQuantizeRoundTrip(t *testing.T) {
	x := make([]float32, 64)
	for i := range x {
		x[i] = float32(math.Sin(float64(i))) * 3
	}
	q8, _ := QuantizeQ8_0(x)
	q4, _ := QuantizeQ4_0(x)
	for _, c := range []struct {
		d    weights.DType
		data []byte
		tol  float64
	}{{weights.Q8_0, q8, 3.0 / 127}, {weights.Q4_0, q4, 3.0 / 8}} {
		y := dq(t, c.d, 64, c.data)
		for i := range x {
			if math.Abs(float64(y[i]-x[i])) > c.tol {
				t.Errorf("%v: y[%d] = %v, x = %v", c.d, i, y[i], x[i])
			}
		}
	}
}

func TestDequantizeSizeMismatch(t *testing.T) {
	for _, c := range []struct {
		d     weights.DType
		shape []int
		n     int
	}{
		{weights.Q8_0, []int{2, 30}, 68}, // row not a whole block
		{weights.Q4_K, []int{256}, 143},  // short
		{weights.F32, []int{3}, 16},      // long
		{weights.DTypeInvalid, []int{1}, 4},
	} {
		if _, err := Dequantize(&weights.Tensor{Name: "w", Shape: c.shape, DType: c.d, Data: make([]byte, c.n)}); err == nil {
			t.Errorf("%v %v with %d bytes: no error", c.d, c.shape, c.n)
		}
	}
}

func BenchmarkDequantizeQ4_K(b *testing.B) {
	data := make([]byte, 144*1024)
	binary.LittleEndian.PutUint16(data, 0x3C00)
	dst := make([]float32, 256*1024)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := DequantizeInto(dst, weights.Q4_K, data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConvert(t *testing.T) {
	x := make([]float32, 64)
	for i := range x {
		x[i] = float32(i%7) - 3.25
	}
	q, _ := QuantizeQ8_0(x)
	src := &weights.Tensor{Name: "w", Shape: []int{2, 32}, DType: weights.Q8_0, Data: q}
	for _, to := range []weights.DType{weights.F32, weights.F16, weights.BF16, weights.Q8_0, weights.Q4_0} {
		c, err := Convert(src, to)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := ByteSize(to, src.Shape)
		if c.DType != to || int64(len(c.Data)) != want {
			t.Fatalf("%v: dtype %v, %d bytes", to, c.DType, len(c.Data))
		}
		y, _ := Dequantize(c)
		for i := range x {
			if math.Abs(float64(y[i]-x[i])) > 0.5 {
				t.Fatalf("%v: y[%d] = %v, want about %v", to, i, y[i], x[i])
			}
		}
	}
	if _, err := Convert(&weights.Tensor{Name: "n", Shape: []int{5}, DType: weights.F32, Data: make([]byte, 20)}, weights.Q8_0); err == nil {
		t.Error("a row of 5 values converted to Q8_0")
	}
}
