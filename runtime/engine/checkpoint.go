package engine

import (
	"fmt"
	"sort"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// This file implements gradient checkpointing by recomputation. A
// checkpointed block is one op in the training graph (ckptOp): its
// forward pass runs the block on a small inner graph and keeps only the
// block's output, so none of the block's intermediate activations stay in
// the training graph; its backward pass (ckptGradOp) runs the block again
// on a second inner graph that also differentiates it, given the upstream
// gradient. Both inner graphs are shared by every checkpointed block: each
// run binds them to one block's weights, adapters and dropout masks, so
// the memory they hold is one block's, whatever the number of layers.

// blockWeights are the weight names of a block, after "layers.N.".
var blockWeights = []string{
	"attention_norm.weight", "attention.wq.weight", "attention.wk.weight", "attention.wv.weight", "attention.wo.weight",
	"ffn_norm.weight", "feed_forward.w1.weight", "feed_forward.w2.weight", "feed_forward.w3.weight",
}

// ckptParam is one trained tensor of a block: a weight (lora 0), or an
// adapter's A (1) or B (2) on a weight.
type ckptParam struct {
	suffix string
	lora   int
}

// ckptInner is an inner graph computing one block from x, with, for the
// backward graph, the gradients of Σ out∘up with respect to x and the
// block's parameters.
type ckptInner struct {
	g        *gorgonia.ExprGraph
	vm       gorgonia.VM
	x, up    *gorgonia.Node
	out, dx  *gorgonia.Node
	weights  map[string]*gorgonia.Node    // fp32 weights by suffix
	quant    map[string]*kernels.QMatrix  // proxies of quantised weights by suffix
	adapters map[string][2]*gorgonia.Node // A and B by suffix
	masks    map[string]*gorgonia.Node    // dropout masks by suffix
	grads    []*gorgonia.Node             // per ckptParam
}

// ckptShared is what every checkpointed block of a training graph
// shares.
type ckptShared struct {
	e        *Engine
	params   []ckptParam
	fwd, bwd *ckptInner
}

// checkpointed adds block l as one recomputed op.
func (b *builder) checkpointed(x *gorgonia.Node, l int) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	sh, err := b.ckptShared()
	if err != nil {
		b.err = err
		return nil
	}
	p := fmt.Sprintf("layers.%d.", l)
	inputs := gorgonia.Nodes{x}
	dims := []int{2}
	for _, prm := range sh.params {
		name := p + prm.suffix
		var n *gorgonia.Node
		if prm.lora == 0 {
			if q := b.trainedBF16(name); q != nil {
				n = b.bf16Weight(name, q) // bf16train.go
			} else {
				n = b.weight(name)
			}
		} else {
			nodes, ok := b.train.loraNodes[name]
			if !ok {
				ad := b.train.adapters[name]
				an := gorgonia.NewMatrix(b.g, tensor.Float32, gorgonia.WithShape(ad.A.Shape()...), gorgonia.WithName(name+".lora_A"), gorgonia.WithValue(ad.A))
				bn := gorgonia.NewMatrix(b.g, tensor.Float32, gorgonia.WithShape(ad.B.Shape()...), gorgonia.WithName(name+".lora_B"), gorgonia.WithValue(ad.B))
				nodes = [2]*gorgonia.Node{an, bn}
				b.train.loraNodes[name] = nodes
			}
			n = nodes[prm.lora-1]
		}
		inputs = append(inputs, n)
		dims = append(dims, n.Dims())
	}
	masks := map[string]*tensor.Dense{}
	for suffix, m := range sh.fwd.masks {
		t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(m.Shape()...))
		masks[suffix] = t
		b.train.maskTensors[p+suffix] = t
	}
	op := &ckptOp{opBase: opBase{name: p + "checkpoint", dims: append(dims, 2)}, sh: sh, layer: l, masks: masks}
	return b.apply(op, op.name, inputs...)
}

// ckptShared builds the inner graphs once per training graph.
func (b *builder) ckptShared() (*ckptShared, error) {
	if b.train.ckpt != nil {
		return b.train.ckpt, nil
	}
	sh := &ckptShared{e: b.e}
	for _, s := range blockWeights {
		if b.train.trained["layers.0."+s] {
			sh.params = append(sh.params, ckptParam{suffix: s})
		}
	}
	var adapted []string
	for _, s := range blockWeights {
		if _, ok := b.train.adapters["layers.0."+s]; ok {
			adapted = append(adapted, s)
		}
	}
	sort.Strings(adapted)
	for _, s := range adapted {
		sh.params = append(sh.params, ckptParam{suffix: s, lora: 1}, ckptParam{suffix: s, lora: 2})
	}
	var err error
	if sh.fwd, err = b.ckptInner(sh, false); err != nil {
		return nil, err
	}
	if sh.bwd, err = b.ckptInner(sh, true); err != nil {
		return nil, err
	}
	b.train.ckpt = sh
	return sh, nil
}

