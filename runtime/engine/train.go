package engine

import (
	"context"
	"fmt"
	"sort"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// TrainSpec says what a training graph trains.
type TrainSpec struct {
	// SeqLen is the number of positions of every sequence.
	SeqLen int
	// Adapters are LoRA adapters by the canonical name of the weight they
	// adapt (layers.N.attention.wq.weight ...).
	Adapters map[string]*Adapter
	// Trained names the model weights trained in place (full
	// fine-tuning), tok_embeddings.weight included.
	Trained map[string]bool
	// Checkpoint lists the blocks recomputed in the backward pass
	// instead of keeping their activations (checkpoint.go).
	Checkpoint []bool
	// RecomputeAttention lists the blocks whose attention core is
	// recomputed in the backward pass: selective checkpointing
	// (selective.go). A block is checkpointed or selective, not both.
	RecomputeAttention []bool
	// BF16 trains the linear weights that the engine stores in bf16 in
	// place, in bf16 with fp32 arithmetic (bf16train.go); without it they
	// are refused, as every other quantised weight is.
	BF16 bool
}

// trainBuild is what the graph builder needs from a TrainSpec, and what
// it records while building.
type trainBuild struct {
	adapters  map[string]*Adapter
	trained   map[string]bool
	masks     map[string]*gorgonia.Node    // dropout masks by weight
	loraNodes map[string][2]*gorgonia.Node // A and B nodes by weight
	// checkpoint marks the recomputed blocks; ckpt is their shared inner
	// graphs and maskTensors their dropout masks by weight.
	checkpoint map[int]bool
	ckpt       *ckptShared
	// selective marks the blocks whose attention core is recomputed;
	// core is their shared scratch.
	selective   map[int]bool
	core        *coreScratch
	maskTensors map[string]*tensor.Dense
	seqLen      int
	// step is set for a training step's graph, unset for an inference
	// graph that applies adapters on the fly.
	step bool
	// bf16 is the fp32 scratch the bf16-stored trained weights share.
	bf16 []float32
}

// Param is one trained tensor: its live values (updating them in place
// changes the model) and the gradient accumulated by TrainStep.Run.
type Param struct {
	Name  string
	Shape []int
	Value []float32
	Grad  []float32
	// BF16 holds the live values of a weight stored in bf16 (two bytes
	// each, little-endian), which Value then is nil for: the trainer
	// updates them in fp32 and rounds back to bf16.
	BF16 []byte
}

// Len returns the number of values of the param.
func (p *Param) Len() int { return len(p.Grad) }

// TrainStep is a compiled training graph: the forward pass over one
// sequence, the cross-entropy loss and the backward pass to every trained
// tensor. It is not safe for concurrent use.
type TrainStep struct {
	e      *Engine
	g      *gorgonia.ExprGraph
	vm     gorgonia.VM
	x      *gorgonia.Node
	logits *gorgonia.Node
	loss   *gorgonia.Node
	ce     *crossEntropyOp
	params []*Param
	grads  []*gorgonia.Node // per param; nil for the embeddings' lookup part
	dx     *gorgonia.Node   // d loss / d input rows, when embeddings train
	emb    *Param           // the embeddings' param, when they train
	masks  map[string]*tensor.Dense
	t      int
	ckpt   *ckptShared // the recomputation graphs, when blocks are checkpointed
}

// NewTrainStep builds the training graph for spec. Adapters of weights
// the model does not have, and trained names it does not have, are
// errors.
func (e *Engine) NewTrainStep(spec TrainSpec) (ts *TrainStep, err error) {
	t := spec.SeqLen
	if t <= 0 || t > e.opts.Context {
		return nil, fmt.Errorf("engine: sequence length %d is outside 1..%d", t, e.opts.Context)
	}
	if e.opts.KVCache {
		return nil, fmt.Errorf("engine: training needs an engine without a KV cache")
	}
	for name, ad := range spec.Adapters {
		rows, cols, ok := e.linearShape(name)
		if !ok {
			return nil, fmt.Errorf("engine: an adapter on %q, which is not a linear weight of the model", name)
		}
		if ad.A == nil || ad.B == nil || len(ad.A.Shape()) != 2 || len(ad.B.Shape()) != 2 ||
			ad.A.Shape()[1] != cols || ad.B.Shape()[0] != rows || ad.B.Shape()[1] != ad.A.Shape()[0] {
			return nil, fmt.Errorf("engine: the adapter on %s does not fit its weight [%d, %d]", name, rows, cols)
		}
	}
	for name := range spec.Trained {
		if _, ok := e.tensors[name]; !ok {
			if q, isQ := e.quant[name]; isQ && spec.BF16 && q.Method == kernels.BF16 {
				continue
			}
			if _, q := e.quant[name]; q {
				return nil, fmt.Errorf("engine: %s is quantised and cannot be trained in place; train adapters on it", name)
			}
			return nil, fmt.Errorf("engine: the model has no weight %q to train", name)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("engine: internal error building the training graph: %v", r)
		}
	}()
	if err := e.ownTrained(spec.Trained); err != nil {
		return nil, err
	}
	st := *e.st
	st.start, st.cached, st.keys, st.vals = 0, false, nil, nil
	if err := st.ensure(t); err != nil {
		return nil, err
	}
	trained := map[string]bool{}
	for n, ok := range spec.Trained {
		trained[n] = ok
	}
	if e.cfg.Tied && trained["tok_embeddings.weight"] {
		trained["output.weight"] = true // the same tensor, used as the classifier
	}
	tb := &trainBuild{adapters: spec.Adapters, trained: trained, masks: map[string]*gorgonia.Node{}, loraNodes: map[string][2]*gorgonia.Node{},
		checkpoint: map[int]bool{}, selective: map[int]bool{}, maskTensors: map[string]*tensor.Dense{}, seqLen: t, step: true}
	if len(spec.RecomputeAttention) > 0 {
		if len(spec.RecomputeAttention) != e.cfg.Layers {
			return nil, fmt.Errorf("engine: %d selective-recomputation flags for %d layers", len(spec.RecomputeAttention), e.cfg.Layers)
		}
		for l, s := range spec.RecomputeAttention {
			if s && l < len(spec.Checkpoint) && spec.Checkpoint[l] {
				return nil, fmt.Errorf("engine: block %d is both checkpointed and selectively recomputed", l)
			}
			tb.selective[l] = s
		}
	}
	if len(spec.Checkpoint) > 0 {
		if len(spec.Checkpoint) != e.cfg.Layers {
			return nil, fmt.Errorf("engine: %d checkpoint flags for %d layers", len(spec.Checkpoint), e.cfg.Layers)
		}
		if err := e.checkUniformBlocks(spec); err != nil {
			return nil, err
		}
		for l, c := range spec.Checkpoint {
			tb.checkpoint[l] = c
		}
	}
	fused := e.opts.Compile >= CompileReduceOverhead
	b := &builder{e: e, st: &st, g: gorgonia.NewGraph(), fused: fused, nodes: map[string]*gorgonia.Node{}, train: tb}
	x := gorgonia.NewMatrix(b.g, tensor.Float32, gorgonia.WithShape(t, e.cfg.Dim), gorgonia.WithName("x"),
		gorgonia.WithValue(tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(t, e.cfg.Dim))))
	logits := b.forward(x, 0)
	if b.err != nil {
		return nil, b.err
	}
	ce := &crossEntropyOp{name: "loss", threads: e.exec.Threads}
	loss, err := gorgonia.ApplyOpWithName(ce, "loss", logits)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	ts = &TrainStep{e: e, g: b.g, x: x, logits: logits, loss: loss, ce: ce, masks: map[string]*tensor.Dense{}, t: t}
	var wrt gorgonia.Nodes
	// Trained weights in name order, then adapters in name order.
	names := make([]string, 0, len(spec.Trained))
	for n := range spec.Trained {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var p *Param
		if v, ok := e.tensors[n]; ok {
			p = &Param{Name: n, Shape: append([]int(nil), v.Shape()...), Value: v.Float32s(), Grad: make([]float32, v.Len())}
		} else {
			q := e.quant[n] // a bf16 weight, as checked above
			p = &Param{Name: n, Shape: []int{q.Rows, q.Cols}, BF16: q.Data, Grad: make([]float32, q.Len())}
		}
		node := b.nodes[n]
		if n == "tok_embeddings.weight" {
			ts.emb = p
			node = nil
			if e.cfg.Tied {
				node = b.nodes["output.weight"]
			}
		}
		if node == nil && n != "tok_embeddings.weight" {
			return nil, fmt.Errorf("engine: the graph does not use %s", n)
		}
		ts.params = append(ts.params, p)
		ts.grads = append(ts.grads, node)
		if node != nil {
			wrt = append(wrt, node)
		}
	}
	if ts.emb != nil {
		wrt = append(wrt, x)
	}
	anames := make([]string, 0, len(spec.Adapters))
	for n := range spec.Adapters {
		anames = append(anames, n)
	}
	sort.Strings(anames)
	for _, n := range anames {
		ad := spec.Adapters[n]
		nodes := tb.loraNodes[n]
		for i, v := range []*tensor.Dense{ad.A, ad.B} {
			p := &Param{Name: n + [2]string{".lora_A", ".lora_B"}[i], Shape: append([]int(nil), v.Shape()...), Value: v.Float32s(), Grad: make([]float32, v.Len())}
			ts.params = append(ts.params, p)
			ts.grads = append(ts.grads, nodes[i])
			wrt = append(wrt, nodes[i])
		}
		if m, ok := tb.masks[n]; ok {
			ts.masks[n] = m.Value().(*tensor.Dense)
		}
		if m, ok := tb.maskTensors[n]; ok {
			ts.masks[n] = m
		}
	}
	if len(wrt) == 0 {
		return nil, fmt.Errorf("engine: nothing to train: no adapters and no trained weights")
	}
	gs, err := gorgonia.Grad(loss, wrt...)
	if err != nil {
		return nil, fmt.Errorf("engine: differentiating the training graph: %w", err)
	}
	k := 0
	for i, node := range ts.grads {
		if node != nil {
			ts.grads[i] = gs[k]
			k++
		}
	}
	if ts.emb != nil {
		ts.dx = gs[k]
	}
	reuseOutputs(b.g)
	ts.vm = gorgonia.NewTapeMachine(b.g)
	ts.ckpt = tb.ckpt
	return ts, nil
}

