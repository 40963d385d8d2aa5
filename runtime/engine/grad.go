package engine

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// This file makes the engine's ops differentiable: each forward op
// implements gorgonia.SDOp, and its SymDiff adds backward ops (defined
// here) to the graph. Backward ops are not themselves differentiable; the
// engine needs first derivatives only.

// gradOp is a backward op: a function of its inputs producing one tensor
// of the shape of input like.
type gradOp struct {
	opBase
	like int // the input whose shape the output has; -1 for a custom shape
	f    func(out []float32, in [][]float32, shapes []tensor.Shape) error
	// shape computes the output shape when like is -1.
	shape func(shapes []tensor.Shape) tensor.Shape
}

func newGrad(name string, dims []int, like int, f func([]float32, [][]float32, []tensor.Shape) error) *gradOp {
	return &gradOp{opBase: opBase{name: name, dims: dims}, like: like, f: f}
}

func (o *gradOp) InferShape(ns ...gorgonia.DimSizer) (tensor.Shape, error) {
	shapes := make([]tensor.Shape, len(ns))
	for i := range ns {
		s, err := shapeOf(ns, i)
		if err != nil {
			return nil, err
		}
		shapes[i] = s
	}
	if o.like >= 0 {
		return shapes[o.like].Clone(), nil
	}
	return o.shape(shapes), nil
}

func (o *gradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	in := make([][]float32, len(vs))
	shapes := make([]tensor.Shape, len(vs))
	for i, v := range vs {
		d, s, err := floats(v)
		if err != nil {
			return nil, err
		}
		in[i], shapes[i] = d, s
	}
	var shape tensor.Shape
	if o.like >= 0 {
		shape = shapes[o.like]
	} else {
		shape = o.shape(shapes)
	}
	out := o.output(shape...)
	if err := o.f(out.Float32s(), in, shapes); err != nil {
		return nil, fmt.Errorf("engine: %s: %w", o.name, err)
	}
	return out, nil
}

func (b *gradBuilder) add(op gorgonia.Op, children ...*gorgonia.Node) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	n, err := gorgonia.ApplyOp(op, children...)
	if err != nil {
		b.err = err
	}
	return n
}

// gradBuilder collects the first error of a SymDiff.
type gradBuilder struct{ err error }

func allTrue(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}

// DiffWRT reports that a linear layer is differentiable in every input,
// except a frozen weight.
func (o *linearOp) DiffWRT(n int) []bool {
	d := allTrue(n)
	if o.frozen {
		d[1] = false
	}
	return d
}

// SymDiff returns dX = G·W, dW = Gᵀ·X (none for a frozen W) and, with a
// residual, dR = G.
func (o *linearOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	exec, train := o.exec, o.train
	var b gradBuilder
	// dX = G·W runs on MatMulNN's register-tiled kernel, reading W as it
	// is stored: no Wᵀ is built. In a training step both products run on
	// the AVX-512 forms, which give the same bits without clearing dst.
	dx := b.add(newGrad(o.name+".dx", []int{2, 2, 2, 2}, 2, func(dst []float32, v [][]float32, s []tensor.Shape) error {
		t, rows := rowsCols(s[0])
		_, cols := rowsCols(s[1])
		if train {
			return exec.TrainMatMulNN(dst, v[0], v[1], t, rows, cols)
		}
		return exec.MatMulNN(dst, v[0], v[1], t, rows, cols)
	}), grad, in[1], in[0])
	var dw *gorgonia.Node
	if !o.frozen {
		dw = b.add(newGrad(o.name+".dw", []int{2, 2, 2, 2}, 2, func(dst []float32, v [][]float32, s []tensor.Shape) error {
			t, rows := rowsCols(s[0])
			_, cols := rowsCols(s[1])
			if train {
				return exec.TrainMatMulTransA(dst, v[0], v[1], t, rows, cols, false)
			}
			return exec.MatMulTransA(dst, v[0], v[1], t, rows, cols, false)
		}), grad, in[0], in[1])
	}
	if b.err != nil {
		return nil, b.err
	}
	if o.residual {
		return gorgonia.Nodes{dx, dw, grad}, nil
	}
	return gorgonia.Nodes{dx, dw}, nil
}

// DiffWRT reports that RMSNorm is differentiable in x and its weight.
func (o *rmsNormOp) DiffWRT(n int) []bool { return allTrue(n) }

