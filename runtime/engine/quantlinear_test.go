package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func opRandVec(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func opMatrix(g *gorgonia.ExprGraph, name string, rows, cols int, data []float32) *gorgonia.Node {
	return gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(rows, cols), gorgonia.WithName(name),
		gorgonia.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(data))))
}

// opWeightedSum returns Σ y∘R, a loss whose gradient with respect to y is R.
func opWeightedSum(t *testing.T, g *gorgonia.ExprGraph, y *gorgonia.Node, r []float32) *gorgonia.Node {
	t.Helper()
	sh := y.Shape()
	rn := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(sh[0], sh[1]), gorgonia.WithName(y.Name()+".R"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(sh[0], sh[1]), tensor.WithBacking(r))))
	return gorgonia.Must(gorgonia.Sum(gorgonia.Must(gorgonia.HadamardProd(y, rn))))
}

func opRun(t *testing.T, g *gorgonia.ExprGraph) {
	t.Helper()
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
}

func opValues(t *testing.T, n *gorgonia.Node, grad bool) []float32 {
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

func opAssertClose(t *testing.T, what string, got, want []float32, tol float64) {
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

func TestQuantLinearForwardAndInputGradient(t *testing.T) {
	n, in, out := 4, 128, 24
	xd, wd, r := opRandVec(4, n*in), opRandVec(5, out*in), opRandVec(6, n*out)
	for _, m := range []kernels.Method{kernels.NF4, kernels.FP4, kernels.Q8_0} {
		q, err := kernels.Quantize(wd, out, in, m)
		if err != nil {
			t.Fatal(err)
		}
		deq, _ := q.Dequantize()
		g := gorgonia.NewGraph()
		x := opMatrix(g, "x", n, in, append([]float32(nil), xd...))
		// The float kernels, which the training graphs use (graph.go).
		y, err := quantLinear("wq", x, q, kernels.Exec{NoVNNI: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gorgonia.Grad(opWeightedSum(t, g, y, r), x); err != nil {
			t.Fatal(err)
		}
		opRun(t, g)
		wantY := make([]float32, n*out)
		_ = kernels.Exec{}.MatMul(wantY, xd, deq, n, out, in)
		opAssertClose(t, fmt.Sprintf("%v y", m), opValues(t, y, false), wantY, 1e-4)
		wantDX := make([]float32, n*in)
		_ = kernels.Exec{}.MatMulNN(wantDX, r, deq, n, out, in)
		opAssertClose(t, fmt.Sprintf("%v dx", m), opValues(t, x, true), wantDX, 1e-4)
		// The frozen weight is not a node and has no gradient.
		if got := y.Op().(gorgonia.SDOp).DiffWRT(1); len(got) != 1 || !got[0] {
			t.Errorf("DiffWRT = %v, want [true] (x only)", got)
		}
	}
}

func TestQuantLinearReusedKeepsOneBuffer(t *testing.T) {
	n, in, out := 1, 96, 40
	wd := opRandVec(7, out*in)
	q, err := kernels.Quantize(wd, out, in, kernels.NF4)
	if err != nil {
		t.Fatal(err)
	}
	deq, _ := q.Dequantize()
	g := gorgonia.NewGraph()
	xd := opRandVec(8, n*in)
	x := opMatrix(g, "x", n, in, xd)
	// The float kernels: this checks buffer reuse against the exact product.
	y, err := quantLinearReused("w1", x, q, kernels.Exec{NoVNNI: true})
	if err != nil {
		t.Fatal(err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	want := make([]float32, n*out)
	for i, seed := range []uint64{8, 9} {
		copy(xd, opRandVec(seed, n*in))
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		_ = kernels.Exec{}.MatMul(want, xd, deq, n, out, in)
		opAssertClose(t, fmt.Sprintf("run %d", i), opValues(t, y, false), want, 1e-4)
		m.Reset()
	}
	op := y.Op()
	v1, err := op.Do(tensor.New(tensor.WithShape(n, in), tensor.WithBacking(opRandVec(10, n*in))))
	if err != nil {
		t.Fatal(err)
	}
	xv := opRandVec(11, n*in)
	v2, err := op.Do(tensor.New(tensor.WithShape(n, in), tensor.WithBacking(xv)))
	if err != nil {
		t.Fatal(err)
	}
	d1, d2 := v1.Data().([]float32), v2.Data().([]float32)
	if &d1[0] != &d2[0] {
		t.Errorf("second Do wrote a new buffer; want the first one's")
	}
	_ = kernels.Exec{}.MatMul(want, xv, deq, n, out, in)
	opAssertClose(t, "second Do", d2, want, 1e-4)
}
