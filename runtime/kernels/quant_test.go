package kernels

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/internal/half"
	"github.com/modelwhisperer/whisperc/stdlib/dtype"
)

func TestNF4AndFP4CodeTables(t *testing.T) {
	// NF4 from bitsandbytes functional.py get_4bit_type("nf4").
	wantNF4 := []float64{-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
		-0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
		0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
		0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0}
	nf4, fp4 := NF4Code(), FP4Code()
	for i, w := range wantNF4 {
		if nf4[i] != float32(w) {
			t.Errorf("NF4Code[%d] = %v, want %v", i, nf4[i], w)
		}
	}
	// FP4: bitsandbytes [0, 0.0625, 8, 12, 4, 6, 2, 3, -0, ...] / 12.
	mags := []float64{0, 0.0625, 8, 12, 4, 6, 2, 3}
	for i := 0; i < 16; i++ {
		w := mags[i&7] / 12
		if i >= 8 {
			w = -w
		}
		if math.Abs(float64(fp4[i])-w) > 1e-7 {
			t.Errorf("FP4Code[%d] = %v, want %v", i, fp4[i], w)
		}
	}
	// Encoding every code value returns its own pattern (except -0).
	for i, v := range nf4 {
		if got := encodeNF4(v); got != byte(i) {
			t.Errorf("encodeNF4(%v) = %d, want %d", v, got, i)
		}
	}
	for i, v := range fp4 {
		if i == 8 {
			continue
		}
		if got := encodeFP4(v); got != byte(i) {
			t.Errorf("encodeFP4(%v) = %d, want %d", v, got, i)
		}
	}
}

func TestDynamicCode(t *testing.T) {
	c := DynamicCode()
	for i := 1; i < len(c); i++ {
		if !(c[i] > c[i-1]) {
			t.Fatalf("code not strictly increasing at %d: %v, %v", i, c[i-1], c[i])
		}
	}
	// The range bitsandbytes' CPU quantiser mentions: [-0.993, 1.0].
	if c[0] != -0.99296875 || c[255] != 1 {
		t.Errorf("range [%v, %v], want [-0.99296875, 1]", c[0], c[255])
	}
	var zero, pos int
	for i, v := range c {
		if v == 0 {
			zero = i
		}
		if v > 0 {
			pos++
		}
	}
	if pos != 128 || c[zero] != 0 || zero != 127 {
		t.Errorf("zero at %d with %d positive entries, want 127 and 128", zero, pos)
	}
	// Smallest magnitude: 1e-6 × mean(0.1, 1).
	if math.Abs(float64(c[128])-0.55e-6) > 1e-12 {
		t.Errorf("smallest positive %v, want 5.5e-7", c[128])
	}
	// Exponent 10⁻⁵ contributes the midpoints of linspace(0.1, 1, 3):
	// 0.325e-5 and 0.775e-5.
	if math.Abs(float64(c[129])-0.325e-5) > 1e-11 || math.Abs(float64(c[130])-0.775e-5) > 1e-11 {
		t.Errorf("second exponent entries %v %v", c[129], c[130])
	}
}