// linearShape returns the shape of a linear weight, quantised or not.
func (e *Engine) linearShape(name string) (rows, cols int, ok bool) {
	if q, isQ := e.quant[name]; isQ {
		return q.Rows, q.Cols, true
	}
	t, isT := e.tensors[name]
	if !isT || t.Dims() != 2 || name == "tok_embeddings.weight" {
		return 0, 0, false
	}
	s := t.Shape()
	return s[0], s[1], true
}

// Params returns the trained tensors: trained weights by name, then each
// adapter's A and B by the adapted weight's name.
func (s *TrainStep) Params() []*Param { return s.params }

// SeqLen returns the positions of every sequence.
func (s *TrainStep) SeqLen() int { return s.t }

// Mask returns the dropout mask of the adapter on weight, [SeqLen, in],
// for the caller to fill before Run; nil when the adapter has no dropout.
func (s *TrainStep) Mask(weight string) []float32 {
	if m, ok := s.masks[weight]; ok {
		return m.Float32s()
	}
	return nil
}

// ZeroGrad clears every accumulated gradient.
func (s *TrainStep) ZeroGrad() {
	for _, p := range s.params {
		g := p.Grad
		s.e.exec.TrainSplit(len(g), 1024, 4, func(lo, hi int) { clear(g[lo:hi]) })
	}
}

