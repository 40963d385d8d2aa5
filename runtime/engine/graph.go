package engine

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// builder assembles the Llama forward pass as one Gorgonia expression
// graph. Every step is a differentiable node (Gorgonia's own element-wise
// ops, or the engine's own ops in ops.go and quantlinear.go: the one op
// set of the runtime), so the same graph serves training.
// The first error stops the build; later calls return nil nodes.
type builder struct {
	e     *Engine
	st    *state // the stateful ops' shared state
	g     *gorgonia.ExprGraph
	fused bool // CompileReduceOverhead and up: fused element-wise ops
	reuse bool // ops write into buffers allocated once
	err   error
	nodes map[string]*gorgonia.Node
	// train is set for a training graph: its adapters and which weights
	// are trained (train.go).
	train *trainBuild
}

// apply adds op applied to children, named name.
func (b *builder) apply(op gorgonia.Op, name string, children ...*gorgonia.Node) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	n, err := gorgonia.ApplyOpWithName(op, name, children...)
	if err != nil {
		b.err = fmt.Errorf("engine: building %s: %w", name, err)
		return nil
	}
	return n
}

// std wraps one of Gorgonia's own binary or unary operations.
func (b *builder) std(name string, f func() (*gorgonia.Node, error)) *gorgonia.Node {
	if b.err != nil {
		return nil
	}
	n, err := f()
	if err != nil {
		b.err = fmt.Errorf("engine: building %s: %w", name, err)
		return nil
	}
	return n
}

// weight returns the graph's input node holding the named tensor.
func (b *builder) weight(name string) *gorgonia.Node {
	if n, ok := b.nodes[name]; ok {
		return n
	}
	v := b.e.tensors[name]
	var n *gorgonia.Node
	if v.Dims() == 1 {
		n = gorgonia.NewVector(b.g, tensor.Float32, gorgonia.WithShape(v.Shape()...), gorgonia.WithName(name), gorgonia.WithValue(v))
	} else {
		n = gorgonia.NewMatrix(b.g, tensor.Float32, gorgonia.WithShape(v.Shape()...), gorgonia.WithName(name), gorgonia.WithValue(v))
	}
	b.nodes[name] = n
	return n
}

// training reports whether b builds a training step's graph (not an
// inference graph that applies adapters on the fly).
func (b *builder) training() bool { return b.train != nil && b.train.step }

// rmsNorm normalises x and scales it by the named weight: one fused op,
// or a normalise op and a scale op.
func (b *builder) rmsNorm(x *gorgonia.Node, weight, name string) *gorgonia.Node {
	eps := float32(b.e.cfg.NormEps)
	if eps <= 0 {
		eps = 1e-5
	}
	w := b.weight(weight)
	if b.fused {
		return b.apply(newRMSNorm(name, eps, true, b.reuse), name, x, w)
	}
	norm, scale := newRMSNorm(name+".norm", eps, false, b.reuse), newScale(name+".scale", b.reuse)
	if b.train != nil {
		norm.exec, scale.exec = &b.e.exec, &b.e.exec // over the engine's threads
	}
	n := b.apply(norm, name+".norm", x)
	return b.apply(scale, name+".scale", n, w)
}

// linear returns x·Wᵀ for the named weight, plus residual when it is not
// nil (fused into the product, or a separate Gorgonia Add), plus the
// weight's LoRA adapter in a training graph that has one.
func (b *builder) linear(x *gorgonia.Node, weight, name string, residual *gorgonia.Node) *gorgonia.Node {
	if b.train != nil {
		if ad, ok := b.train.adapters[weight]; ok {
			return b.adapted(x, weight, name, residual, ad)
		}
	}
	return b.plainLinear(x, weight, name, residual)
}