// ckptInner builds one inner graph: block 0's structure, later bound to
// any block's tensors.
func (b *builder) ckptInner(sh *ckptShared, backward bool) (*ckptInner, error) {
	ec := *b.e
	ec.quant = map[string]*kernels.QMatrix{}
	in := &ckptInner{weights: map[string]*gorgonia.Node{}, quant: map[string]*kernels.QMatrix{}, adapters: map[string][2]*gorgonia.Node{}, masks: map[string]*gorgonia.Node{}}
	for name, q := range b.e.quant {
		ec.quant[name] = q
	}
	for _, s := range blockWeights {
		if q, ok := b.e.quant["layers.0."+s]; ok {
			proxy := *q
			ec.quant["layers.0."+s] = &proxy
			in.quant[s] = &proxy
		}
	}
	adapters := map[string]*Adapter{}
	for _, s := range blockWeights {
		if ad, ok := b.train.adapters["layers.0."+s]; ok {
			adapters["layers.0."+s] = ad
		}
	}
	// The inner graphs widen bf16 weights into the training graph's
	// scratch: every product fills it before reading it, and the graphs
	// run one at a time, so one scratch serves them all.
	tb := &trainBuild{adapters: adapters, trained: b.train.trained, masks: map[string]*gorgonia.Node{}, loraNodes: map[string][2]*gorgonia.Node{}, maskTensors: map[string]*tensor.Dense{}, step: b.train.step,
		bf16: b.bf16Scratch()}
	ib := &builder{e: &ec, st: b.st, g: gorgonia.NewGraph(), fused: b.fused, nodes: map[string]*gorgonia.Node{}, train: tb}
	d, xs := b.e.cfg.Dim, b.train.seqLen
	in.x = gorgonia.NewMatrix(ib.g, tensor.Float32, gorgonia.WithShape(xs, d), gorgonia.WithName("x"),
		gorgonia.WithValue(tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(xs, d))))
	in.out = ib.block(in.x, 0)
	if ib.err != nil {
		return nil, ib.err
	}
	for _, s := range blockWeights {
		if n, ok := ib.nodes["layers.0."+s]; ok {
			in.weights[s] = n
		}
		if n, ok := tb.loraNodes["layers.0."+s]; ok {
			in.adapters[s] = n
		}
		if n, ok := tb.masks["layers.0."+s]; ok {
			in.masks[s] = n
		}
	}
	if backward {
		in.up = gorgonia.NewMatrix(ib.g, tensor.Float32, gorgonia.WithShape(xs, d), gorgonia.WithName("up"),
			gorgonia.WithValue(tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(xs, d))))
		prod, err := gorgonia.HadamardProd(in.out, in.up)
		if err != nil {
			return nil, err
		}
		loss, err := gorgonia.Sum(prod)
		if err != nil {
			return nil, err
		}
		wrt := gorgonia.Nodes{in.x}
		for _, p := range sh.params {
			if p.lora == 0 {
				wrt = append(wrt, in.weights[p.suffix])
			} else {
				wrt = append(wrt, in.adapters[p.suffix][p.lora-1])
			}
		}
		gs, err := gorgonia.Grad(loss, wrt...)
		if err != nil {
			return nil, fmt.Errorf("engine: differentiating the recomputed block: %w", err)
		}
		in.dx, in.grads = gs[0], gs[1:]
	}
	reuseOutputs(ib.g) // the block ops clone what they keep
	in.g, in.vm = ib.g, gorgonia.NewTapeMachine(ib.g)
	return in, nil
}

// bind points an inner graph at block l: its weights, the given
// parameter values (in ckptParam order) and dropout masks.
func (sh *ckptShared) bind(in *ckptInner, l int, params []gorgonia.Value, masks map[string]*tensor.Dense) error {
	p := fmt.Sprintf("layers.%d.", l)
	for s, n := range in.weights {
		v, ok := sh.e.tensors[p+s]
		if !ok {
			continue // a weight trained in bf16: a scratch view, bound below
		}
		if err := gorgonia.Let(n, v); err != nil {
			return err
		}
	}
	for s, proxy := range in.quant {
		q, ok := sh.e.quant[p+s]
		if !ok || q.Rows != proxy.Rows || q.Cols != proxy.Cols || q.Method != proxy.Method {
			return fmt.Errorf("engine: block %d's %s is not stored like block 0's", l, s)
		}
		*proxy = *q
	}
	for i, prm := range sh.params {
		var n *gorgonia.Node
		if prm.lora == 0 {
			n = in.weights[prm.suffix]
		} else {
			n = in.adapters[prm.suffix][prm.lora-1]
		}
		if err := gorgonia.Let(n, params[i]); err != nil {
			return err
		}
	}
	for s, n := range in.masks {
		if err := gorgonia.Let(n, masks[s]); err != nil {
			return err
		}
	}
	return nil
}

// ckptOp is a checkpointed block: inputs x and the block's trained
// tensors; output the block's output.
type ckptOp struct {
	opBase
	sh    *ckptShared
	layer int
	masks map[string]*tensor.Dense
}