func TestQuantizeHandComputedBlocks(t *testing.T) {
	w := make([]float32, 64)
	copy(w, []float32{2, -2, 1, 0, 0.33, -0.1})
	// NF4: x/absmax = 1, -1, 0.5, 0, 0.165, -0.05. 0.5 lies below the
	// 12/13 midpoint 0.5017 → 12; 0.165 lies between the 8/9 and 9/10
	// midpoints (0.1203, 0.2035) → 9; -0.05 lies below the 6/7 midpoint
	// -0.0455 → 6.
	q, err := QuantizeConfig(w, 1, 64, QuantConfig{Method: NF4})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.Data[:3], []byte{0xF0, 0xC7, 0x96}; string(got) != string(want) {
		t.Errorf("nf4 bytes % x, want % x", got, want)
	}
	if q.Absmax[0] != 2 || q.Data[3] != 0x77 {
		t.Errorf("nf4 absmax %v, zero byte %#x", q.Absmax[0], q.Data[3])
	}
	// FP4: 1 → 0b0011, -1 → 0b1011, 0.5 → 0b0101, 0 → 0, 0.165 → 2/12 (0b0110),
	// -0.05 → -0.0052 (0b1001).
	q, err = QuantizeConfig(w, 1, 64, QuantConfig{Method: FP4})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.Data[:3], []byte{0x3B, 0x50, 0x69}; string(got) != string(want) {
		t.Errorf("fp4 bytes % x, want % x", got, want)
	}
	// Q8_0: amax 127 → d = 1 (f16 0x3c00); -63.5 rounds away from zero.
	w8 := make([]float32, 32)
	copy(w8, []float32{127, -63.5, 0, 1.4, -127})
	q, err = Quantize(w8, 1, 32, Q8_0)
	if err != nil {
		t.Fatal(err)
	}
	if d := binary.LittleEndian.Uint16(q.Data); d != 0x3c00 {
		t.Errorf("q8_0 scale %#x, want 0x3c00", d)
	}
	if got := []int8{int8(q.Data[2]), int8(q.Data[3]), int8(q.Data[4]), int8(q.Data[5]), int8(q.Data[6])}; fmt.Sprint(got) != "[127 -64 0 1 -127]" {
		t.Errorf("q8_0 codes %v", got)
	}
	if len(q.Data) != 34 {
		t.Errorf("q8_0 block is %d bytes, want 34", len(q.Data))
	}
}

func TestDoubleQuantization(t *testing.T) {
	rows, cols := 256, 256 // 1024 blocks of 64 → 4 second-level blocks
	w := randVec(7, rows*cols, 0.02)
	plain, _ := QuantizeConfig(w, rows, cols, QuantConfig{Method: NF4})
	dq, _ := QuantizeConfig(w, rows, cols, QuantConfig{Method: NF4, DoubleQuant: true})
	if string(plain.Data) != string(dq.Data) {
		t.Fatal("double quantisation changed the 4-bit codes")
	}
	if len(dq.QAbsmax) != 1024 || len(dq.Absmax2) != 4 {
		t.Fatalf("%d codes, %d second-level scales", len(dq.QAbsmax), len(dq.Absmax2))
	}
	var mean float64
	for _, a := range plain.Absmax {
		mean += float64(a)
	}
	mean /= float64(len(plain.Absmax))
	if math.Abs(float64(dq.Offset)-mean) > 1e-9 {
		t.Errorf("offset %v, want mean %v", dq.Offset, mean)
	}
	// The decoded absmax is within the dynamic code's resolution near ±1
	// (steps of ≈0.014) times the second-level scale.
	got := dq.Scales()
	for b, a := range plain.Absmax {
		tol := 0.0071*float64(dq.Absmax2[b/BlockDQ]) + 1e-7
		if d := math.Abs(float64(got[b] - a)); d > tol {
			t.Fatalf("block %d: absmax %v decoded as %v (diff %g > %g)", b, a, got[b], d, tol)
		}
	}
}

