package kernels

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"testing"
)

// fma32 is a·b + c rounded once to float32, as VFMADD231SS computes it.
func fma32(a, b, c float32) float32 {
	var p, s big.Float
	p.SetPrec(600).SetFloat64(float64(a)).Mul(&p, new(big.Float).SetFloat64(float64(b)))
	s.SetPrec(600).Add(&p, new(big.Float).SetFloat64(float64(c)))
	f, _ := s.Float32()
	return f
}

// llama2cDot is the dot product of w and x in the order gcc 12 -Ofast
// -march=native gives llama2.c's matmul loop on an AVX-512 machine, read
// off its assembly: sixteen lanes summed by FMA, their halves added, one
// 8-wide FMA step when 8 or more elements remain, the 8 lanes reduced by
// halving, and the last n mod 8 elements added one by one by FMA.
func llama2cDot(w, x []float32) float32 {
	n := len(w)
	var s8 [8]float32
	j := 0
	if n >= 16 {
		var l16 [16]float32
		for ; j+16 <= n; j += 16 {
			for l := range 16 {
				l16[l] = fma32(w[j+l], x[j+l], l16[l])
			}
		}
		for l := range 8 {
			s8[l] = l16[l+8] + l16[l]
		}
	}
	if n-j >= 8 {
		for l := range 8 {
			s8[l] = fma32(w[j+l], x[j+l], s8[l])
		}
		j += 8
	}
	var t [4]float32
	for l := range 4 {
		t[l] = s8[l+4] + s8[l]
	}
	u0, u1 := t[2]+t[0], t[3]+t[1]
	r := u1 + u0
	for ; j < n; j++ {
		r = fma32(w[j], x[j], r)
	}
	return r
}

// TestMatVecIsLlama2cOrder checks that the assembly MatVec gives, bit for
// bit, llama2.c's products (llama2cDot) for every row length up to 80 and
// the model widths, with AVX-512 and with AVX2, on one and two threads,
// whichever of the row kernels (four quarters side by side, or one row at
// a time) a row goes through.
// The values span several magnitudes, so another order of the sums would
// differ in the last bits; the shapes include every tail of 0–15.
func TestMatVecIsLlama2cOrder(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA kernels on this machine: MatVec runs the Go loop, whose order is its own")
	}
	cols := []int{288, 512, 768, 1376, 2048, 64 + 12, 768 + 15}
	for c := 0; c <= 80; c++ {
		cols = append(cols, c)
	}
	for i, c := range cols {
		// 9 rows: two rows from each quarter and one alone; 37: nine and one.
		rows := 9
		if i%3 == 0 {
			rows = 37
		}
		w := randVec(uint64(100+c), rows*c, 1)
		x := randVec(uint64(200+c), c, 1)
		for i := range w {
			w[i] *= float32(math.Pow(2, float64(i%23-11)))
		}
		want := make([]float32, rows)
		for r := range rows {
			want[r] = llama2cDot(w[r*c:(r+1)*c], x)
		}
		for _, e := range []Exec{{}, {NoAVX512: true}, {Threads: 2}} {
			out := make([]float32, rows)
			if err := e.MatVec(out, w, x, rows, c); err != nil {
				t.Fatal(err)
			}
			for r := range rows {
				if math.Float32bits(out[r]) != math.Float32bits(want[r]) {
					t.Errorf("%d×%d %+v row %d: %v (%#x), llama2.c's order gives %v (%#x)", rows, c, e, r, out[r], math.Float32bits(out[r]), want[r], math.Float32bits(want[r]))
				}
			}
		}
		ws := [][]float32{w[:4*c], w[4*c : 8*c]}
		outs := [][]float32{make([]float32, 4), make([]float32, 4)}
		if err := (Exec{Threads: 2}).MatVecs(outs, ws, []int{4, 4}, x, c); err != nil {
			t.Fatal(err)
		}
		for r := range 8 {
			if got := outs[r/4][r%4]; math.Float32bits(got) != math.Float32bits(want[r]) {
				t.Errorf("MatVecs %d×%d row %d: %v, llama2.c's order gives %v", 4, c, r, got, want[r])
			}
		}
	}
}

func TestMatVecAgreesWithReference(t *testing.T) {
	shapes := [][2]int{{1, 1}, {3, 7}, {4, 8}, {5, 17}, {8, 64}, {13, 100}, {64, 172}, {33, 513}, {260, 288}}
	for _, sh := range shapes {
		rows, cols := sh[0], sh[1]
		w := randVec(uint64(rows*1000+cols), rows*cols, 1)
		x := randVec(uint64(cols), cols, 1)
		want := refMatVec(w, x, rows, cols)
		for _, e := range []Exec{{}, {NoAsm: true}, {Threads: 3}, {Threads: -1, NoAsm: true}} {
			out := make([]float32, rows)
			if err := e.MatVec(out, w, x, rows, cols); err != nil {
				t.Fatal(err)
			}
			assertClose(t, fmt.Sprintf("%dx%d %+v", rows, cols, e), out, want, 1e-5, 1)
		}
	}
}