func (o *ckptOp) InferShape(ns ...gorgonia.DimSizer) (tensor.Shape, error) {
	x, err := shapeOf(ns, 0)
	if err != nil {
		return nil, err
	}
	return x.Clone(), nil
}

func (o *ckptOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	in := o.sh.fwd
	if err := o.sh.bind(in, o.layer, vs[1:], o.masks); err != nil {
		return nil, fmt.Errorf("engine: %s: %w", o.name, err)
	}
	if err := gorgonia.Let(in.x, vs[0]); err != nil {
		return nil, err
	}
	defer in.vm.Reset()
	if err := in.vm.RunAll(); err != nil {
		return nil, fmt.Errorf("engine: %s: %w", o.name, err)
	}
	out, ok := in.out.Value().(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("engine: %s: no output", o.name)
	}
	return out.Clone().(*tensor.Dense), nil
}

// DiffWRT reports that the block is differentiable in every input.
func (o *ckptOp) DiffWRT(n int) []bool { return allTrue(n) }

// SymDiff recomputes the block in the backward pass: one op computes dx
// (and keeps the parameters' gradients), one pick op per parameter hands
// its gradient on.
func (o *ckptOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dims := append([]int{2, 2}, o.dims[1:len(o.dims)-1]...)
	gop := &ckptGradOp{opBase: opBase{name: o.name + ".backward", dims: append(dims, 2)}, fwd: o}
	children := append(gorgonia.Nodes{in[0], grad}, in[1:]...)
	dx, err := gorgonia.ApplyOp(gop, children...)
	if err != nil {
		return nil, err
	}
	res := gorgonia.Nodes{dx}
	for i := range o.sh.params {
		pick := &ckptPickOp{opBase: opBase{name: fmt.Sprintf("%s.grad%d", o.name, i), dims: []int{2, o.dims[i+1]}}, src: gop, i: i, shape: in[i+1].Shape().Clone()}
		n, err := gorgonia.ApplyOp(pick, dx)
		if err != nil {
			return nil, err
		}
		res = append(res, n)
	}
	return res, nil
}

// ckptGradOp recomputes and differentiates a block: inputs x, the
// upstream gradient and the block's trained tensors; output dx. The
// parameters' gradients are kept for the pick ops.
type ckptGradOp struct {
	opBase
	fwd   *ckptOp
	grads []*tensor.Dense
}

func (o *ckptGradOp) InferShape(ns ...gorgonia.DimSizer) (tensor.Shape, error) {
	x, err := shapeOf(ns, 0)
	if err != nil {
		return nil, err
	}
	return x.Clone(), nil
}

func (o *ckptGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	sh := o.fwd.sh
	in := sh.bwd
	if err := sh.bind(in, o.fwd.layer, vs[2:], o.fwd.masks); err != nil {
		return nil, fmt.Errorf("engine: %s: %w", o.name, err)
	}
	if err := gorgonia.Let(in.x, vs[0]); err != nil {
		return nil, err
	}
	if err := gorgonia.Let(in.up, vs[1]); err != nil {
		return nil, err
	}
	defer in.vm.Reset()
	if err := in.vm.RunAll(); err != nil {
		return nil, fmt.Errorf("engine: %s: %w", o.name, err)
	}
	o.grads = o.grads[:0]
	for _, g := range in.grads {
		d, ok := g.Value().(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("engine: %s: a gradient is missing", o.name)
		}
		o.grads = append(o.grads, d.Clone().(*tensor.Dense))
	}
	dx, ok := in.dx.Value().(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("engine: %s: dx is missing", o.name)
	}
	return dx.Clone().(*tensor.Dense), nil
}

// ckptPickOp hands on one parameter gradient of its block's backward
// op; its input (that op's dx) orders it after the op.
type ckptPickOp struct {
	opBase
	src   *ckptGradOp
	i     int
	shape tensor.Shape
}

func (o *ckptPickOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return o.shape.Clone(), nil
}

func (o *ckptPickOp) Do(...gorgonia.Value) (gorgonia.Value, error) {
	if o.i >= len(o.src.grads) {
		return nil, fmt.Errorf("engine: %s: the block's backward pass has not run", o.name)
	}
	return o.src.grads[o.i], nil
}

// HeldBytes returns the bytes of the values the training graph and its
// recomputation graphs hold after a run, inputs (weights, adapters, the
// embedded sequence) excluded: the activations and gradients the
// checkpointing setting decides.
func (s *TrainStep) HeldBytes() int64 {
	var n int64
	seen := map[uintptr]bool{} // a value that several nodes share counts once
	count := func(g *gorgonia.ExprGraph) {
		for _, node := range g.AllNodes() {
			if node.IsVar() {
				continue
			}
			if v, ok := node.Value().(tensor.Tensor); ok && !seen[v.Uintptr()] {
				seen[v.Uintptr()] = true
				n += int64(v.DataSize()) * 4
			}
		}
	}
	count(s.g)
	if sh := s.ckpt; sh != nil {
		count(sh.fwd.g)
		count(sh.bwd.g)
	}
	return n
}