func TestBitsPerParam(t *testing.T) {
	rows, cols := 1024, 1024
	w := randVec(8, rows*cols, 1)
	for _, c := range []struct {
		cfg  QuantConfig
		want float64
	}{
		{QuantConfig{Method: NF4, DoubleQuant: true}, 4 + 8.0/64 + 32.0/(64*256)},
		{QuantConfig{Method: NF4}, 4.5},
		{QuantConfig{Method: FP4, DoubleQuant: true}, 4 + 8.0/64 + 32.0/(64*256)},
		{QuantConfig{Method: Q8_0}, 8.5},
	} {
		q, err := QuantizeConfig(w, rows, cols, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.BitsPerParam(); math.Abs(got-c.want) > 1e-4 {
			t.Errorf("%+v: %.5f bits/param, want %.5f", c.cfg, got, c.want)
		}
		if q.FP32Bytes() != 4*rows*cols {
			t.Errorf("fp32 bytes %d", q.FP32Bytes())
		}
	}
	q, _ := Quantize(w, rows, cols, NF4)
	if b := q.BitsPerParam(); b < 4.126 || b > 4.128 {
		t.Errorf("NF4+DQ %.4f bits/param, want ≈4.127 (QLoRA §3)", b)
	}
}

// TestRoundTripError bounds each element's error by half the largest gap of
// the code times its block's scale, and the relative RMS error by values
// measured for Gaussian weights.
func TestRoundTripError(t *testing.T) {
	rows, cols := 96, 200 // blocks span rows; last 4-bit block is short
	w := randVec(9, rows*cols, 0.05)
	for _, c := range []struct {
		m       Method
		halfGap float64 // largest half-gap between adjacent code values
		maxRMS  float64
	}{
		{NF4, (1 - 0.6961928009986877) / 2, 0.11},
		{FP4, (1 - 8.0/12) / 2, 0.16},
		{Q8_0, (0.5 + 127.0/2048) / 127, 0.006}, // plus the f16 rounding of d
	} {
		q, err := Quantize(w, rows, cols, c.m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := q.Dequantize()
		if err != nil {
			t.Fatal(err)
		}
		var se, ss float64
		for i, v := range w {
			d := float64(got[i] - v)
			se += d * d
			ss += float64(v) * float64(v)
			bs := q.BlockSize
			var amax float64
			for _, u := range w[i/bs*bs : min(i/bs*bs+bs, len(w))] {
				amax = math.Max(amax, math.Abs(float64(u)))
			}
			if math.Abs(d) > c.halfGap*amax*1.05+1e-6 {
				t.Fatalf("%v element %d: %v → %v, error %g > %g", c.m, i, v, got[i], d, c.halfGap*amax)
			}
		}
		rms := math.Sqrt(se / ss)
		t.Logf("%v: relative RMS error %.4f, %.3f bits/param", c.m, rms, q.BitsPerParam())
		if rms > c.maxRMS {
			t.Errorf("%v relative RMS error %.4f > %.4f", c.m, rms, c.maxRMS)
		}
	}
}

// TestFusedMatVecAgreesWithDequantized checks the float-decoding kernels;
// the integer-dot ones, which round the activation, are TestIntDotKernels'.
func TestFusedMatVecAgreesWithDequantized(t *testing.T) {
	for _, m := range []Method{NF4, FP4, Q8_0} {
		for _, sh := range [][2]int{{5, 64}, {17, 128}, {64, 172}, {9, 33}, {3, 7}, {40, 512}, {7, 96}, {3, 288}, {2, 32}} {
			rows, cols := sh[0], sh[1]
			w := randVec(uint64(rows+cols), rows*cols, 1)
			x := randVec(3, cols, 1)
			q, err := Quantize(w, rows, cols, m)
			if err != nil {
				t.Fatal(err)
			}
			deq, _ := q.Dequantize()
			want := refMatVec(deq, x, rows, cols)
			for _, e := range []Exec{{NoVNNI: true}, {NoAVX512: true}, {NoAsm: true}, {Threads: 2, NoVNNI: true}, {Threads: 2, NoAVX512: true}} {
				out := make([]float32, rows)
				if err := e.QMatVec(out, q, x); err != nil {
					t.Fatal(err)
				}
				assertClose(t, fmt.Sprintf("%v %v %+v", m, sh, e), out, want, 1e-5, math.Sqrt(float64(cols)))
			}
			// Batched forms.
			n := 3
			xb := randVec(4, n*cols, 1)
			out := make([]float32, n*rows)
			if err := (Exec{NoVNNI: true}).QMatMul(out, xb, q, n); err != nil {
				t.Fatal(err)
			}
			for b := 0; b < n; b++ {
				assertClose(t, fmt.Sprintf("QMatMul %v %v row %d", m, sh, b), out[b*rows:(b+1)*rows], refMatVec(deq, xb[b*cols:(b+1)*cols], rows, cols), 1e-5, math.Sqrt(float64(cols)))
			}
			dy := randVec(5, n*rows, 1)
			dx := make([]float32, n*cols)
			if err := (Exec{Threads: 2}).QMatMulGradInput(dx, dy, q, n); err != nil {
				t.Fatal(err)
			}
			wantDX := make([]float64, n*cols)
			for b := 0; b < n; b++ {
				for r := 0; r < rows; r++ {
					for c := 0; c < cols; c++ {
						wantDX[b*cols+c] += float64(dy[b*rows+r]) * float64(deq[r*cols+c])
					}
				}
			}
			assertClose(t, fmt.Sprintf("QMatMulGradInput %v %v", m, sh), dx, wantDX, 1e-5, math.Sqrt(float64(rows)))
		}
	}
}

func TestQuantizeRejectsBadInput(t *testing.T) {
	var nf *NonFiniteError
	if _, err := Quantize([]float32{1, 2, 3, float32(math.NaN())}, 2, 2, NF4); !errors.As(err, &nf) || nf.Row != 1 || nf.Col != 1 {
		t.Errorf("NaN at [1,1]: got %v, want a NonFiniteError there", err)
	}
	if _, err := Quantize(make([]float32, 4), 1, 2, NF4); err == nil {
		t.Error("wrong length accepted")
	}
	if _, err := Quantize(make([]float32, 4), 2, 2, MethodInvalid); err == nil {
		t.Error("invalid method accepted")
	}
	q, _ := Quantize(make([]float32, 128), 2, 64, NF4)
	q.QAbsmax = q.QAbsmax[:1]
	if err := (Exec{}).QMatVec(make([]float32, 2), q, make([]float32, 64)); err == nil {
		t.Error("inconsistent QMatrix accepted")
	}
	if _, err := Quantize(make([]float32, 64), 1, 64, dtype.Int8); err == nil {
		t.Error("int8 (LLM.int8(), which the kernels do not implement) accepted")
	}
}

func TestF16RoundTrip(t *testing.T) {
	for _, c := range []struct {
		f float32
		h uint16
	}{{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {1e6, 0x7c00}, {6e-8, 0x0001}, {0.000061035156, 0x0400}, {0, 0}, {1.0009765625, 0x3c01}, {1.00048828125, 0x3c00}} {
		if got := half.F32ToF16(c.f); got != c.h {
			t.Errorf("half.F32ToF16(%v) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	for h := 0; h < 0x7c00; h++ {
		if got := half.F32ToF16(half.F16ToF32(uint16(h))); got != uint16(h) {
			t.Fatalf("f16 %#04x round-trips to %#04x", h, got)
		}
	}
}

// TestRows4MatchesRowDot checks that the chunked 4-bit decode product gives
// exactly the sums of the per-row one, across chunk boundaries, with and
// without double quantisation and with rows that end mid-run.
func TestRows4MatchesRowDot(t *testing.T) {
	if !useAsm {
		t.Skip("no assembly kernels on this machine")
	}
	for _, m := range []Method{NF4, FP4} {
		for _, dq := range []bool{false, true} {
			for _, sh := range [][2]int{{130, 288}, {65, 64}, {70, 96}, {129, 768}, {1, 32}} {
				rows, cols := sh[0], sh[1]
				w := randVec(uint64(7*rows+cols), rows*cols, 1)
				x := randVec(5, cols, 1)
				q, err := QuantizeConfig(w, rows, cols, QuantConfig{Method: m, DoubleQuant: dq})
				if err != nil {
					t.Fatal(err)
				}
				k := newQKernel(q, true)
				xp := k.prepare(x)
				want := make([]float32, rows)
				scr := k.newScratch()
				for r := range want {
					want[r] = k.rowDot(r, x, xp, scr)
				}
				for _, lo := range []int{0, 1, rows / 2} {
					got := make([]float32, rows)
					k.rows4(got, xp, lo, rows)
					for r := lo; r < rows; r++ {
						if math.Float32bits(got[r]) != math.Float32bits(want[r]) {
							t.Fatalf("%v dq=%v %v from %d: row %d = %v, want %v", m, dq, sh, lo, r, got[r], want[r])
						}
					}
				}
			}
		}
	}
}

// TestRowsQ8MatchesRowDot checks that the Q8_0 row loop gives exactly the
// per-row sums.
func TestRowsQ8MatchesRowDot(t *testing.T) {
	if !useAsm {
		t.Skip("no assembly kernels on this machine")
	}
	for _, sh := range [][2]int{{130, 288}, {3, 32}, {17, 768}} {
		rows, cols := sh[0], sh[1]
		q, err := Quantize(randVec(uint64(rows), rows*cols, 1), rows, cols, Q8_0)
		if err != nil {
			t.Fatal(err)
		}
		x := randVec(9, cols, 1)
		k := newQKernel(q, true)
		got := make([]float32, rows)
		k.rowsQ8(got, x, 1, rows)
		for r := 1; r < rows; r++ {
			if want := k.rowDot(r, x, nil, nil); math.Float32bits(got[r]) != math.Float32bits(want) {
				t.Fatalf("%v row %d = %v, want %v", sh, r, got[r], want)
			}
		}
	}
}

// TestEncodeNF4Table checks the table-driven encoder against the count of
// midpoints below x on every midpoint, its float neighbours, the ends and
// a dense sweep of [-1.01, 1.01].
func TestEncodeNF4Table(t *testing.T) {
	ref := func(x float32) byte {
		var c byte
		for _, m := range nf4Thresholds {
			if x > m {
				c++
			}
		}
		return c
	}
	var xs []float32
	for _, m := range nf4Thresholds {
		xs = append(xs, m, math.Nextafter32(m, -2), math.Nextafter32(m, 2))
	}
	for i := 0; i <= 2_000_000; i++ {
		xs = append(xs, -1.01+2.02*float32(i)/2_000_000)
	}
	xs = append(xs, -1, 1, 0, float32(math.Copysign(0, -1)))
	for _, x := range xs {
		if got, want := encodeNF4(x), ref(x); got != want {
			t.Fatalf("encodeNF4(%v) = %d, want %d", x, got, want)
		}
	}
}

// TestQuantizeThreadsSame checks that quantising on several threads gives
// the same bytes as on one, and still reports a non-finite weight's place.
func TestQuantizeThreadsSame(t *testing.T) {
	w := randVec(3, 1000*64+32, 0.05)
	for _, m := range []Method{NF4, FP4, Q8_0} {
		one, err := QuantizeConfig(w, 1001, 64, QuantConfig{Method: m, DoubleQuant: m != Q8_0})
		if err == nil {
			t.Fatal("1001×64 from 64032 values accepted")
		}
		one, err = QuantizeConfig(w[:1000*64], 1000, 64, QuantConfig{Method: m, DoubleQuant: m != Q8_0})
		if err != nil {
			t.Fatal(err)
		}
		many, err := Exec{Threads: 3}.QuantizeConfig(w[:1000*64], 1000, 64, QuantConfig{Method: m, DoubleQuant: m != Q8_0})
		if err != nil {
			t.Fatal(err)
		}
		if string(one.Data) != string(many.Data) || !slices.Equal(one.QAbsmax, many.QAbsmax) || !slices.Equal(one.Absmax2, many.Absmax2) {
			t.Errorf("%v: threads change the encoding", m)
		}
		bad := slices.Clone(w[:1000*64])
		bad[700*64+5] = float32(math.Inf(-1))
		bad[900*64+1] = float32(math.NaN())
		_, err = Exec{Threads: 3}.QuantizeConfig(bad, 1000, 64, QuantConfig{Method: m})
		var nf *NonFiniteError
		if !errors.As(err, &nf) || nf.Row != 700 || nf.Col != 5 {
			t.Errorf("%v: %v, want the -Inf at row 700, column 5", m, err)
		}
	}
}