func TestMatMulAgreesWithMatVec(t *testing.T) {
	// The last shape is past smallBatchFloats, so both loop orders run.
	// {8, 38, 288} is a server's decode step: two 4×4 AVX-512 tiles per four
	// weight rows, and two rows left over; {16, 70, 172} has a 12-column
	// tail past the 16-wide tile.
	for _, sh := range [][3]int{{2, 5, 9}, {7, 33, 64}, {8, 38, 288}, {16, 70, 172}, {3, 512, 64}, {40, 37, 200}} {
		n, rows, cols := sh[0], sh[1], sh[2]
		w := randVec(1, rows*cols, 1)
		x := randVec(2, n*cols, 1)
		for _, e := range []Exec{{}, {NoAsm: true}, {NoAVX512: true}, {Threads: 2, TileRows: 5}} {
			out := make([]float32, n*rows)
			if err := e.MatMul(out, x, w, n, rows, cols); err != nil {
				t.Fatal(err)
			}
			for b := 0; b < n; b++ {
				want := refMatVec(w, x[b*cols:(b+1)*cols], rows, cols)
				assertClose(t, fmt.Sprintf("%v row %d %+v", sh, b, e), out[b*rows:(b+1)*rows], want, 1e-5, 1)
			}
		}
	}
}

// TestBatchIsMatVec checks that with AVX-512 a batch (a server's decode
// step, a prompt) gives every input row MatVec's bits, so that batching
// never changes a sequence's logits and a prompt's are those of feeding it
// token by token: small batches and ones past smallBatchFloats (the tiled
// loop, also with a tile of 5 rows), with and without a tail past 16
// columns, a remainder of inputs past the 4×4 tiles and of rows past the
// four-row groups, on one and two threads.
func TestBatchIsMatVec(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512 on this machine: batches run the 4×2 AVX2 tile, whose order is its own")
	}
	for _, sh := range [][3]int{{8, 38, 288}, {5, 37, 288}, {3, 40, 172}, {7, 9, 64}, {2, 30, 768}, {6, 13, 20}, {34, 38, 288}, {23, 21, 300}, {40, 37, 200}} {
		n, rows, cols := sh[0], sh[1], sh[2]
		w := randVec(11, rows*cols, 1)
		x := randVec(12, n*cols, 1)
		for i := range w {
			w[i] *= float32(math.Pow(2, float64(i%19-9)))
		}
		for _, e := range []Exec{{}, {Threads: 2}, {TileRows: 5}} {
			out := make([]float32, n*rows)
			if err := e.MatMul(out, x, w, n, rows, cols); err != nil {
				t.Fatal(err)
			}
			for b := range n {
				want := make([]float32, rows)
				if err := (Exec{}).MatVec(want, w, x[b*cols:(b+1)*cols], rows, cols); err != nil {
					t.Fatal(err)
				}
				for r := range rows {
					if got := out[b*rows+r]; math.Float32bits(got) != math.Float32bits(want[r]) {
						t.Errorf("%v %+v input %d row %d: %v, MatVec gives %v", sh, e, b, r, got, want[r])
					}
				}
			}
		}
	}
}

func TestMatMulTransAAndNN(t *testing.T) {
	n, m, k := 5, 7, 19
	a := randVec(3, n*m, 1)
	b := randVec(4, n*k, 1)
	out := make([]float32, m*k)
	if err := (Exec{}).MatMulTransA(out, a, b, n, m, k, false); err != nil {
		t.Fatal(err)
	}
	want := make([]float64, m*k)
	for i := 0; i < n; i++ {
		for r := 0; r < m; r++ {
			for c := 0; c < k; c++ {
				want[r*k+c] += float64(a[i*m+r]) * float64(b[i*k+c])
			}
		}
	}
	assertClose(t, "AᵀB", out, want, 1e-5, 1)

	bb := randVec(5, m*k, 1)
	out2 := make([]float32, n*k)
	if err := (Exec{Threads: 2}).MatMulNN(out2, a, bb, n, m, k); err != nil {
		t.Fatal(err)
	}
	want2 := make([]float64, n*k)
	for i := 0; i < n; i++ {
		for j := 0; j < m; j++ {
			for c := 0; c < k; c++ {
				want2[i*k+c] += float64(a[i*m+j]) * float64(bb[j*k+c])
			}
		}
	}
	assertClose(t, "AB", out2, want2, 1e-5, 1)
}

