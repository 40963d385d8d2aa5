package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"unsafe"

	"github.com/chewxy/hm"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// quantLinear returns the node y = x·Wᵀ for x of shape [n, Cols] and a
// quantised, frozen W of shape [Rows, Cols], computed by the fused
// dequantise-and-multiply kernels so that the fp32 W never exists. It is
// differentiable with respect to x only: in QLoRA the quantised base weight
// is frozen and gradients flow through it to the LoRA adapters. name must
// be unique in the graph; it also identifies the weight in the op's hash.
func quantLinear(name string, x *gorgonia.Node, w *kernels.QMatrix, e kernels.Exec) (*gorgonia.Node, error) {
	if w == nil {
		return nil, errors.New("quantLinear " + name + ": nil weight")
	}
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("quantLinear %s: %w", name, err)
	}
	return gorgonia.ApplyOpWithName(&quantLinearOp{name: name, w: w, exec: e}, name, x)
}

// quantLinearReused is quantLinear for a graph that runs many times: its
// forward op writes every call into one output buffer of its own, kept
// while the shape stays the same, instead of allocating a new one. The
// result is therefore overwritten by the graph's next run. It never writes
// into a buffer Gorgonia offers, whose register may hold another value.
func quantLinearReused(name string, x *gorgonia.Node, w *kernels.QMatrix, e kernels.Exec) (*gorgonia.Node, error) {
	if w == nil {
		return nil, errors.New("quantLinear " + name + ": nil weight")
	}
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("quantLinear %s: %w", name, err)
	}
	return gorgonia.ApplyOpWithName(&quantLinearOp{name: name, w: w, exec: e, reuse: true}, name, x)
}

// quantLinearResidual is quantLinearReused plus the residual stream r,
// added into the product's output (y = r + x·Wᵀ, the same sums as a
// separate addition), for inference graphs: a separate Gorgonia addition
// allocated a new [rows, dim] result twice per layer on every run (a 15M
// prefill of 128 tokens: 1.7 MB of garbage and its first-touch page
// faults). It has no gradient.
func quantLinearResidual(name string, x, r *gorgonia.Node, w *kernels.QMatrix, e kernels.Exec) (*gorgonia.Node, error) {
	if w == nil {
		return nil, errors.New("quantLinear " + name + ": nil weight")
	}
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("quantLinear %s: %w", name, err)
	}
	return gorgonia.ApplyOpWithName(&quantLinearOp{name: name, w: w, exec: e, reuse: true, residual: true}, name, x, r)
}

// quantLinearOp is y = x·Wᵀ (forward; plus r with residual set) or, with
// grad set, dx = dy·W.
type quantLinearOp struct {
	name     string
	w        *kernels.QMatrix
	grad     bool
	residual bool // a second input, added to the product (inference only)
	exec     kernels.Exec

	reuse bool          // forward calls write into out
	out   *tensor.Dense // the reused output, when reuse is set
	// shared, when set, is the engine arena's buffer for this op's name,
	// which out uses; arena is where it grows.
	shared *[]float32
	arena  *arena
}

func (op *quantLinearOp) useArena(a *arena) {
	if op.reuse && !op.grad {
		op.shared, op.arena = a.slot(op.name), a
	}
}

func (op *quantLinearOp) arenaSlot() *[]float32 { return op.shared }

func (op *quantLinearOp) Arity() int { return op.arity() }
func (op *quantLinearOp) arity() int {
	if op.residual {
		return 2
	}
	return 1
}
func (op *quantLinearOp) Type() hm.Type        { return fnType(op.arity(), matrixType) }
func (op *quantLinearOp) ReturnsPtr() bool     { return false }
func (op *quantLinearOp) CallsExtern() bool    { return false }
func (op *quantLinearOp) OverwritesInput() int { return -1 }

