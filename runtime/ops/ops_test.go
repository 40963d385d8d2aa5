package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func randVec(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func matrix(g *gorgonia.ExprGraph, name string, rows, cols int, data []float32) *gorgonia.Node {
	return gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(rows, cols), gorgonia.WithName(name),
		gorgonia.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(data))))
}

// weightedSum returns Σ y∘R, a loss whose gradient with respect to y is R.
func weightedSum(t *testing.T, g *gorgonia.ExprGraph, y *gorgonia.Node, r []float32) *gorgonia.Node {
	t.Helper()
	sh := y.Shape()
	rn := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(sh[0], sh[1]), gorgonia.WithName(y.Name()+".R"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(sh[0], sh[1]), tensor.WithBacking(r))))
	return gorgonia.Must(gorgonia.Sum(gorgonia.Must(gorgonia.HadamardProd(y, rn))))
}

func run(t *testing.T, g *gorgonia.ExprGraph) {
	t.Helper()
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
}

func values(t *testing.T, n *gorgonia.Node, grad bool) []float32 {
	t.Helper()
	var v gorgonia.Value
	if grad {
		var err error
		if v, err = n.Grad(); err != nil {
			t.Fatalf("%s: %v", n.Name(), err)
		}
	} else {
		v = n.Value()
	}
	return append([]float32(nil), v.Data().([]float32)...)
}

func assertClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*math.Max(1, math.Abs(float64(want[i]))) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}

