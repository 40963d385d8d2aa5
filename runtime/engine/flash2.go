package engine

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// This file is flash2 attention's backward pass in the training graph:
// FlashAttention-2's Algorithm 2 (kernels.Exec.AttentionBackward), tiled
// in blocks of queries × blocks of keys, recomputing each tile's
// probabilities from the forward pass's per-row log-sum-exp, so that no
// seq×seq matrix exists at any point. One op computes dq, dk and dv
// together (each tile's probabilities serve all three) and hands dk and
// dv on through two pick ops.

// flashSymDiff adds the tiled backward pass of a flash2 attention op.
func (o *attentionOp) flashSymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	gop := &flashGradOp{opBase: opBase{name: o.name + ".dqkv", dims: []int{2, 2, 2, 2, 2, 2}}, fwd: o}
	dq, err := gorgonia.ApplyOp(gop, in[0], in[1], in[2], out, grad)
	if err != nil {
		return nil, err
	}
	res := gorgonia.Nodes{dq}
	for which := 1; which <= 2; which++ {
		pick := &flashPickOp{opBase: opBase{name: fmt.Sprintf("%s.d%c", o.name, "qkv"[which]), dims: []int{2, 2}}, src: gop, which: which, shape: in[which].Shape().Clone()}
		n, err := gorgonia.ApplyOp(pick, dq)
		if err != nil {
			return nil, err
		}
		res = append(res, n)
	}
	return res, nil
}

// flashGradOp is flash2's backward pass: inputs q, k, v (q and k before
// the rotary embedding for a recomputed attention core), the forward
// output and its gradient; output dq. dk and dv are kept for the pick
// ops.
type flashGradOp struct {
	opBase
	fwd    *attentionOp
	dk, dv *tensor.Dense
}

func (o *flashGradOp) InferShape(ns ...gorgonia.DimSizer) (tensor.Shape, error) {
	q, err := shapeOf(ns, 0)
	if err != nil {
		return nil, err
	}
	return q.Clone(), nil
}

func (o *flashGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	var in [5][]float32
	var qs tensor.Shape
	for i, v := range vs {
		d, s, err := floats(v)
		if err != nil {
			return nil, err
		}
		in[i] = d
		if i == 0 {
			qs = s
		}
	}
	q, k, v, out, g := in[0], in[1], in[2], in[3], in[4]
	st := o.fwd.st
	t, qd := rowsCols(qs)
	hs := st.headSize
	kvd := st.kvHeads * hs
	if qd != st.heads*hs || len(k) != t*kvd || len(v) != t*kvd || len(out) != t*qd || len(g) != t*qd {
		return nil, fmt.Errorf("engine: %s: shapes do not fit %d heads, %d kv heads of %d", o.name, st.heads, st.kvHeads, hs)
	}
	if st.cached || st.start != 0 {
		return nil, fmt.Errorf("engine: %s: gradients need an engine without a KV cache", o.name)
	}
	if len(o.fwd.lse) != st.heads*t {
		return nil, fmt.Errorf("engine: %s: the forward pass kept no log-sum-exp for %d rows", o.name, t)
	}
	if c := o.fwd.core; c != nil {
		var err error
		if q, k, err = c.rotated(st, q, k, t); err != nil {
			return nil, fmt.Errorf("engine: %s: %w", o.name, err)
		}
	}
	dq := o.output(t, qd)
	dk := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(t, kvd))
	dv := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(t, kvd))
	shape := kernels.AttnShape{N: t, Heads: st.heads, KVHeads: st.kvHeads, HeadDim: hs}
	if err := st.exec.AttentionBackward(AttentionFlash2, dq.Float32s(), dk.Float32s(), dv.Float32s(), q, k, v, out, o.fwd.lse, g, shape); err != nil {
		return nil, fmt.Errorf("engine: %s: %w", o.name, err)
	}
	if o.fwd.core != nil {
		// Back through the rotary embedding, which is orthogonal.
		if err := rotate(st, dq.Float32s(), dq.Float32s(), t, qd, true); err != nil {
			return nil, fmt.Errorf("engine: %s: %w", o.name, err)
		}
		if err := rotate(st, dk.Float32s(), dk.Float32s(), t, kvd, true); err != nil {
			return nil, fmt.Errorf("engine: %s: %w", o.name, err)
		}
	}
	o.dk, o.dv = dk, dv
	return dq, nil
}

// flashPickOp hands on dk (which 1) or dv (2) of its backward op; its
// input (that op's dq) orders it after the op.
type flashPickOp struct {
	opBase
	src   *flashGradOp
	which int
	shape tensor.Shape
}

func (o *flashPickOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return o.shape.Clone(), nil
}

func (o *flashPickOp) Do(...gorgonia.Value) (gorgonia.Value, error) {
	d := o.src.dk
	if o.which == 2 {
		d = o.src.dv
	}
	if d == nil {
		return nil, fmt.Errorf("engine: %s: the attention's backward pass has not run", o.name)
	}
	return d, nil
}