// SymDiff differentiates y = w·x·r with r = (mean(x²)+eps)^-½:
// dx = r·(g∘w) − r³/d·x·Σ(g∘w∘x) per row, and dw = Σ_rows g∘x·r.
func (o *rmsNormOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	eps := o.eps
	weighted := len(in) == 2
	var b gradBuilder
	children := gorgonia.Nodes{in[0], grad}
	dims := []int{2, 2, 2}
	if weighted {
		children = append(children, in[1])
		dims = []int{2, 2, 1, 2}
	}
	exec := o.exec
	dx := b.add(newGrad(o.name+".dx", dims, 0, func(dst []float32, v [][]float32, s []tensor.Shape) error {
		x, g := v[0], v[1]
		t, d := rowsCols(s[0])
		splitRows(exec, t, d, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				row, gr, dr := x[r*d:(r+1)*d], g[r*d:(r+1)*d], dst[r*d:(r+1)*d]
				inv := rmsScale(row, eps)
				var dot float32
				for i := range d {
					gw := gr[i]
					if weighted {
						gw *= v[2][i]
					}
					dot += gw * row[i]
					dr[i] = inv * gw
				}
				k := inv * inv * inv / float32(d) * dot
				for i := range d {
					dr[i] -= k * row[i]
				}
			}
		})
		return nil
	}), children...)
	if !weighted {
		return gorgonia.Nodes{dx}, b.err
	}
	dw := b.add(newGrad(o.name+".dw", []int{2, 2, 1, 1}, 2, func(dst []float32, v [][]float32, s []tensor.Shape) error {
		x, g := v[0], v[1]
		t, d := rowsCols(s[0])
		clear(dst)
		for r := range t {
			inv := rmsScale(x[r*d:(r+1)*d], eps)
			for i := range d {
				dst[i] += g[r*d+i] * x[r*d+i] * inv
			}
		}
		return nil
	}), in[0], grad, in[1])
	if b.err != nil {
		return nil, b.err
	}
	return gorgonia.Nodes{dx, dw}, nil
}

// DiffWRT reports that scaling is differentiable in both inputs.
func (o *scaleOp) DiffWRT(n int) []bool { return allTrue(n) }

// SymDiff returns dx = g∘w per row and dw = Σ_rows g∘x.
func (o *scaleOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	var b gradBuilder
	sc := newScale(o.name+".dx", false)
	sc.exec = o.exec
	dx := b.add(sc, grad, in[1])
	exec := o.exec
	dw := b.add(newGrad(o.name+".dw", []int{2, 2, 1, 1}, 2, func(dst []float32, v [][]float32, s []tensor.Shape) error {
		x, g := v[0], v[1]
		t, d := rowsCols(s[0])
		// Over threads, each takes a range of columns and sums every
		// row into it in order: each column's sum is the same chain.
		cols := func(lo, hi int) {
			clear(dst[lo:hi])
			for r := range t {
				for i := lo; i < hi; i++ {
					dst[i] += g[r*d+i] * x[r*d+i]
				}
			}
		}
		if exec == nil {
			cols(0, d)
		} else {
			exec.TrainSplit(d, 16, t*rowCost, cols)
		}
		return nil
	}), in[0], grad, in[1])
	if b.err != nil {
		return nil, b.err
	}
	return gorgonia.Nodes{dx, dw}, nil
}

// DiffWRT reports that the rotation is differentiable.
func (o *ropeOp) DiffWRT(n int) []bool { return allTrue(n) }

// SymDiff returns the gradient rotated back: the rotation is orthogonal.
func (o *ropeOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	inv := newRoPE(o.name+".dx", o.st, false)
	inv.inverse, inv.exec = !o.inverse, o.exec
	n, err := gorgonia.ApplyOp(inv, grad)
	return gorgonia.Nodes{n}, err
}

// DiffWRT reports that SwiGLU is differentiable in both inputs.
func (o *swigluOp) DiffWRT(n int) []bool { return allTrue(n) }

// SymDiff differentiates y = a·σ(a)·u: da = g·u·σ(a)·(1 + a·(1−σ(a))),
// du = g·a·σ(a).
func (o *swigluOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	var b gradBuilder
	da := b.add(newGrad(o.name+".da", []int{2, 2, 2, 2}, 0, func(dst []float32, v [][]float32, _ []tensor.Shape) error {
		a, u, g := v[0], v[1], v[2]
		for i := range dst {
			s := 1 / (1 + exp32(-a[i]))
			dst[i] = g[i] * u[i] * s * (1 + a[i]*(1-s))
		}
		return nil
	}), in[0], in[1], grad)
	du := b.add(newGrad(o.name+".du", []int{2, 2, 2}, 0, func(dst []float32, v [][]float32, _ []tensor.Shape) error {
		a, g := v[0], v[1]
		for i := range dst {
			dst[i] = g[i] * a[i] / (1 + exp32(-a[i]))
		}
		return nil
	}), in[0], grad)
	if b.err != nil {
		return nil, b.err
	}
	return gorgonia.Nodes{da, du}, nil
}

// DiffWRT reports that the sigmoid is differentiable.
func (o *sigmoidOp) DiffWRT(n int) []bool { return allTrue(n) }

