package kernels

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/internal/half"
)

// TestBF16Kernels checks bf16 storage: each stored weight is the float32
// rounded to nearest even bfloat16, and W·x, X·Wᵀ and dY·W equal the fp32
// products of the rounded weights (to summation-order rounding), while a
// non-finite weight is refused with its position.
func TestBF16Kernels(t *testing.T) {
	const rows, cols, n = 37, 300, 5
	r := rand.New(rand.NewPCG(1, 2))
	w := make([]float32, rows*cols)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	for _, threads := range []int{1, 3} {
		e := Exec{Threads: threads}
		q, err := e.QuantizeConfig(w, rows, cols, QuantConfig{Method: BF16})
		if err != nil {
			t.Fatal(err)
		}
		if q.Bytes() != 2*rows*cols {
			t.Fatalf("%d bytes, want %d", q.Bytes(), 2*rows*cols)
		}
		wr, err := q.Dequantize()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range w {
			if wr[i] != half.BF16ToF32(half.F32ToBF16(v)) {
				t.Fatalf("weight %d: %g stored as %g", i, v, wr[i])
			}
			if math.Abs(float64(wr[i]-v)) > math.Abs(float64(v))/256 {
				t.Fatalf("weight %d: %g rounded to %g, beyond 2⁻⁸ relative", i, v, wr[i])
			}
		}
		x := make([]float32, n*cols)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		dy := make([]float32, n*rows)
		for i := range dy {
			dy[i] = float32(r.NormFloat64())
		}
		near := func(what string, got, want []float32) {
			t.Helper()
			for i := range want {
				if math.Abs(float64(got[i]-want[i])) > 1e-4*(1+math.Abs(float64(want[i]))) {
					t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
				}
			}
		}
		out := make([]float32, n*rows)
		if err := e.QMatMul(out, x, q, n); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, n*rows)
		for b := range n {
			for j := range rows {
				var s float64
				for k := range cols {
					s += float64(x[b*cols+k]) * float64(wr[j*cols+k])
				}
				want[b*rows+j] = float32(s)
			}
		}
		near("X·Wᵀ", out, want)
		vec := make([]float32, rows)
		if err := e.QMatVec(vec, q, x[:cols]); err != nil {
			t.Fatal(err)
		}
		near("W·x", vec, want[:rows])
		dx := make([]float32, n*cols)
		if err := e.QMatMulGradInput(dx, dy, q, n); err != nil {
			t.Fatal(err)
		}
		wantDX := make([]float32, n*cols)
		for b := range n {
			for k := range cols {
				var s float64
				for j := range rows {
					s += float64(dy[b*rows+j]) * float64(wr[j*cols+k])
				}
				wantDX[b*cols+k] = float32(s)
			}
		}
		near("dY·W", dx, wantDX)
	}
	w[5*cols+7] = float32(math.Inf(1))
	var nf *NonFiniteError
	if _, err := QuantizeConfig(w, rows, cols, QuantConfig{Method: BF16}); !errors.As(err, &nf) || nf.Row != 5 || nf.Col != 7 {
		t.Fatalf("an infinite weight gave %v", err)
	}
	bad := &QMatrix{Method: BF16, Rows: 2, Cols: 3, BlockSize: BlockBF16, Data: make([]byte, 11)}
	if bad.Validate() == nil {
		t.Fatal("a bf16 matrix with 11 bytes for 6 weights validates")
	}
}