// WriteHash writes what identifies the op (Gorgonia hashes every node it
// adds; fmt's formatting was a tenth of building a prefill graph).
func (op *quantLinearOp) WriteHash(h hash.Hash) {
	_, _ = io.WriteString(h, "whisperc.quantLinear:")
	_, _ = io.WriteString(h, op.name)
	var b [11]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(uintptr(unsafe.Pointer(op.w))))
	b[8] = byte(op.w.Method)
	if op.grad {
		b[9] = 1
	}
	if op.residual {
		b[10] = 1
	}
	_, _ = h.Write(b[:])
}
func (op *quantLinearOp) Hashcode() uint32 { return hashOf(op) }
func (op *quantLinearOp) String() string {
	if op.grad {
		return "QuantLinearGradX(" + op.name + ")"
	}
	return "quantLinear(" + op.name + ", " + op.w.String() + ")"
}

func (op *quantLinearOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	xs, err := matrixShape(op.String(), 0, ds)
	if err != nil {
		return nil, err
	}
	in, out := op.w.Cols, op.w.Rows
	if op.grad {
		in, out = out, in
	}
	if xs[1] != in {
		return nil, fmt.Errorf("%s: input is %v, want %d columns", op, xs, in)
	}
	if op.residual {
		rs, err := matrixShape(op.String(), 1, ds)
		if err != nil {
			return nil, err
		}
		if rs[0] != xs[0] || rs[1] != out {
			return nil, fmt.Errorf("%s: residual is %v, want [%d %d]", op, rs, xs[0], out)
		}
	}
	return tensor.Shape{xs[0], out}, nil
}

func (op *quantLinearOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	if op.reuse && !op.grad {
		var prealloc gorgonia.Value
		if op.shared != nil {
			if _, n, _, err := matrixData(op, 0, vs[0]); err == nil {
				op.out = op.arena.output(op.shared, op.out, n, op.w.Rows)
			}
		}
		if op.out != nil {
			prealloc = op.out
		}
		out, err := op.UsePreallocDo(prealloc, vs...)
		if err == nil {
			op.out, _ = out.(*tensor.Dense)
		}
		return out, err
	}
	return op.UsePreallocDo(nil, vs...)
}

// UsePreallocDo implements gorgonia.UsePreallocDoer.
func (op *quantLinearOp) UsePreallocDo(prealloc gorgonia.Value, vs ...gorgonia.Value) (gorgonia.Value, error) {
	if len(vs) != op.arity() {
		return nil, fmt.Errorf("%s: %d inputs, want %d", op, len(vs), op.arity())
	}
	x, n, in, err := matrixData(op, 0, vs[0])
	if err != nil {
		return nil, err
	}
	if op.grad {
		if in != op.w.Rows {
			return nil, fmt.Errorf("%s: dy has %d columns, W has %d rows", op, in, op.w.Rows)
		}
		t, dx := outputMatrix(prealloc, n, op.w.Cols)
		return t, op.exec.QMatMulGradInput(dx, x, op.w, n)
	}
	if in != op.w.Cols {
		return nil, fmt.Errorf("%s: x has %d columns, W has %d", op, in, op.w.Cols)
	}
	t, y := outputMatrix(prealloc, n, op.w.Rows)
	if err := op.exec.QMatMul(y, x, op.w, n); err != nil || !op.residual {
		return t, err
	}
	r, rn, rc, err := matrixData(op, 1, vs[1])
	if err != nil {
		return nil, err
	}
	if rn != n || rc != op.w.Rows {
		return nil, fmt.Errorf("%s: residual is [%d %d], want [%d %d]", op, rn, rc, n, op.w.Rows)
	}
	if &r[0] == &y[0] {
		return nil, fmt.Errorf("%s: the residual is the output buffer", op)
	}
	for i, v := range r {
		y[i] += v
	}
	return t, nil
}

// DiffWRT implements gorgonia.SDOp: only x has a gradient.
func (op *quantLinearOp) DiffWRT(int) []bool {
	if op.residual {
		return []bool{false, false}
	}
	return []bool{!op.grad}
}

// SymDiff implements gorgonia.SDOp: dx = dy·W, decoded on the fly.
func (op *quantLinearOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if op.residual {
		return nil, fmt.Errorf("%s: the fused residual form is for inference only", op)
	}
	if op.grad {
		return nil, fmt.Errorf("%s: second derivatives are not supported", op)
	}
	dx, err := gorgonia.ApplyOpWithName(&quantLinearOp{name: op.name, w: op.w, grad: true, exec: op.exec}, op.name+".dx", grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx}, nil
}
