package engine

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file implements selective activation recomputation (Korthikanti et
// al., "Reducing Activation Recomputation in Large Transformer Models",
// §4.2; torch's and Megatron's "selective" checkpointing): the attention
// core of a block — the rotary embedding of q and k, the scores, the
// softmax and the weighted sum of v — is recomputed in the backward pass
// from the q, k and v projections, which are kept, as are every linear
// layer's output. The attention op never keeps the seq×seq scores in any
// mode (its backward recomputes them row by row); under selective it also
// takes q and k before the rotary embedding and rotates them into scratch
// buffers shared by the whole graph, so the rotated q and k and their
// gradients (four [T, width] tensors per layer) are not kept.

// coreScratch holds the rotated q and k of the attention core being run.
// The ops of one graph run one at a time, so one scratch serves them all.
type coreScratch struct {
	q, k []float32
}

// rotated returns q and k [t, ·] rotated by the rotary embedding, in the
// scratch buffers.
func (c *coreScratch) rotated(st *state, q, k []float32, t int) ([]float32, []float32, error) {
	if cap(c.q) < len(q) {
		c.q = make([]float32, len(q))
	}
	if cap(c.k) < len(k) {
		c.k = make([]float32, len(k))
	}
	rq, rk := c.q[:len(q)], c.k[:len(k)]
	if err := rotate(st, rq, q, t, len(q)/t, false); err != nil {
		return nil, nil, err
	}
	if err := rotate(st, rk, k, t, len(k)/t, false); err != nil {
		return nil, nil, err
	}
	return rq, rk, nil
}

// attentionCore adds block l's attention core from the q, k and v
// projections as one recomputed op.
func (b *builder) attentionCore(q, k, v *gorgonia.Node, l int) *gorgonia.Node {
	if b.train.core == nil {
		b.train.core = &coreScratch{}
	}
	p := fmt.Sprintf("layers.%d.", l)
	op := newAttention(p+"attention.core", b.st, l, b.e.opts.LayerAttention[l], false)
	op.core = b.train.core
	return b.apply(op, op.name, q, k, v)
}

// coreSymDiff is the attention core's backward pass: each of dq, dk and
// dv is an op that rotates q and k again, recomputes the softmax row by
// row (attentionBackward) and, for q and k, turns the gradient back
// through the rotation, which is orthogonal.
func (o *attentionOp) coreSymDiff(in gorgonia.Nodes, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	st, core := o.st, o.core
	var b gradBuilder
	res := make(gorgonia.Nodes, 3)
	for which := range 3 {
		res[which] = b.add(newGrad(fmt.Sprintf("%s.d%c", o.name, "qkv"[which]), []int{2, 2, 2, 2, 2}, which, func(dst []float32, v [][]float32, s []tensor.Shape) error {
			t := s[0][0]
			q, k, err := core.rotated(st, v[0], v[1], t)
			if err != nil {
				return err
			}
			if err := attentionBackward(st, which, dst, q, k, v[2], v[3], t); err != nil {
				return err
			}
			if which < 2 {
				return rotate(st, dst, dst, t, len(dst)/t, true)
			}
			return nil
		}), in[0], in[1], in[2], grad)
	}
	return res, b.err
}
