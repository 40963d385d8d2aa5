package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Linear returns the node y = x·Wᵀ for x of shape [n, in] and w of shape
// [out, in] (the Llama checkpoint layout), computed with the AVX2 kernel,
// and differentiable with respect to both inputs. name must be unique in the
// graph.
func Linear(name string, x, w *gorgonia.Node, e kernels.Exec) (*gorgonia.Node, error) {
	return gorgonia.ApplyOpWithName(&linearOp{name: name, exec: e}, name, x, w)
}

// linearOp is y = x·Wᵀ.
type linearOp struct {
	name string
	exec kernels.Exec
}

func (op *linearOp) Arity() int        { return 2 }
func (op *linearOp) Type() hm.Type     { return fnType(2, matrixType) }
func (op *linearOp) ReturnsPtr() bool  { return false }
func (op *linearOp) CallsExtern() bool { return false }
func (op *linearOp) OverwritesInput() int {
	return -1
}
func (op *linearOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "whisperc.Linear(%q)", op.name) }
func (op *linearOp) Hashcode() uint32      { return hashOf(op) }
func (op *linearOp) String() string        { return "Linear(" + op.name + ")" }

func (op *linearOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	xs, err := matrixShape("Linear", 0, ds)
	if err != nil {
		return nil, err
	}
	ws, err := matrixShape("Linear", 1, ds)
	if err != nil {
		return nil, err
	}
	if xs[1] != ws[1] {
		return nil, fmt.Errorf("Linear %s: x is %v but W is %v; their second dimensions must match", op.name, xs, ws)
	}
	return tensor.Shape{xs[0], ws[0]}, nil
}

func (op *linearOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, vs...)
}

// UsePreallocDo implements gorgonia.UsePreallocDoer.
func (op *linearOp) UsePreallocDo(prealloc gorgonia.Value, vs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(vs) != 2 {
		return nil, fmt.Errorf("Linear %s: %d inputs, want 2", op.name, len(vs))
	}
	x, n, in, err := matrixData("Linear", 0, vs[0])
	if err != nil {
		return nil, err
	}
	w, out, win, err := matrixData("Linear", 1, vs[1])
	if err != nil {
		return nil, err
	}
	if in != win {
		return nil, fmt.Errorf("Linear %s: x has %d columns, W has %d", op.name, in, win)
	}
	t, y := outputMatrix(prealloc, n, out)
	if err := op.exec.MatMul(y, x, w, n, out, in); err != nil {
		return nil, err
	}
	return t, nil
}

// DiffWRT implements gorgonia.SDOp: both x and W have gradients.
func (op *linearOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff implements gorgonia.SDOp: dx = dy·W and dW = dyᵀ·x.
func (op *linearOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("Linear %s: %d inputs, want 2", op.name, len(inputs))
	}
	dx, err := gorgonia.ApplyOpWithName(&linearGradOp{name: op.name, wrtW: false, exec: op.exec}, op.name+".dx", grad, inputs[1])
	if err != nil {
		return nil, err
	}
	dw, err := gorgonia.ApplyOpWithName(&linearGradOp{name: op.name, wrtW: true, exec: op.exec}, op.name+".dW", grad, inputs[0])
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dw}, nil
}

// linearGradOp computes dx = dy·W (inputs dy, W) or dW = dyᵀ·x (inputs dy,
// x).
type linearGradOp struct {
	name string
	wrtW bool
	exec kernels.Exec
}

func (op *linearGradOp) Arity() int           { return 2 }
func (op *linearGradOp) Type() hm.Type        { return fnType(2, matrixType) }
func (op *linearGradOp) ReturnsPtr() bool     { return false }
func (op *linearGradOp) CallsExtern() bool    { return false }
func (op *linearGradOp) OverwritesInput() int { return -1 }
func (op *linearGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "whisperc.LinearGrad(%q,%v)", op.name, op.wrtW)
}
func (op *linearGradOp) Hashcode() uint32 { return hashOf(op) }
func (op *linearGradOp) String() string {
	if op.wrtW {
		return "LinearGradW(" + op.name + ")"
	}
	return "LinearGradX(" + op.name + ")"
}

func (op *linearGradOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	dys, err := matrixShape(op.String(), 0, ds)
	if err != nil {
		return nil, err
	}
	bs, err := matrixShape(op.String(), 1, ds)
	if err != nil {
		return nil, err
	}
	if op.wrtW {
		// dy [n, out], x [n, in] → [out, in]
		return tensor.Shape{dys[1], bs[1]}, nil
	}
	// dy [n, out], W [out, in] → [n, in]
	return tensor.Shape{dys[0], bs[1]}, nil
}

func (op *linearGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, vs...)
}

// UsePreallocDo implements gorgonia.UsePreallocDoer.
func (op *linearGradOp) UsePreallocDo(prealloc gorgonia.Value, vs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(vs) != 2 {
		return nil, fmt.Errorf("%s: %d inputs, want 2", op, len(vs))
	}
	dy, n, out, err := matrixData(op.String(), 0, vs[0])
	if err != nil {
		return nil, err
	}
	b, br, bc, err := matrixData(op.String(), 1, vs[1])
	if err != nil {
		return nil, err
	}
	if op.wrtW {
		if br != n {
			return nil, fmt.Errorf("%s: dy has %d rows, x has %d", op, n, br)
		}
		t, dw := outputMatrix(prealloc, out, bc)
		return t, op.exec.MatMulTransA(dw, dy, b, n, out, bc, false)
	}
	if br != out {
		return nil, fmt.Errorf("%s: dy has %d columns, W has %d rows", op, out, br)
	}
	t, dx := outputMatrix(prealloc, n, bc)
	return t, op.exec.MatMulNN(dx, dy, b, n, out, bc)
}
