package engine

import (
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// Training weights stored in bf16 (TrainSpec.BF16): a linear weight the
// engine holds as bfloat16 is trained in place, two bytes a weight, with
// fp32 arithmetic. Each product widens its weight, one weight matrix at a
// time, into a float32 scratch that every such weight of the training
// graph shares (the largest one's size), then runs the same fp32 kernels
// as an fp32 weight: the forward product, dX = G·W (widened again, since
// other weights used the scratch in between) and dW = Gᵀ·X, which needs no
// W. The whole model is never held in fp32. The gradient is fp32; the
// optimizer updates the widened weight in fp32 and rounds it back to bf16
// (runtime/train). This is PyTorch's W.float() per layer, with the same
// products as an fp32 model whose weights hold the bf16 values.

// trainedBF16 returns the bf16 storage of weight when a training step
// trains it in place, else nil.
func (b *builder) trainedBF16(weight string) *kernels.QMatrix {
	if !b.training() || !b.train.trained[weight] {
		return nil
	}
	if q, ok := b.e.quant[weight]; ok && q.Method == kernels.BF16 {
		return q
	}
	return nil
}

// bf16Scratch returns the float32 scratch that the bf16-stored trained
// weights of the graph share, sized to the largest of them.
func (b *builder) bf16Scratch() []float32 {
	if b.train.bf16 == nil {
		n := 0
		for name, q := range b.e.quant {
			if q.Method == kernels.BF16 && b.train.trained[name] {
				n = max(n, q.Len())
			}
		}
		b.train.bf16 = make([]float32, n)
	}
	return b.train.bf16
}

// bf16Linear is plainLinear for a trained weight stored in bf16: the
// weight's graph node is a [Rows, Cols] view of the shared scratch, which
// the ops fill from the bf16 bits before they read it.
func (b *builder) bf16Linear(x *gorgonia.Node, weight, name string, residual *gorgonia.Node, q *kernels.QMatrix) *gorgonia.Node {
	w := b.bf16Weight(weight, q)
	op := func(residual bool) *bf16LinearOp {
		o := newFrozenLinear(name, b.e.exec, residual, b.reuse, false)
		o.train = true
		return &bf16LinearOp{linearOp: o, q: q}
	}
	if residual == nil {
		return b.apply(op(false), name, x, w)
	}
	if b.fused {
		return b.apply(op(true), name, x, w, residual)
	}
	y := b.apply(op(false), name, x, w)
	return b.add(name+".add", residual, y)
}

// bf16Weight returns the graph node of a trained weight stored in bf16:
// a [Rows, Cols] view of the shared scratch, which holds no value of its
// own (the ops that read it fill it first). A checkpointed block's op
// takes it as an input only to hand it to the recomputation graphs
// (checkpoint.go), whose products fill the same scratch.
func (b *builder) bf16Weight(weight string, q *kernels.QMatrix) *gorgonia.Node {
	if w, ok := b.nodes[weight]; ok {
		return w
	}
	buf := b.bf16Scratch()[:q.Len()]
	w := gorgonia.NewMatrix(b.g, tensor.Float32, gorgonia.WithShape(q.Rows, q.Cols), gorgonia.WithName(weight),
		gorgonia.WithValue(tensor.New(tensor.WithShape(q.Rows, q.Cols), tensor.WithBacking(buf))))
	b.nodes[weight] = w
	return w
}

// bf16LinearOp is linearOp over a bf16-stored trained weight q: its
// second input is the scratch view, filled from q before each product.
type bf16LinearOp struct {
	*linearOp
	q *kernels.QMatrix
}

func (o *bf16LinearOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	w, _, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	kernels.WidenBF16(w, o.q.Data)
	return o.linearOp.Do(vs...)
}

// SymDiff returns dX = G·W (W widened again), dW = Gᵀ·X and, with a
// residual, dR = G, on the kernels linearOp uses in training.
func (o *bf16LinearOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	exec, q := o.exec, o.q
	var b gradBuilder
	dx := b.add(newGrad(o.name+".dx", []int{2, 2, 2, 2}, 2, func(dst []float32, v [][]float32, s []tensor.Shape) error {
		t, rows := rowsCols(s[0])
		_, cols := rowsCols(s[1])
		kernels.WidenBF16(v[1], q.Data)
		return exec.TrainMatMulNN(dst, v[0], v[1], t, rows, cols)
	}), grad, in[1], in[0])
	dw := b.add(newGrad(o.name+".dw", []int{2, 2, 2, 2}, 2, func(dst []float32, v [][]float32, s []tensor.Shape) error {
		t, rows := rowsCols(s[0])
		_, cols := rowsCols(s[1])
		return exec.TrainMatMulTransA(dst, v[0], v[1], t, rows, cols, false)
	}), grad, in[0], in[1])
	if b.err != nil {
		return nil, b.err
	}
	if o.residual {
		return gorgonia.Nodes{dx, dw, grad}, nil
	}
	return gorgonia.Nodes{dx, dw}, nil
}