// Run runs the forward and backward pass over one sequence and adds the
// gradients to each Param's Grad. The loss is Σ_t weights[t]·CE_t, so
// weights of 1/N over a step's N loss tokens make the accumulated
// gradient that of the step's mean loss. It returns the loss.
func (s *TrainStep) Run(ctx context.Context, inputs, targets []int32, weights []float32) (float32, error) {
	return s.run(ctx, inputs, targets, weights, true, nil)
}

// Evaluate returns the loss of one sequence without touching the
// gradients, and copies its logits ([SeqLen·vocab]) into logits when that
// is not nil.
func (s *TrainStep) Evaluate(ctx context.Context, inputs, targets []int32, weights []float32, logits []float32) (float32, error) {
	return s.run(ctx, inputs, targets, weights, false, logits)
}

func (s *TrainStep) run(ctx context.Context, inputs, targets []int32, weights []float32, accumulate bool, logits []float32) (loss float32, err error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(inputs) != s.t || len(targets) != s.t || len(weights) != s.t {
		return 0, fmt.Errorf("engine: a training sequence needs %d inputs, targets and weights", s.t)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("engine: internal error in the training graph: %v", r)
		}
	}()
	if err := s.embed(inputs); err != nil {
		return 0, err
	}
	s.ce.targets, s.ce.weights = targets, weights
	defer s.vm.Reset()
	if err := s.vm.RunAll(); err != nil {
		return 0, fmt.Errorf("engine: %w", err)
	}
	loss, err = scalar32(s.loss.Value())
	if err != nil {
		return 0, err
	}
	if logits != nil {
		l, _, err := floats(s.logits.Value())
		if err != nil {
			return 0, err
		}
		if len(logits) != len(l) {
			return 0, fmt.Errorf("engine: %d logits, want room for %d", len(logits), len(l))
		}
		copy(logits, l)
	}
	if !accumulate {
		return loss, nil
	}
	for i, p := range s.params {
		if s.grads[i] == nil {
			continue
		}
		g, _, err := floats(s.grads[i].Value())
		if err != nil {
			return 0, err
		}
		if len(g) != len(p.Grad) {
			return 0, fmt.Errorf("engine: gradient of %s has %d values, want %d", p.Name, len(g), len(p.Grad))
		}
		s.e.exec.TrainAxpy(p.Grad, g) // p.Grad += g, each sum rounded once
	}
	if s.emb != nil {
		dx, _, err := floats(s.dx.Value())
		if err != nil {
			return 0, err
		}
		d := s.e.cfg.Dim
		for i, tok := range inputs {
			row := s.emb.Grad[int(tok)*d : (int(tok)+1)*d]
			for j, v := range dx[i*d : (i+1)*d] {
				row[j] += v
			}
		}
	}
	return loss, nil
}

