package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// kquantInput is 16 super-blocks of normally distributed values whose scale
// changes from block to block (as in real weights), with an outlier in some.
func kquantInput() []float32 {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 16*256)
	for i := range x {
		x[i] = float32(r.NormFloat64()) * float32(0.01+0.02*float64(i/256))
	}
	x[300], x[2000] = 0.9, -0.7
	return x
}

// relRMSE is the root mean square error of y against x over x's RMS.
func relRMSE(x, y []float32) float64 {
	var e, s float64
	for i := range x {
		d := float64(y[i] - x[i])
		e += d * d
		s += float64(x[i]) * float64(x[i])
	}
	return math.Sqrt(e / s)
}

// TestKQuantRoundTrip quantises with our encoders and decodes with the
// decoders that match ggml's bit for bit: the error is within what each
// format's levels allow, Q4_K beats Q4_0 on the same values (what its
// per-32 scales and offsets buy), and Q6_K beats Q5_0.
func TestKQuantRoundTrip(t *testing.T) {
	x := kquantInput()
	errs := map[weights.DType]float64{}
	for _, c := range []struct {
		d    weights.DType
		q    func([]float32) ([]byte, error)
		bits float64
	}{{weights.Q4_0, QuantizeQ4_0, 4}, {weights.Q5_0, QuantizeQ5_0, 5}, {weights.Q4_K, QuantizeQ4_K, 4}, {weights.Q6_K, QuantizeQ6_K, 5}} {
		data, err := c.q(x)
		if err != nil {
			t.Fatal(err)
		}
		if _, n, _ := BlockSize(c.d); len(data) != len(x)/map[bool]int{true: 256, false: 32}[n > 100]*n {
			t.Fatalf("%v: %d bytes", c.d, len(data))
		}
		y := dq(t, c.d, len(x), data)
		errs[c.d] = relRMSE(x, y)
		// Per block of 32 values: no value is off by more than one level of
		// a grid spanning the block's range (a loose, format-wide bound;
		// Q6_K's eight-bit sub-block scales are steps of the super-block's
		// largest, which costs it a bit where an outlier sets that).
		for b := 0; b < len(x); b += 32 {
			var lo, hi float32
			for _, v := range x[b : b+32] {
				lo, hi = min(lo, v), max(hi, v)
			}
			step := float64(hi-lo) / (math.Exp2(c.bits) - 1)
			for i := b; i < b+32; i++ {
				if e := math.Abs(float64(y[i] - x[i])); e > step {
					t.Fatalf("%v: y[%d] = %v, x = %v: error %.4g over one level %.4g", c.d, i, y[i], x[i], e, step)
				}
			}
		}
	}
	t.Logf("relative RMSE: %v", errs)
	if errs[weights.Q4_K] >= errs[weights.Q4_0] || errs[weights.Q6_K] >= errs[weights.Q5_0] || errs[weights.Q6_K] > 0.03 || errs[weights.Q4_K] > 0.12 {
		t.Errorf("relative RMSE %v: want Q4_K < Q4_0, Q6_K < Q5_0, Q6_K ≤ 0.03, Q4_K ≤ 0.12", errs)
	}
}

// TestKQuantEdges: zero, constant, one-signed and tiny blocks decode to
// what they were, and lengths that are not whole blocks are refused.
func TestKQuantEdges(t *testing.T) {
	for name, fill := range map[string]func(i int) float32{
		"zero":     func(int) float32 { return 0 },
		"constant": func(int) float32 { return 0.25 },
		"negative": func(i int) float32 { return -float32(i%17) / 16 },
		"positive": func(i int) float32 { return float32(i%13) / 12 },
		"small":    func(i int) float32 { return float32(i%5-2) * 1e-3 },
	} {
		x := make([]float32, 256)
		for i := range x {
			x[i] = fill(i)
		}
		for _, c := range []struct {
			d   weights.DType
			q   func([]float32) ([]byte, error)
			tol float64
		}{{weights.Q4_K, QuantizeQ4_K, 0.08}, {weights.Q6_K, QuantizeQ6_K, 0.04}, {weights.Q5_0, QuantizeQ5_0, 0.07}} {
			data, err := c.q(x)
			if err != nil {
				t.Fatal(err)
			}
			y := dq(t, c.d, 256, data)
			var amax float64
			for _, v := range x {
				amax = max(amax, math.Abs(float64(v)))
			}
			for i := range x {
				if e := math.Abs(float64(y[i] - x[i])); e > c.tol*amax || math.IsNaN(float64(y[i])) {
					t.Fatalf("%s %v: y[%d] = %v, x = %v", name, c.d, i, y[i], x[i])
				}
			}
		}
	}
	for _, q := range []func([]float32) ([]byte, error){QuantizeQ4_K, QuantizeQ6_K, QuantizeQ5_0} {
		if _, err := q(make([]float32, 100)); err == nil {
			t.Error("100 values accepted")
		}
	}
}