func TestDotAndAxpyAsmMatchGeneric(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 100, 1000} {
		a := randVec(uint64(n), n, 1)
		b := randVec(uint64(n+1), n, 1)
		got := Dot(a, b)
		want := refMatVec(a, b, 1, n)
		assertClose(t, fmt.Sprintf("dot%d", n), []float32{got}, want, 1e-5, 1)
		y := randVec(9, n, 1)
		yw := f64s(y)
		for i := range yw {
			yw[i] += 0.5 * float64(a[i])
		}
		Axpy(y, 0.5, a)
		assertClose(t, fmt.Sprintf("axpy%d", n), y, yw, 1e-6, 1)
	}
}

func TestMatVecRejectsBadShapes(t *testing.T) {
	var se *ShapeError
	if err := MatVec(make([]float32, 2), make([]float32, 5), make([]float32, 3), 2, 3); !errors.As(err, &se) {
		t.Errorf("short W: got %v, want a ShapeError", err)
	}
	if err := MatVec(make([]float32, 2), make([]float32, 6), make([]float32, 3), -2, -3); err == nil {
		t.Error("negative dims accepted")
	}
	if err := (Exec{}).MatMul(make([]float32, 4), make([]float32, 6), make([]float32, 6), 2, 2, 2); err == nil {
		t.Error("MatMul with wrong X accepted")
	}
}

func TestMatMulTransAAccumulates(t *testing.T) {
	n, m, k := 3, 5, 9
	a, b := randVec(31, n*m, 1), randVec(32, n*k, 1)
	out := randVec(33, m*k, 1)
	want := f64s(out)
	for i := 0; i < n; i++ {
		for r := 0; r < m; r++ {
			for c := 0; c < k; c++ {
				want[r*k+c] += float64(a[i*m+r]) * float64(b[i*k+c])
			}
		}
	}
	if err := (Exec{}).MatMulTransA(out, a, b, n, m, k, true); err != nil {
		t.Fatal(err)
	}
	assertClose(t, "out + AᵀB", out, want, 1e-5, 1)
}

// TestGemmShapes checks the register-tiled paths of MatMulNN and
// MatMulTransA against float64 sums on shapes with row and column tails
// and several k blocks, at one and three threads, and that the thread
// count does not change a single bit.
func TestGemmShapes(t *testing.T) {
	for _, sh := range [][3]int{{6, 1, 16}, {13, 40, 35}, {7, 600, 288}, {20, 9, 130}} {
		n, m, k := sh[0], sh[1], sh[2]
		a := randVec(11, n*m, 1)
		bb := randVec(12, m*k, 1)
		want := make([]float64, n*k)
		for i := 0; i < n; i++ {
			for j := 0; j < m; j++ {
				for c := 0; c < k; c++ {
					want[i*k+c] += float64(a[i*m+j]) * float64(bb[j*k+c])
				}
			}
		}
		var one []float32
		for _, threads := range []int{1, 3} {
			out := randVec(13, n*k, 1)
			if err := (Exec{Threads: threads}).MatMulNN(out, a, bb, n, m, k); err != nil {
				t.Fatal(err)
			}
			assertClose(t, fmt.Sprintf("AB %v", sh), out, want, 1e-5, math.Sqrt(float64(m)))
			if one == nil {
				one = out
			} else if !slices.Equal(one, out) {
				t.Errorf("AB %v: 3 threads differ from 1", sh)
			}
		}
		// AᵀB with A = [m, n] read as the transpose: out [n, k] = Aᵀ·B.
		at := randVec(14, m*n, 1)
		b2 := randVec(15, m*k, 1)
		want2 := make([]float64, n*k)
		for p := 0; p < m; p++ {
			for r := 0; r < n; r++ {
				for c := 0; c < k; c++ {
					want2[r*k+c] += float64(at[p*n+r]) * float64(b2[p*k+c])
				}
			}
		}
		for _, acc := range []bool{false, true} {
			out := make([]float32, n*k)
			if acc {
				for i := range out {
					out[i] = 1
				}
			}
			if err := (Exec{Threads: 2}).MatMulTransA(out, at, b2, m, n, k, acc); err != nil {
				t.Fatal(err)
			}
			w := want2
			if acc {
				w = make([]float64, len(want2))
				for i := range w {
					w[i] = want2[i] + 1
				}
			}
			assertClose(t, fmt.Sprintf("AᵀB %v acc=%v", sh, acc), out, w, 1e-5, math.Sqrt(float64(m)))
		}
	}
}
