package engine

import (
	"fmt"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// linearGroup is linear products of one input computed together: a
// layer's query, key and value projections, or its gate and up ones, in a
// one-row (decode) inference graph. Each keeps a node of its own in the
// graph, but the first of them to run computes all of them as one
// parallel product (kernels.Exec.QMatVecs, MatVecs): one hand-off to the
// worker pool instead of one per product, the threads' shares balanced
// over all the rows, and a quantised activation made once. The others
// then return what it wrote. Results are those of the separate products,
// bit for bit.
type linearGroup struct {
	st      *state
	run     uint64 // the state's run whose results are computed; 0: none
	exec    kernels.Exec
	members []*groupedLinear
	// The kernels' arguments, kept to allocate nothing per step.
	outs [][]float32
	qs   []*kernels.QMatrix
	ws   [][]float32
	rows []int
}

// groupedLinear is one product of a linearGroup: y = x·Wᵀ, W quantised
// (q) or fp32 (w), rows × cols.
type groupedLinear struct {
	opBase
	g          *linearGroup
	q          *kernels.QMatrix
	w          *tensor.Dense
	rows, cols int
	cur        *tensor.Dense // this run's result
}

// grouped adds the products x·Wᵀ for the named weights, named names, as a
// linearGroup when x is one row of an inference graph whose ops keep their
// buffers and the weights are all quantised or all fp32 with x's width, or
// several rows (a prefill, which then quantises x once: QMatMuls) and the
// weights are all quantised; otherwise as separate linears.
func (b *builder) grouped(x *gorgonia.Node, weights, names []string) []*gorgonia.Node {
	if b.err != nil {
		return make([]*gorgonia.Node, len(weights))
	}
	if g := b.linearGroup(x, weights, names); g != nil {
		nodes := make([]*gorgonia.Node, len(g.members))
		for i, m := range g.members {
			nodes[i] = b.apply(m, m.name, x)
		}
		return nodes
	}
	nodes := make([]*gorgonia.Node, len(weights))
	for i, w := range weights {
		nodes[i] = b.linear(x, w, names[i], nil)
	}
	return nodes
}

// linearGroup returns the group for grouped, or nil when the products
// must stay apart.
func (b *builder) linearGroup(x *gorgonia.Node, weights, names []string) *linearGroup {
	if !b.reuse || b.train != nil || len(weights) < 2 || x.Shape().Dims() != 2 {
		return nil
	}
	_, quant := b.e.quant[weights[0]]
	if x.Shape()[0] != 1 && !quant {
		return nil // a prefill's fp32 products gain nothing from a group
	}
	cols := x.Shape()[1]
	g := &linearGroup{st: b.st, exec: b.e.exec}
	for i, name := range weights {
		m := &groupedLinear{opBase: opBase{name: names[i], dims: []int{2, 2}, reuse: true}, g: g}
		if q, ok := b.e.quant[name]; ok {
			if !quant {
				return nil
			}
			m.q, m.rows, m.cols = q, q.Rows, q.Cols
			g.qs = append(g.qs, q)
		} else {
			w, ok := b.e.tensors[name]
			if quant || !ok || w.Dims() != 2 {
				return nil
			}
			m.w, m.rows, m.cols = w, w.Shape()[0], w.Shape()[1]
			g.ws = append(g.ws, w.Float32s())
		}
		if m.cols != cols {
			return nil
		}
		g.members = append(g.members, m)
		g.rows = append(g.rows, m.rows)
	}
	g.outs = make([][]float32, len(g.members))
	return g
}

func (o *groupedLinear) InferShape(ns ...gorgonia.DimSizer) (tensor.Shape, error) {
	x, err := shapeOf(ns, 0)
	if err != nil {
		return nil, err
	}
	t, in := rowsCols(x)
	if in != o.cols {
		return nil, fmt.Errorf("engine: %s: input width %d, want %d", o.name, in, o.cols)
	}
	return tensor.Shape{t, o.rows}, nil
}

// Do returns this product's result, computing the whole group's first
// when this run has not.
func (o *groupedLinear) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	g := o.g
	if g.run == g.st.runs && o.cur != nil {
		return o.cur, nil
	}
	x, xs, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	t, in := rowsCols(xs)
	if in != o.cols {
		return nil, fmt.Errorf("engine: %s: input width %d, want %d", o.name, in, o.cols)
	}
	for i, m := range g.members {
		m.cur = m.output(t, m.rows)
		g.outs[i] = m.cur.Float32s()
	}
	switch {
	case t == 1 && g.qs != nil:
		err = g.exec.QMatVecs(g.outs, g.qs, x)
	case t == 1:
		err = g.exec.MatVecs(g.outs, g.ws, g.rows, x, o.cols)
	case g.qs != nil:
		// A prefill quantises its input once for all the members.
		err = g.exec.QMatMuls(g.outs, x, g.qs, t)
	default:
		for i, m := range g.members {
			if m.q != nil {
				err = g.exec.QMatMul(g.outs[i], x, m.q, t)
			} else {
				err = g.exec.MatMul(g.outs[i], x, g.ws[i], t, m.rows, m.cols)
			}
			if err != nil {
				break
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("engine: %s: %w", o.name, err)
	}
	g.run = g.st.runs
	return o.cur, nil
}