// embed writes the embedding rows of inputs into the graph's input.
func (s *TrainStep) embed(inputs []int32) error {
	x := s.x.Value().(*tensor.Dense).Float32s()
	d := s.e.cfg.Dim
	for i, tok := range inputs {
		if tok < 0 || int(tok) >= s.e.cfg.Vocab {
			return fmt.Errorf("engine: token %d is outside the vocabulary of %d", tok, s.e.cfg.Vocab)
		}
		copy(x[i*d:(i+1)*d], s.e.emb[int(tok)*d:(int(tok)+1)*d])
	}
	return nil
}

// ownTrained gives the engine its own copies of the weights it will train:
// loaded fp32 tensors may alias the model file's (private) mapping or the
// weight set other stages use, which training in place must not change.
func (e *Engine) ownTrained(trained map[string]bool) error {
	if trained["tok_embeddings.weight"] && e.embQ != nil {
		return fmt.Errorf("engine: the token embeddings are stored quantised and cannot be trained")
	}
	for n := range trained {
		if !trained[n] {
			continue
		}
		if q, ok := e.quant[n]; ok {
			// A bf16 weight (NewTrainStep refuses the others). One the
			// engine rounded from its source is its own and trains in
			// place (InitialBF16 rounds the source again); one that
			// aliases its file gets a copy, and the file's bytes are the
			// initial values.
			if _, own := e.bf16Src[n]; own {
				continue
			}
			if _, kept := e.initialBF16[n]; !kept {
				if e.initialBF16 == nil {
					e.initialBF16 = map[string][]byte{}
				}
				e.initialBF16[n] = q.Data
			}
			c := *q
			c.Data = append([]byte(nil), q.Data...)
			e.quant[n] = &c
			continue
		}
		if _, kept := e.initial[n]; !kept && !e.decoded[n] {
			if e.initial == nil {
				e.initial = map[string][]float32{}
			}
			e.initial[n] = e.tensors[n].Float32s()
		}
		c, ok := e.tensors[n].Clone().(*tensor.Dense)
		if !ok {
			return fmt.Errorf("engine: copying %s", n)
		}
		e.tensors[n] = c
	}
	if trained["tok_embeddings.weight"] {
		e.emb = e.tensors["tok_embeddings.weight"].Float32s()
		if e.cfg.Tied {
			e.tensors["output.weight"] = e.tensors["tok_embeddings.weight"]
		}
	}
	for k, c := range e.graphs {
		c.vm.Close()
		delete(e.graphs, k)
	}
	return nil
}