// plainLinear is linear without an adapter.
func (b *builder) plainLinear(x *gorgonia.Node, weight, name string, residual *gorgonia.Node) *gorgonia.Node {
	if q := b.trainedBF16(weight); q != nil {
		return b.bf16Linear(x, weight, name, residual, q) // bf16train.go
	}
	if q, ok := b.e.quant[weight]; ok {
		exec := b.e.exec
		if b.train != nil {
			// Training (QLoRA) multiplies the frozen base in float, as
			// bitsandbytes does and as its input gradient (dequantised
			// rows) does; inference rounds activations to 8 bits for the
			// integer-dot kernels, as llama.cpp does.
			exec.NoVNNI = true
		}
		if residual != nil && b.fused && b.reuse && b.train == nil {
			return b.std(name, func() (*gorgonia.Node, error) { return quantLinearResidual(name, x, residual, q, exec) })
		}
		y := b.std(name, func() (*gorgonia.Node, error) {
			if b.reuse {
				return quantLinearReused(name, x, q, exec)
			}
			return quantLinear(name, x, q, exec)
		})
		if residual == nil {
			return y
		}
		return b.add(name+".add", residual, y)
	}
	w := b.weight(weight)
	exec := b.e.exec
	frozen := b.train != nil && !b.train.trained[weight]
	op := func(residual bool) *linearOp {
		o := newFrozenLinear(name, exec, residual, b.reuse, frozen)
		o.train = b.training()
		return o
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

// swiglu returns silu(gate)·up: one fused op, or a sigmoid (Gorgonia's,
// vectorised: sigmoidOp) and two of Gorgonia's HadamardProds (in a
// training graph, element-wise ops of the same values: trainelem.go).
func (b *builder) swiglu(gate, up *gorgonia.Node, name string) *gorgonia.Node {
	if b.fused {
		return b.apply(newSwiGLU(name, b.reuse), name, gate, up)
	}
	sig := newSigmoid(name+".sigmoid", b.reuse)
	if b.train != nil {
		sig.exec = &b.e.exec // over the engine's threads
	}
	s := b.apply(sig, name+".sigmoid", gate)
	silu := b.hadamard(name+".silu", gate, s)
	return b.hadamard(name, silu, up)
}

// forward adds the Llama forward pass for the embedded rows x [T, dim] and
// returns the logits node: [T, vocab] when outs is 0, else [outs, vocab]
// for the last row (of each sequence that wants logits, in a batch).
func (b *builder) forward(x *gorgonia.Node, outs int) *gorgonia.Node {
	c := b.e.cfg
	for l := range c.Layers {
		if b.train != nil && b.train.checkpoint[l] {
			x = b.checkpointed(x, l) // checkpoint.go
			continue
		}
		x = b.block(x, l)
	}
	if outs > 0 {
		x = b.apply(newLastRow("last", b.st, outs, b.reuse), "last", x)
	}
	h := b.rmsNorm(x, "norm.weight", "norm")
	return b.linear(h, "output.weight", "logits", nil)
}

// block adds transformer block l to the residual stream x.
func (b *builder) block(x *gorgonia.Node, l int) *gorgonia.Node {
	p := fmt.Sprintf("layers.%d.", l)
	h := b.rmsNorm(x, p+"attention_norm.weight", p+"attention_norm")
	qkv := b.grouped(h, []string{p + "attention.wq.weight", p + "attention.wk.weight", p + "attention.wv.weight"}, []string{p + "q", p + "k", p + "v"})
	q, k, v := qkv[0], qkv[1], qkv[2]
	var a *gorgonia.Node
	if b.train != nil && b.train.selective[l] {
		a = b.attentionCore(q, k, v, l) // selective.go
	} else {
		qr, kr := newRoPE(p+"q.rope", b.st, b.reuse), newRoPE(p+"k.rope", b.st, b.reuse)
		if b.train != nil {
			qr.exec, kr.exec = &b.e.exec, &b.e.exec // over the engine's threads
		}
		q = b.apply(qr, p+"q.rope", q)
		k = b.apply(kr, p+"k.rope", k)
		a = b.apply(newAttention(p+"attention", b.st, l, b.e.opts.LayerAttention[l], b.reuse), p+"attention", q, k, v)
	}
	x = b.linear(a, p+"attention.wo.weight", p+"attention.out", x)
	h = b.rmsNorm(x, p+"ffn_norm.weight", p+"ffn_norm")
	gu := b.grouped(h, []string{p + "feed_forward.w1.weight", p + "feed_forward.w3.weight"}, []string{p + "gate", p + "up"})
	gate, up := gu[0], gu[1]
	f := b.swiglu(gate, up, p+"swiglu")
	return b.linear(f, p+"feed_forward.w2.weight", p+"ffn.out", x)
}

// build makes the graph and TapeMachine for t input rows and the logits of
// outs of them.
func (e *Engine) build(t, outs int) (c *compiled, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("engine: internal error building the graph: %v", r)
		}
	}()
	reuse := e.opts.Compile >= CompileReduceOverhead
	// A kept one-row graph (a decode step) runs once a token: its ops
	// write into buffers of their own, allocated on its first run,
	// rather than leave a step's activations as garbage every token (the
	// collector's work on a small model); only reduce_overhead and up
	// also share them between ops (shareBuffers) and fuse element-wise
	// ops.
	own := reuse || (t == 1 && e.opts.Compile == CompileDefault)
	b := &builder{e: e, st: e.st, g: gorgonia.NewGraph(), fused: reuse, reuse: own, nodes: map[string]*gorgonia.Node{}, train: e.inferenceTrain()}
	xval := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(t, e.cfg.Dim))
	x := gorgonia.NewMatrix(b.g, tensor.Float32, gorgonia.WithShape(t, e.cfg.Dim), gorgonia.WithName("x"), gorgonia.WithValue(xval))
	logits := b.forward(x, outs)
	if b.err != nil {
		return nil, b.err
	}
	if reuse {
		e.shareBuffers(b.g)
	}
	return &compiled{g: b.g, vm: gorgonia.NewTapeMachine(b.g), x: x, xval: xval, logits: logits,
		drop: !own && e.opts.Compile != CompileNone}, nil
}

