package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Attention returns the node of causal grouped-query attention over q of
// shape [s.N, s.Heads·s.HeadDim] and k, v of shape [T, s.KVHeads·s.HeadDim]
// with T ≥ s.Pos+s.N (a KV cache's buffers may be passed whole), computed by
// the chosen kernel. The result has q's shape. It is differentiable with
// respect to q, k and v; the backward pass recomputes the forward pass's
// softmax statistics (FlashAttention-2 keeps only the log-sum-exp; here it
// is recomputed rather than carried between ops), and k's and v's gradients
// are zero beyond row Pos+N. name must be unique in the graph.
func Attention(name string, q, k, v *gorgonia.Node, kind kernels.AttnKernel, s kernels.AttnShape, e kernels.Exec) (*gorgonia.Node, error) {
	if kind != kernels.AttnEager && kind != kernels.AttnFlash2 {
		return nil, fmt.Errorf("Attention %s: invalid kernel %v", name, kind)
	}
	return gorgonia.ApplyOpWithName(&attentionOp{name: name, kind: kind, shape: s, exec: e}, name, q, k, v)
}

// attentionOp is the forward attention op.
type attentionOp struct {
	name  string
	kind  kernels.AttnKernel
	shape kernels.AttnShape
	exec  kernels.Exec
}

func (op *attentionOp) Arity() int           { return 3 }
func (op *attentionOp) Type() hm.Type        { return fnType(3, matrixType) }
func (op *attentionOp) ReturnsPtr() bool     { return false }
func (op *attentionOp) CallsExtern() bool    { return false }
func (op *attentionOp) OverwritesInput() int { return -1 }
func (op *attentionOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "whisperc.Attention(%q,%v,%+v)", op.name, op.kind, op.shape)
}
func (op *attentionOp) Hashcode() uint32 { return hashOf(op) }
func (op *attentionOp) String() string {
	return fmt.Sprintf("Attention(%s, %v)", op.name, op.kind)
}

// checkShapes validates q, k and v shapes against the op's AttnShape.
func (op *attentionOp) checkShapes(qs, ks, vs tensor.Shape) error {
	s := op.shape
	if qs[0] != s.N || qs[1] != s.Heads*s.HeadDim {
		return fmt.Errorf("%s: q is %v, want [%d %d]", op, qs, s.N, s.Heads*s.HeadDim)
	}
	if ks[1] != s.KVHeads*s.HeadDim || !ks.Eq(vs) || ks[0] < s.Keys() {
		return fmt.Errorf("%s: k is %v and v is %v, want equal shapes [T %d] with T ≥ %d", op, ks, vs, s.KVHeads*s.HeadDim, s.Keys())
	}
	return nil
}

func (op *attentionOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	var sh [3]tensor.Shape
	for i := range sh {
		var err error
		if sh[i], err = matrixShape(op.String(), i, ds); err != nil {
			return nil, err
		}
	}
	if err := op.checkShapes(sh[0], sh[1], sh[2]); err != nil {
		return nil, err
	}
	return sh[0].Clone(), nil
}

// inputs extracts and checks q, k and v.
func (op *attentionOp) inputs(vs []gorgonia.Value) (q, k, v []float32, rowsKV int, err error) {
	if len(vs) < 3 {
		return nil, nil, nil, 0, fmt.Errorf("%s: %d inputs, want 3", op, len(vs))
	}
	var qr, qc, kr, kc, vr, vc int
	if q, qr, qc, err = matrixData(op.String(), 0, vs[0]); err != nil {
		return
	}
	if k, kr, kc, err = matrixData(op.String(), 1, vs[1]); err != nil {
		return
	}
	if v, vr, vc, err = matrixData(op.String(), 2, vs[2]); err != nil {
		return
	}
	err = op.checkShapes(tensor.Shape{qr, qc}, tensor.Shape{kr, kc}, tensor.Shape{vr, vc})
	return q, k, v, kr, err
}

func (op *attentionOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, vs...)
}

// UsePreallocDo implements gorgonia.UsePreallocDoer.
func (op *attentionOp) UsePreallocDo(prealloc gorgonia.Value, vs ...gorgonia.Value) (gorgonia.Value, error) {
	q, k, v, _, err := op.inputs(vs)
	if err != nil {
		return nil, err
	}
	t, out := outputMatrix(prealloc, op.shape.N, op.shape.Heads*op.shape.HeadDim)
	return t, op.exec.AttentionForward(op.kind, out, nil, q, k, v, op.shape)
}

// DiffWRT implements gorgonia.SDOp: q, k and v all have gradients.
func (op *attentionOp) DiffWRT(int) []bool { return []bool{true, true, true} }