// InitialValues returns the values that a weight trained in place had
// before training took its own copy of it: the model's fp32 weights, which
// the engine aliases (the model file's mapping or the caller's weight
// set), so that keeping them costs no memory. It returns nil for a weight
// that is not trained in place, and for one that was decoded from another
// format at load, whose decoded copy was the engine's only one.
func (e *Engine) InitialValues(name string) []float32 { return e.initial[name] }

// InitialBF16 returns the bf16 bytes of a weight trained in bf16 as they
// were loaded, before training changed them: the file's bytes, or the
// source rounded again as loading rounded it (the source must still be
// open, as for the fp32 tensors that alias it). It returns nil for
// another weight.
func (e *Engine) InitialBF16(name string) ([]byte, error) {
	if b, ok := e.initialBF16[name]; ok {
		return b, nil
	}
	t, ok := e.bf16Src[name]
	if !ok {
		return nil, nil
	}
	v, _, err := fp32(t)
	if err != nil {
		return nil, fmt.Errorf("engine: %s: %w", name, err)
	}
	q, err := e.exec.QuantizeConfig(v, t.Shape[0], t.Shape[1], kernels.QuantConfig{Method: kernels.BF16})
	if err != nil {
		return nil, fmt.Errorf("engine: %s: %w", name, err)
	}
	return q.Data, nil
}

// checkUniformBlocks refuses checkpointing when blocks differ in what
// they train, their attention kernel or how their weights are stored:
// the recomputation graph is shared by every block.
func (e *Engine) checkUniformBlocks(spec TrainSpec) error {
	for l := 1; l < e.cfg.Layers; l++ {
		if e.opts.LayerAttention[l] != e.opts.LayerAttention[0] {
			return fmt.Errorf("engine: checkpointing needs one attention kernel in every block; block %d has %s, block 0 %s", l, e.opts.LayerAttention[l], e.opts.LayerAttention[0])
		}
		for _, s := range blockWeights {
			a, b := fmt.Sprintf("layers.0.%s", s), fmt.Sprintf("layers.%d.%s", l, s)
			ma, qa := e.quant[a]
			mb, qb := e.quant[b]
			_, aa := spec.Adapters[a]
			_, ab := spec.Adapters[b]
			if qa != qb || qa && ma.Method != mb.Method || aa != ab || spec.Trained[a] != spec.Trained[b] {
				return fmt.Errorf("engine: checkpointing needs every block alike; block %d's %s differs from block 0's", l, s)
			}
		}
	}
	return nil
}
