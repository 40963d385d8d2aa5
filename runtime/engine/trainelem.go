package engine

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// This file holds the training graph's element-wise products and sums:
// the values of Gorgonia's HadamardProd and Add, and of the nodes their
// derivatives add, bit for bit (each element one rounded product or sum),
// but into buffers that the graph keeps (Gorgonia's clone their first
// operand on every run) and over the engine's threads (Gorgonia's run on
// one), which at two threads left them as serial gaps between the
// parallel products.

// elemOp is out = a∘b (mul) or a + b element-wise, for two tensors of one
// shape.
type elemOp struct {
	opBase
	exec kernels.Exec
	add  bool
}

func newElem(name string, exec kernels.Exec, add bool) *elemOp {
	return &elemOp{opBase: opBase{name: name, dims: []int{2, 2, 2}}, exec: exec, add: add}
}

func (o *elemOp) InferShape(ns ...gorgonia.DimSizer) (tensor.Shape, error) {
	a, err := shapeOf(ns, 0)
	if err != nil {
		return nil, err
	}
	return a.Clone(), nil
}

// operands returns the op's two operands' values, of one length, and
// the first's shape.
func (o *elemOp) operands(vs []gorgonia.Value) (a, b []float32, s tensor.Shape, err error) {
	if a, s, err = floats(vs[0]); err != nil {
		return nil, nil, nil, err
	}
	if b, _, err = floats(vs[1]); err != nil {
		return nil, nil, nil, err
	}
	if len(b) != len(a) {
		return nil, nil, nil, fmt.Errorf("engine: %s: %d and %d values", o.name, len(a), len(b))
	}
	return a, b, s, nil
}

func (o *elemOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	a, b, s, err := o.operands(vs)
	if err != nil {
		return nil, err
	}
	out := o.output(s...)
	if o.add {
		o.exec.TrainAdd(out.Float32s(), a, b)
	} else {
		o.exec.TrainMul(out.Float32s(), a, b)
	}
	return out, nil
}

// ReturnsPtr, OverwritesInput, UnsafeDo and UsePreallocDo are those of
// Gorgonia's element-wise binary ops, so that its register allocator gives
// this op the buffers it gave HadamardProd and Add: the result may go
// into its first operand when that dies here, or into a register a dead
// value leaves. The graph then holds what it held with Gorgonia's ops
// (the plan's CPU training memory counts that).
func (o *elemOp) ReturnsPtr() bool     { return true }
func (o *elemOp) OverwritesInput() int { return 0 }

func (o *elemOp) UnsafeDo(vs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(vs) != 2 {
		return nil, fmt.Errorf("engine: %s: %d inputs, want 2", o.name, len(vs))
	}
	return o.into(vs[0], vs...)
}

func (o *elemOp) UsePreallocDo(p gorgonia.Value, vs ...gorgonia.Value) (gorgonia.Value, error) {
	return o.into(p, vs...)
}

// into computes the result into dst's values when dst is a float32
// tensor of the result's size (reshaped to the result's shape, as
// Gorgonia reshapes a reused tensor), else as Do does.
func (o *elemOp) into(dst gorgonia.Value, vs ...gorgonia.Value) (gorgonia.Value, error) {
	d, ok := dst.(*tensor.Dense)
	if !ok || d.Dtype() != tensor.Float32 || len(vs) != 2 {
		return o.Do(vs...)
	}
	a, b, s, err := o.operands(vs)
	if err != nil {
		return nil, err
	}
	out := d.Float32s()
	if len(out) != len(a) {
		return o.Do(vs...)
	}
	if !d.Shape().Eq(s) {
		if err := d.Reshape(s...); err != nil {
			return o.Do(vs...)
		}
	}
	if o.add {
		o.exec.TrainAdd(out, a, b)
	} else {
		o.exec.TrainMul(out, a, b)
	}
	return d, nil
}

// DiffWRT reports that both operands are differentiable, as Gorgonia's
// HadamardProd and Add report.
func (o *elemOp) DiffWRT(n int) []bool { return allTrue(n) }

// SymDiff returns, for a sum, G for both operands (Gorgonia's Add
// passes the gradient node itself on); for a product, dA = B∘G and
// dB = A∘G, the nodes Gorgonia's HadamardProd adds, in its order.
func (o *elemOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if o.add {
		return gorgonia.Nodes{grad, grad}, nil
	}
	da, err := gorgonia.ApplyOp(newElem(o.name+".da", o.exec, false), in[1], grad)
	if err != nil {
		return nil, fmt.Errorf("engine: %s: %w", o.name, err)
	}
	db, err := gorgonia.ApplyOp(newElem(o.name+".db", o.exec, false), in[0], grad)
	if err != nil {
		return nil, fmt.Errorf("engine: %s: %w", o.name, err)
	}
	return gorgonia.Nodes{da, db}, nil
}

// hadamard returns a∘b: Gorgonia's HadamardProd, or in a training graph
// the engine's element-wise op with the same values.
func (b *builder) hadamard(name string, x, y *gorgonia.Node) *gorgonia.Node {
	if b.train == nil {
		return b.std(name, func() (*gorgonia.Node, error) { return gorgonia.HadamardProd(x, y) })
	}
	return b.apply(newElem(name, b.e.exec, false), name, x, y)
}

// add returns x + y: Gorgonia's Add, or in a training graph the engine's
// element-wise op with the same values.
func (b *builder) add(name string, x, y *gorgonia.Node) *gorgonia.Node {
	if b.train == nil {
		return b.std(name, func() (*gorgonia.Node, error) { return gorgonia.Add(x, y) })
	}
	return b.apply(newElem(name, b.e.exec, true), name, x, y)
}

// splitRows runs fn over [0, rows) rows of width values: over exec's
// threads when exec is set (a training graph's per-row ops, whose rows are
// independent, so the split changes no value; the ranges start at
// multiples of four, as rmsNormOp's groups of rows do), else at once.
func splitRows(exec *kernels.Exec, rows, width int, fn func(lo, hi int)) {
	if exec == nil {
		fn(0, rows)
		return
	}
	exec.TrainSplit(rows, 4, width*rowCost, fn)
}

// rowCost is TrainSplit's cost of one value of a per-row op: a few
// scalar operations, against a product kernel's sixteen multiply-adds a
// cycle.
const rowCost = 32