// SymDiff returns dx = (y∘σ(−x))∘g: the values of the nodes that
// Gorgonia's own Sigmoid adds (it rewrites 1−y as σ(−x) and multiplies in
// that order), bit for bit, in one op (kernels.SigmoidGrad) and one
// tensor, where Gorgonia's nodes allocate one and overwrite y.
func (o *sigmoidOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	exec := o.exec
	n, err := gorgonia.ApplyOp(newGrad(o.name+".dx", []int{2, 2, 2, 2}, 0, func(dst []float32, v [][]float32, _ []tensor.Shape) error {
		if exec != nil {
			exec.TrainSigmoidGrad(dst, v[0], v[1], v[2])
		} else {
			kernels.SigmoidGrad(dst, v[0], v[1], v[2])
		}
		return nil
	}), in[0], out, grad)
	if err != nil {
		return nil, fmt.Errorf("engine: %s: %w", o.name, err)
	}
	return gorgonia.Nodes{n}, nil
}

// DiffWRT reports that taking the last row is differentiable.
func (o *lastRowOp) DiffWRT(n int) []bool { return allTrue(n) }

// SymDiff scatters the gradient into the last row of zeros.
func (o *lastRowOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	n, err := gorgonia.ApplyOp(newGrad(o.name+".dx", []int{2, 2, 2}, 0, func(dst []float32, v [][]float32, s []tensor.Shape) error {
		clear(dst)
		copy(dst[len(dst)-len(v[1]):], v[1])
		return nil
	}), in[0], grad)
	return gorgonia.Nodes{n}, err
}

// DiffWRT reports that attention is differentiable in q, k and v.
func (o *attentionOp) DiffWRT(n int) []bool { return allTrue(n) }

// SymDiff adds the backward pass of causal attention without a cache
// (training processes whole sequences): with p the softmax of the scores
// s_j = q·k_j/√hs, dv_j += p_j·g, dp_j = g·v_j, ds_j = p_j·(dp_j − Σ p·dp),
// dq += ds_j·k_j/√hs, dk_j += ds_j·q/√hs. Under eager attention each of
// dq, dk and dv is its own op recomputing p row by row; flash2 runs
// FlashAttention-2's tiled backward pass instead (flash2.go).
func (o *attentionOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if o.st.cached {
		return nil, fmt.Errorf("engine: %s: gradients need an engine without a KV cache", o.name)
	}
	if o.kind == AttentionFlash2 {
		return o.flashSymDiff(in, out, grad) // flash2.go, with or without a recomputed core
	}
	if o.core != nil {
		return o.coreSymDiff(in, grad) // selective.go
	}
	st := o.st
	var b gradBuilder
	res := make(gorgonia.Nodes, 3)
	for which := range 3 {
		res[which] = b.add(newGrad(fmt.Sprintf("%s.d%c", o.name, "qkv"[which]), []int{2, 2, 2, 2, 2}, which, func(dst []float32, v [][]float32, s []tensor.Shape) error {
			return attentionBackward(st, which, dst, v[0], v[1], v[2], v[3], s[0][0])
		}), in[0], in[1], in[2], grad)
	}
	return res, b.err
}

// attentionBackward writes dq (which 0), dk (1) or dv (2) into dst.
func attentionBackward(st *state, which int, dst, q, k, v, g []float32, t int) error {
	hs := st.headSize
	qd, kvd := st.heads*hs, st.kvHeads*hs
	if len(q) != t*qd || len(k) != t*kvd || len(v) != t*kvd || len(g) != t*qd {
		return fmt.Errorf("shapes do not fit %d heads, %d kv heads of %d", st.heads, st.kvHeads, hs)
	}
	clear(dst)
	group := st.heads / st.kvHeads
	scale := float32(math.Sqrt(float64(hs)))
	p := make([]float32, t)
	dp := make([]float32, t)
	for r := range t {
		for h := range st.heads {
			qv := q[r*qd+h*hs : r*qd+(h+1)*hs]
			gv := g[r*qd+h*hs : r*qd+(h+1)*hs]
			off := (h / group) * hs
			n := r + 1
			for j := range n {
				p[j] = kernels.Dot(qv, k[j*kvd+off:j*kvd+off+hs]) / scale
			}
			softmax(p[:n])
			if which == 2 {
				for j := range n {
					kernels.Axpy(dst[j*kvd+off:j*kvd+off+hs], p[j], gv)
				}
				continue
			}
			var sum float32
			for j := range n {
				dp[j] = kernels.Dot(gv, v[j*kvd+off:j*kvd+off+hs])
				sum += p[j] * dp[j]
			}
			for j := range n {
				ds := p[j] * (dp[j] - sum) / scale
				if which == 0 {
					kernels.Axpy(dst[r*qd+h*hs:r*qd+(h+1)*hs], ds, k[j*kvd+off:j*kvd+off+hs])
				} else {
					kernels.Axpy(dst[j*kvd+off:j*kvd+off+hs], ds, qv)
				}
			}
		}
	}
	return nil
}