func TestLinearForwardAndGradients(t *testing.T) {
	n, in, out := 3, 40, 9
	xd, wd, r := randVec(1, n*in), randVec(2, out*in), randVec(3, n*out)
	g := gorgonia.NewGraph()
	x := matrix(g, "x", n, in, xd)
	w := matrix(g, "w", out, in, wd)
	y, err := Linear("fc", x, w, kernels.Exec{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gorgonia.Grad(weightedSum(t, g, y, r), x, w); err != nil {
		t.Fatal(err)
	}
	run(t, g)
	wantY := make([]float32, n*out)
	_ = kernels.Exec{NoAsm: true}.MatMul(wantY, xd, wd, n, out, in)
	assertClose(t, "y", values(t, y, false), wantY, 1e-5)
	// dx = R·W, dW = Rᵀ·x.
	wantDX := make([]float32, n*in)
	wantDW := make([]float32, out*in)
	for b := 0; b < n; b++ {
		for o := 0; o < out; o++ {
			for i := 0; i < in; i++ {
				wantDX[b*in+i] += r[b*out+o] * wd[o*in+i]
				wantDW[o*in+i] += r[b*out+o] * xd[b*in+i]
			}
		}
	}
	assertClose(t, "dx", values(t, x, true), wantDX, 1e-4)
	assertClose(t, "dW", values(t, w, true), wantDW, 1e-4)
}

func TestLinearRejectsMismatchedShapes(t *testing.T) {
	g := gorgonia.NewGraph()
	x := matrix(g, "x", 2, 3, make([]float32, 6))
	w := matrix(g, "w", 4, 5, make([]float32, 20))
	if _, err := Linear("fc", x, w, kernels.Exec{}); err == nil {
		t.Error("Linear accepted x [2 3] with W [4 5]")
	}
}

func TestQuantLinearForwardAndInputGradient(t *testing.T) {
	n, in, out := 4, 128, 24
	xd, wd, r := randVec(4, n*in), randVec(5, out*in), randVec(6, n*out)
	for _, m := range []kernels.Method{kernels.NF4, kernels.FP4, kernels.Q8_0} {
		q, err := kernels.Quantize(wd, out, in, m)
		if err != nil {
			t.Fatal(err)
		}
		deq, _ := q.Dequantize()
		g := gorgonia.NewGraph()
		x := matrix(g, "x", n, in, append([]float32(nil), xd...))
		y, err := QuantLinear("wq", x, q, kernels.Exec{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gorgonia.Grad(weightedSum(t, g, y, r), x); err != nil {
			t.Fatal(err)
		}
		run(t, g)
		wantY := make([]float32, n*out)
		_ = kernels.Exec{}.MatMul(wantY, xd, deq, n, out, in)
		assertClose(t, fmt.Sprintf("%v y", m), values(t, y, false), wantY, 1e-4)
		wantDX := make([]float32, n*in)
		_ = kernels.Exec{}.MatMulNN(wantDX, r, deq, n, out, in)
		assertClose(t, fmt.Sprintf("%v dx", m), values(t, x, true), wantDX, 1e-4)
		// The frozen weight is not a node and has no gradient.
		if got := y.Op().(gorgonia.SDOp).DiffWRT(1); len(got) != 1 || !got[0] {
			t.Errorf("DiffWRT = %v, want [true] (x only)", got)
		}
	}
}

func TestAttentionOpGradients(t *testing.T) {
	s := kernels.AttnShape{N: 5, Pos: 2, Heads: 4, KVHeads: 2, HeadDim: 8}
	T := s.Keys() + 1 // a cache one row longer than needed
	qd := randVec(7, s.N*s.Heads*s.HeadDim)
	kd := randVec(8, T*s.KVHeads*s.HeadDim)
	vd := randVec(9, T*s.KVHeads*s.HeadDim)
	r := randVec(10, len(qd))
	var outs [][]float32
	for _, kind := range []kernels.AttnKernel{kernels.AttnEager, kernels.AttnFlash2} {
		g := gorgonia.NewGraph()
		q := matrix(g, "q", s.N, s.Heads*s.HeadDim, append([]float32(nil), qd...))
		k := matrix(g, "k", T, s.KVHeads*s.HeadDim, append([]float32(nil), kd...))
		v := matrix(g, "v", T, s.KVHeads*s.HeadDim, append([]float32(nil), vd...))
		y, err := Attention("attn", q, k, v, kind, s, kernels.Exec{BlockQ: 2, BlockK: 3})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gorgonia.Grad(weightedSum(t, g, y, r), q, k, v); err != nil {
			t.Fatal(err)
		}
		run(t, g)
		// The kernels' own backward pass (checked against finite
		// differences in runtime/kernels) gives the expected gradients.
		out := make([]float32, len(qd))
		lse := make([]float32, s.Heads*s.N)
		_ = kernels.Exec{}.AttentionForward(kind, out, lse, qd, kd, vd, s)
		dq, dk, dv := make([]float32, len(qd)), make([]float32, len(kd)), make([]float32, len(vd))
		if err := (kernels.Exec{}).AttentionBackward(kind, dq, dk, dv, qd, kd, vd, out, lse, r, s); err != nil {
			t.Fatal(err)
		}
		assertClose(t, kind.String()+" out", values(t, y, false), out, 1e-5)
		assertClose(t, kind.String()+" dq", values(t, q, true), dq, 1e-4)
		assertClose(t, kind.String()+" dk", values(t, k, true), dk, 1e-4)
		assertClose(t, kind.String()+" dv", values(t, v, true), dv, 1e-4)
		// The cache row past Pos+N gets no gradient.
		for _, x := range values(t, k, true)[s.Keys()*s.KVHeads*s.HeadDim:] {
			if x != 0 {
				t.Fatalf("%v: gradient %v beyond the attended keys", kind, x)
			}
		}
		outs = append(outs, values(t, y, false))
	}
	assertClose(t, "flash2 vs eager", outs[1], outs[0], 1e-5)
}

// TestAttentionOpFiniteDifferences perturbs one element of each input
// through the whole graph and compares the change in the loss with the
// gradient.
func TestAttentionOpFiniteDifferences(t *testing.T) {
	s := kernels.AttnShape{N: 4, Heads: 2, KVHeads: 1, HeadDim: 4}
	qd := randVec(11, s.N*8)
	kd := randVec(12, s.N*4)
	vd := randVec(13, s.N*4)
	r := randVec(14, len(qd))
	loss := func(q, k, v []float32) (float64, [3][]float32) {
		g := gorgonia.NewGraph()
		qn := matrix(g, "q", s.N, 8, append([]float32(nil), q...))
		kn := matrix(g, "k", s.N, 4, append([]float32(nil), k...))
		vn := matrix(g, "v", s.N, 4, append([]float32(nil), v...))
		y, err := Attention("attn", qn, kn, vn, kernels.AttnFlash2, s, kernels.Exec{})
		if err != nil {
			t.Fatal(err)
		}
		l := weightedSum(t, g, y, r)
		if _, err := gorgonia.Grad(l, qn, kn, vn); err != nil {
			t.Fatal(err)
		}
		run(t, g)
		return float64(l.Value().Data().(float32)), [3][]float32{values(t, qn, true), values(t, kn, true), values(t, vn, true)}
	}
	_, grads := loss(qd, kd, vd)
	const eps = 1e-2
	for which, in := range [][]float32{qd, kd, vd} {
		for _, i := range []int{0, len(in) / 2, len(in) - 1} {
			orig := in[i]
			in[i] = orig + eps
			lp, _ := loss(qd, kd, vd)
			in[i] = orig - eps
			lm, _ := loss(qd, kd, vd)
			in[i] = orig
			fd := (lp - lm) / (2 * eps)
			if d := math.Abs(fd - float64(grads[which][i])); d > 2e-3*math.Max(1, math.Abs(fd)) {
				t.Errorf("input %d element %d: gradient %g, finite difference %g", which, i, grads[which][i], fd)
			}
		}
	}
}

// TestLinearOnTransposedView feeds Linear a transposed weight view, whose
// data is not in row-major order.
func TestLinearOnTransposedView(t *testing.T) {
	n, in, out := 2, 8, 3
	xd, wtd := randVec(21, n*in), randVec(22, in*out) // W stored transposed, [in, out]
	g := gorgonia.NewGraph()
	x := matrix(g, "x", n, in, xd)
	wt := matrix(g, "wt", in, out, wtd)
	w := gorgonia.Must(gorgonia.Transpose(wt))
	y, err := Linear("fc", x, w, kernels.Exec{})
	if err != nil {
		t.Fatal(err)
	}
	run(t, g)
	want := make([]float32, n*out)
	for b := 0; b < n; b++ {
		for o := 0; o < out; o++ {
			for i := 0; i < in; i++ {
				want[b*out+o] += xd[b*in+i] * wtd[i*out+o]
			}
		}
	}
	assertClose(t, "y", values(t, y, false), want, 1e-5)
}

// TestQuantLinearReusedKeepsOneBuffer runs a QuantLinearReused graph twice
// with different inputs, checking both results, and calls its op's Do
// twice, checking that the second call writes into the first one's buffer.
func TestQuantLinearReusedKeepsOneBuffer(t *testing.T) {
	n, in, out := 1, 96, 40
	wd := randVec(7, out*in)
	q, err := kernels.Quantize(wd, out, in, kernels.NF4)
	if err != nil {
		t.Fatal(err)
	}
	deq, _ := q.Dequantize()
	g := gorgonia.NewGraph()
	xd := randVec(8, n*in)
	x := matrix(g, "x", n, in, xd)
	y, err := QuantLinearReused("w1", x, q, kernels.Exec{})
	if err != nil {
		t.Fatal(err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	want := make([]float32, n*out)
	for i, seed := range []uint64{8, 9} {
		copy(xd, randVec(seed, n*in))
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		_ = kernels.Exec{}.MatMul(want, xd, deq, n, out, in)
		assertClose(t, fmt.Sprintf("run %d", i), values(t, y, false), want, 1e-4)
		m.Reset()
	}
	op := y.Op()
	v1, err := op.Do(tensor.New(tensor.WithShape(n, in), tensor.WithBacking(randVec(10, n*in))))
	if err != nil {
		t.Fatal(err)
	}
	xv := randVec(11, n*in)
	v2, err := op.Do(tensor.New(tensor.WithShape(n, in), tensor.WithBacking(xv)))
	if err != nil {
		t.Fatal(err)
	}
	d1, d2 := v1.Data().([]float32), v2.Data().([]float32)
	if &d1[0] != &d2[0] {
		t.Errorf("second Do wrote a new buffer; want the first one's")
	}
	_ = kernels.Exec{}.MatMul(want, xv, deq, n, out, in)
	assertClose(t, "second Do", d2, want, 1e-4)
}