// TrainGraph is the forward pass over a whole sequence as a differentiable
// Gorgonia graph, for training: Logits [T, vocab] from Input [T, dim] (the
// embedded tokens, see Embed). Weights holds the input node of every
// weight tensor by canonical name, so callers can ask gorgonia.Grad for
// any of them and add adapters around them.
type TrainGraph struct {
	Graph   *gorgonia.ExprGraph
	Input   *gorgonia.Node
	Logits  *gorgonia.Node
	Weights map[string]*gorgonia.Node
}

// TrainGraph builds the training graph for sequences of t tokens:
// attention within the sequence, no KV cache, positions from 0. It has its
// own copy of the engine's position state, so it may be used alongside
// Forward. The compile mode decides fused versus unfused element-wise ops
// as for inference.
func (e *Engine) TrainGraph(t int) (tg *TrainGraph, err error) {
	if t <= 0 || t > e.opts.Context {
		return nil, fmt.Errorf("engine: sequence length %d is outside 1..%d", t, e.opts.Context)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("engine: internal error building the graph: %v", r)
		}
	}()
	st := *e.st
	st.start, st.cached, st.keys, st.vals = 0, false, nil, nil
	if err := st.ensure(t); err != nil {
		return nil, err
	}
	fused := e.opts.Compile >= CompileReduceOverhead
	b := &builder{e: e, st: &st, g: gorgonia.NewGraph(), fused: fused, reuse: false, nodes: map[string]*gorgonia.Node{}}
	x := gorgonia.NewMatrix(b.g, tensor.Float32, gorgonia.WithShape(t, e.cfg.Dim), gorgonia.WithName("x"),
		gorgonia.WithValue(tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(t, e.cfg.Dim))))
	logits := b.forward(x, 0)
	if b.err != nil {
		return nil, b.err
	}
	return &TrainGraph{Graph: b.g, Input: x, Logits: logits, Weights: b.nodes}, nil
}

// Embed writes the embedding rows of tokens into dst, which must hold
// len(tokens)·dim values.
func (e *Engine) Embed(dst []float32, tokens []int) error {
	d := e.cfg.Dim
	if len(dst) != len(tokens)*d {
		return fmt.Errorf("engine: Embed: %d values for %d tokens of %d", len(dst), len(tokens), d)
	}
	for i, tok := range tokens {
		if tok < 0 || tok >= e.cfg.Vocab {
			return fmt.Errorf("engine: token %d is outside the vocabulary of %d", tok, e.cfg.Vocab)
		}
		e.embedRow(dst[i*d:(i+1)*d], tok)
	}
	return nil
}