// SymDiff implements gorgonia.SDOp. One backward op computes dq, dk and dv
// together into a flat vector, because Gorgonia ops have one output; three
// slice-and-reshape nodes split it.
func (op *attentionOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("%s: %d inputs, want 3", op, len(inputs))
	}
	back := &attentionGradOp{attentionOp: *op}
	all, err := gorgonia.ApplyOpWithName(back, op.name+".grad", inputs[0], inputs[1], inputs[2], grad)
	if err != nil {
		return nil, err
	}
	nq := inputs[0].Shape().TotalSize()
	nk := inputs[1].Shape().TotalSize()
	parts := []struct {
		lo, hi int
		shape  tensor.Shape
		suffix string
	}{
		{0, nq, inputs[0].Shape(), ".dq"},
		{nq, nq + nk, inputs[1].Shape(), ".dk"},
		{nq + nk, nq + 2*nk, inputs[2].Shape(), ".dv"},
	}
	grads := make(gorgonia.Nodes, 0, 3)
	for _, p := range parts {
		sl, err := gorgonia.Slice(all, gorgonia.S(p.lo, p.hi))
		if err != nil {
			return nil, fmt.Errorf("%s: slicing %s: %w", op, p.suffix, err)
		}
		r, err := gorgonia.Reshape(sl, p.shape.Clone())
		if err != nil {
			return nil, fmt.Errorf("%s: reshaping %s: %w", op, p.suffix, err)
		}
		grads = append(grads, r)
	}
	return grads, nil
}

// attentionGradOp takes q, k, v and dout and returns dq, dk and dv
// concatenated into one vector.
type attentionGradOp struct {
	attentionOp
}

func (op *attentionGradOp) Arity() int { return 4 }
func (op *attentionGradOp) Type() hm.Type {
	return fnType(4, vectorType)
}
func (op *attentionGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "whisperc.AttentionGrad(%q,%v,%+v)", op.name, op.kind, op.shape)
}
func (op *attentionGradOp) Hashcode() uint32 { return hashOf(op) }
func (op *attentionGradOp) String() string {
	return fmt.Sprintf("AttentionGrad(%s, %v)", op.name, op.kind)
}

func (op *attentionGradOp) InferShape(ds ...gorgonia.DimSizer) (tensor.Shape, error) {
	var sh [4]tensor.Shape
	for i := range sh {
		var err error
		if sh[i], err = matrixShape(op.String(), i, ds); err != nil {
			return nil, err
		}
	}
	if err := op.checkShapes(sh[0], sh[1], sh[2]); err != nil {
		return nil, err
	}
	if !sh[3].Eq(sh[0]) {
		return nil, fmt.Errorf("%s: gradient is %v, want q's shape %v", op, sh[3], sh[0])
	}
	return tensor.Shape{sh[0].TotalSize() + 2*sh[1].TotalSize()}, nil
}

func (op *attentionGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	return op.UsePreallocDo(nil, vs...)
}

// UsePreallocDo implements gorgonia.UsePreallocDoer. It reruns the forward
// kernel for out and the log-sum-exp, then the kernel's backward pass.
func (op *attentionGradOp) UsePreallocDo(prealloc gorgonia.Value, vs ...gorgonia.Value) (gorgonia.Value, error) {
	q, k, v, _, err := op.inputs(vs)
	if err != nil {
		return nil, err
	}
	if len(vs) != 4 {
		return nil, fmt.Errorf("%s: %d inputs, want 4", op, len(vs))
	}
	dout, dr, dc, err := matrixData(op.String(), 3, vs[3])
	if err != nil {
		return nil, err
	}
	if dr*dc != len(q) {
		return nil, fmt.Errorf("%s: gradient is [%d %d], want q's %d elements", op, dr, dc, len(q))
	}
	total := len(q) + 2*len(k)
	var res *tensor.Dense
	var all []float32
	if d, ok := prealloc.(*tensor.Dense); ok {
		if data, ok := d.Data().([]float32); ok && len(data) == total {
			res, all = d, data
		}
	}
	if res == nil {
		all = make([]float32, total)
		res = tensor.New(tensor.WithShape(total), tensor.WithBacking(all))
	}
	s := op.shape
	out := make([]float32, len(q))
	lse := make([]float32, s.Heads*s.N)
	if err := op.exec.AttentionForward(op.kind, out, lse, q, k, v, s); err != nil {
		return nil, err
	}
	dq, dk, dv := all[:len(q)], all[len(q):len(q)+len(k)], all[len(q)+len(k):]
	clear(dk)
	clear(dv)
	if err := op.exec.AttentionBackward(op.kind, dq, dk, dv, q, k, v, out, lse, dout, s); err != nil {
		return nil, err
	}
	return res, nil
}

// DiffWRT implements gorgonia.SDOp: the backward op is not differentiated.
func (op *attentionGradOp) DiffWRT(n int) []bool { return make([]bool, n) }

// SymDiff implements gorgonia.SDOp by refusing: second derivatives of
// attention are not supported.
func (op *attentionGradOp) SymDiff(gorgonia.Nodes, *gorgonia.Node, *gorgonia.Node) (gorgonia.Nodes, error) {
	return nil, fmt.Errorf("%s: second derivatives are not supported", op)
}
