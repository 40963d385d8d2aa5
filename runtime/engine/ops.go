package engine

import (
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// This file holds the engine's Gorgonia operations. Each op instance is
// created for one node of one graph and carries a name unique in that
// graph, so Gorgonia never merges two of them. An op whose reuse flag is
// set (CompileReduceOverhead and up) writes every call into one output
// buffer it allocated itself; it never writes into a buffer Gorgonia
// offers, because the TapeMachine's registers may hold a weight or an
// input of the same shape.

// opBase implements the bookkeeping methods of gorgonia.Op.
type opBase struct {
	name  string // unique in the graph
	dims  []int  // number of dimensions of each input, then of the output
	reuse bool
	out   *tensor.Dense // the reused output buffer, when reuse is set
	// shared, when set, is the arena's buffer for this op's name, which
	// out uses (see arena); arena is where it grows.
	shared *[]float32
	arena  *arena
}

func (o *opBase) useArena(a *arena) {
	if o.reuse {
		o.shared, o.arena = a.slot(o.name), a
	}
}

func (o *opBase) arenaSlot() *[]float32 { return o.shared }

func (o *opBase) Arity() int { return len(o.dims) - 1 }

func (o *opBase) Type() hm.Type {
	ts := make([]hm.Type, len(o.dims))
	for i, d := range o.dims {
		ts[i] = gorgonia.TensorType{Dims: d, Of: tensor.Float32}
	}
	return hm.NewFnType(ts...)
}

func (o *opBase) ReturnsPtr() bool      { return false }
func (o *opBase) CallsExtern() bool     { return false }
func (o *opBase) OverwritesInput() int  { return -1 }
func (o *opBase) WriteHash(h hash.Hash) { _, _ = io.WriteString(h, o.name) }
func (o *opBase) String() string        { return o.name }

func (o *opBase) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

// reuseOutput makes the op write every result into one buffer.
func (o *opBase) reuseOutput() { o.reuse = true }

// reuseOutputs makes every op of g that can write into one buffer do so. A
// training graph's values live from one run to the next and are read only
// within a run or right after it (the weight gradients), so a run may
// overwrite the last one's: the graph then allocates its values once
// instead of leaving a graph's worth of garbage per sequence, which the
// collector would let grow to the size of the live heap.
func reuseOutputs(g *gorgonia.ExprGraph) {
	for _, n := range g.AllNodes() {
		if op, ok := n.Op().(interface{ reuseOutput() }); ok {
			op.reuseOutput()
		}
	}
}

// output returns the buffer to write a result of the given shape into.
func (o *opBase) output(shape ...int) *tensor.Dense {
	if o.reuse && o.shared != nil {
		o.out = o.arena.output(o.shared, o.out, shape...)
		return o.out
	}
	if o.reuse && o.out != nil && o.out.Shape().Eq(tensor.Shape(shape)) {
		return o.out
	}
	t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...))
	if o.reuse {
		o.out = t
	}
	return t
}

// floats returns the float32 data and shape of a value.
func floats(v gorgonia.Value) ([]float32, tensor.Shape, error) {
	d, ok := v.(*tensor.Dense)
	if !ok || d.Dtype() != tensor.Float32 {
		return nil, nil, fmt.Errorf("engine: expected a float32 tensor, got %T", v)
	}
	return d.Float32s(), d.Shape(), nil
}

// rowsCols returns the shape of a matrix, treating a vector as one row.
func rowsCols(s tensor.Shape) (int, int) {
	switch len(s) {
	case 1:
		return 1, s[0]
	case 2:
		return s[0], s[1]
	}
	return 0, 0
}

func shapeOf(ns []gorgonia.DimSizer, i int) (tensor.Shape, error) {
	if i >= len(ns) {
		return nil, fmt.Errorf("engine: missing input %d", i)
	}
	s, ok := ns[i].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("engine: input %d has no shape (%T)", i, ns[i])
	}
	return s, nil
}

// linearOp computes Y = X·Wᵀ (+ R when it has a residual input) for X
// [T, in], W [out, in], R and Y [T, out]: a linear layer without bias, with
// the residual add fused in.
type linearOp struct {
	opBase
	exec     kernels.Exec
	residual bool
	// frozen says that W is not trained: the backward pass computes no dW.
	frozen bool
	// train says that the op is part of a training step: its product runs
	// on the training kernel (kernels.Exec.TrainMatMul), which inference
	// does not use because its sums are not in llama2.c's order.
	train bool
}

func newLinear(name string, exec kernels.Exec, residual, reuse bool) *linearOp {
	return newFrozenLinear(name, exec, residual, reuse, false)
}

func newFrozenLinear(name string, exec kernels.Exec, residual, reuse, frozen bool) *linearOp {
	dims := []int{2, 2, 2}
	if residual {
		dims = []int{2, 2, 2, 2}
	}
	return &linearOp{opBase: opBase{name: name, dims: dims, reuse: reuse}, exec: exec, residual: residual, frozen: frozen}
}

func (o *linearOp) InferShape(ns ...gorgonia.DimSizer) (tensor.Shape, error) {
	x, err := shapeOf(ns, 0)
	if err != nil {
		return nil, err
	}
	w, err := shapeOf(ns, 1)
	if err != nil {
		return nil, err
	}
	t, in := rowsCols(x)
	out, win := rowsCols(w)
	if in != win {
		return nil, fmt.Errorf("engine: %s: input width %d does not match weight %v", o.name, in, w)
	}
	return tensor.Shape{t, out}, nil
}

func (o *linearOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, xs, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	w, ws, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	t, in := rowsCols(xs)
	rows, _ := rowsCols(ws)
	out := o.output(t, rows)
	y := out.Float32s()
	switch {
	case t == 1:
		err = o.exec.MatVec(y, w, x, rows, in)
	case o.train:
		err = o.exec.TrainMatMul(y, x, w, t, rows, in)
	default:
		err = o.exec.MatMul(y, x, w, t, rows, in)
	}
	if err != nil {
		return nil, fmt.Errorf("engine: %s: %w", o.name, err)
	}
	if o.residual {
		r, _, err := floats(vs[2])
		if err != nil {
			return nil, err
		}
		if len(r) != len(y) {
			return nil, fmt.Errorf("engine: %s: residual has %d values, want %d", o.name, len(r), len(y))
		}
		for i := range y {
			y[i] += r[i]
		}
	}
	return out, nil
}

// rmsNormOp computes RMSNorm over each row of X [T, d]: x / sqrt(mean(x²) +
// eps), times the weight w [d] when it has one (the fused form). The
// arithmetic follows llama2.c's rmsnorm in float32.
type rmsNormOp struct {
	opBase
	eps float32
	// exec, set in a training graph, runs the rows (and the gradient's)
	// over the engine's threads.
	exec *kernels.Exec
}

func newRMSNorm(name string, eps float32, weighted, reuse bool) *rmsNormOp {
	dims := []int{2, 2}
	if weighted {
		dims = []int{2, 1, 2}
	}
	return &rmsNormOp{opBase: opBase{name: name, dims: dims, reuse: reuse}, eps: eps}
}

func (o *rmsNormOp) InferShape(ns ...gorgonia.DimSizer) (tensor.Shape, error) {
	x, err := shapeOf(ns, 0)
	if err != nil {
		return nil, err
	}
	return x.Clone(), nil
}

func (o *rmsNormOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, xs, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	t, d := rowsCols(xs)
	var w []float32
	if len(vs) > 1 {
		if w, _, err = floats(vs[1]); err != nil {
			return nil, err
		}
		if len(w) != d {
			return nil, fmt.Errorf("engine: %s: weight has %d values, want %d", o.name, len(w), d)
		}
	}
	out := o.output(t, d)
	y := out.Float32s()
	// A training graph's rows run over threads, in ranges that start at
	// multiples of four (splitRows), so the fours below are the same.
	splitRows(o.exec, t, d, func(lo, hi int) {
		var invs [4]float32
		for r := lo; r < hi; r++ {
			row, dst := x[r*d:(r+1)*d], y[r*d:(r+1)*d]
			// A prefill's rows take their scales four at a time
			// (rmsScale4: four sums in flight, each in llama2.c's order).
			if r%4 == 0 && r+4 <= t {
				invs = rmsScale4(x[r*d:(r+4)*d], d, o.eps)
			}
			inv := invs[r%4]
			if r >= t/4*4 {
				inv = rmsScale(row, o.eps)
			}
			if w == nil {
				for i, v := range row {
					dst[i] = v * inv
				}
			} else {
				for i, v := range row {
					dst[i] = w[i] * (inv * v)
				}
			}
		}
	})
	return out, nil
}

// rmsScale returns 1/sqrt(mean(x²)+eps) as llama2.c computes it.
func rmsScale(x []float32, eps float32) float32 {
	var ss float32
	for _, v := range x {
		ss += v * v
	}
	ss /= float32(len(x))
	ss += eps
	return 1 / float32(math.Sqrt(float64(ss)))
}

// rmsScale4 returns rmsScale of the four rows of d values in x, bit for
// bit: the four sums of squares are each added in order, but side by
// side, so that a prefill waits on each addition's latency once per four
// rows rather than once per row (the in-order sum was most of the norms'
// time, 4% of a 42M prefill).
func rmsScale4(x []float32, d int, eps float32) [4]float32 {
	x0, x1, x2, x3 := x[:d], x[d:2*d], x[2*d:3*d], x[3*d:4*d]
	var s0, s1, s2, s3 float32
	for i, v := range x0 {
		s0 += v * v
		s1 += x1[i] * x1[i]
		s2 += x2[i] * x2[i]
		s3 += x3[i] * x3[i]
	}
	var inv [4]float32
	for r, ss := range [4]float32{s0, s1, s2, s3} {
		ss /= float32(d)
		ss += eps
		inv[r] = 1 / float32(math.Sqrt(float64(ss)))
	}
	return inv
}

// scaleOp multiplies each row of X [T, d] element-wise by w [d]: the
// unfused second half of RMSNorm. exec, set in a training graph, runs it
// and its gradient over the engine's threads.
type scaleOp struct {
	opBase
	exec *kernels.Exec
}

func newScale(name string, reuse bool) *scaleOp {
	return &scaleOp{opBase: opBase{name: name, dims: []int{2, 1, 2}, reuse: reuse}}
}

func (o *scaleOp) InferShape(ns ...gorgonia.DimSizer) (tensor.Shape, error) {
	x, err := shapeOf(ns, 0)
	if err != nil {
		return nil, err
	}
	return x.Clone(), nil
}

func (o *scaleOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, xs, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	w, _, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	t, d := rowsCols(xs)
	if len(w) != d {
		return nil, fmt.Errorf("engine: %s: weight has %d values, want %d", o.name, len(w), d)
	}
	out := o.output(t, d)
	y := out.Float32s()
	splitRows(o.exec, t, d, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			for i := range d {
				y[r*d+i] = w[i] * x[r*d+i]
			}
		}
	})
	return out, nil
}

// ropeOp rotates each head of each row of X [T, n·headSize] by the rotary
// angle of the row's position (start+row) in Meta's interleaved layout:
// pairs (x[2i], x[2i+1]) turn by pos·θ^(-2i/headSize). inverse turns the
// other way, which is the op's gradient.
type ropeOp struct {
	opBase
	st      *state
	inverse bool
	// exec, set in a training graph, runs the rows over the engine's
	// threads.
	exec *kernels.Exec
}

func newRoPE(name string, st *state, reuse bool) *ropeOp {
	return &ropeOp{opBase: opBase{name: name, dims: []int{2, 2}, reuse: reuse}, st: st}
}

func (o *ropeOp) InferShape(ns ...gorgonia.DimSizer) (tensor.Shape, error) {
	x, err := shapeOf(ns, 0)
	if err != nil {
		return nil, err
	}
	return x.Clone(), nil
}

func (o *ropeOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, xs, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	t, d := rowsCols(xs)
	hs := o.st.headSize
	if d%hs != 0 {
		return nil, fmt.Errorf("engine: %s: width %d is not a multiple of the head size %d", o.name, d, hs)
	}
	if o.st.batch != nil && len(o.st.rowPos) != t {
		return nil, fmt.Errorf("engine: %s: %d rows, but the batch has %d", o.name, t, len(o.st.rowPos))
	}
	if o.st.batch == nil && o.st.start+t > o.st.positions() {
		return nil, fmt.Errorf("engine: %s: position %d is beyond the rotary table of %d", o.name, o.st.start+t-1, o.st.positions())
	}
	out := o.output(t, d)
	if o.exec != nil {
		// Every row's position is checked first, so that the rows can
		// then be rotated over threads without an error to collect.
		for r := range t {
			if pos := o.st.position(r); pos >= o.st.positions() {
				return nil, fmt.Errorf("engine: %s: position %d is beyond the rotary table of %d", o.name, pos, o.st.positions())
			}
		}
		y := out.Float32s()
		splitRows(o.exec, t, d, func(lo, hi int) {
			_ = rotateRows(o.st, y, x, lo, hi, d, o.inverse)
		})
		return out, nil
	}
	if err := rotate(o.st, out.Float32s(), x, t, d, o.inverse); err != nil {
		return nil, fmt.Errorf("engine: %s: %w", o.name, err)
	}
	return out, nil
}

// rotate writes the rotary embedding of the rows of x [t, d] into y (which
// may be x itself), turning the other way when inverse is set.
func rotate(st *state, y, x []float32, t, d int, inverse bool) error {
	return rotateRows(st, y, x, 0, t, d, inverse)
}

// rotateRows is rotate for the rows [lo, hi) of x.
func rotateRows(st *state, y, x []float32, lo, hi, d int, inverse bool) error {
	hs := st.headSize
	half := hs / 2
	for r := lo; r < hi; r++ {
		pos := st.position(r)
		if pos >= st.positions() {
			return fmt.Errorf("position %d is beyond the rotary table of %d", pos, st.positions())
		}
		cos, sin := st.cos[pos*half:(pos+1)*half], st.sin[pos*half:(pos+1)*half]
		// Head by head, so that pair j's angle needs no division (the
		// modulo per pair was most of the op's time); the same products,
		// eight pairs a step on AVX-512 (2.8% of a 15M prefill when
		// scalar).
		kernels.RotateHeads(y[r*d:(r+1)*d], x[r*d:(r+1)*d], cos, sin, inverse)
	}
	return nil
}

// attentionOp is causal grouped-query attention for queries Q [T,
// heads·hs] at positions start..start+T-1. With the KV cache it first
// stores K and V [T, kvHeads·hs] at those positions in the layer's cache
// and attends over the cache; without, start is 0 and it attends over K
// and V themselves.
type attentionOp struct {
	opBase
	st    *state
	layer int
	kind  Attention
	// core, when set, makes the op the whole attention core of selective
	// checkpointing: its inputs are q and k before the rotary embedding,
	// which it applies into core's scratch buffers, so neither the
	// rotated q and k nor their gradients are kept in the graph; the
	// backward pass recomputes them (selective.go).
	core *coreScratch
	// lse is the per-row log-sum-exp [heads, T] of the last forward pass
	// without a cache, which flash2's tiled backward pass recomputes the
	// probabilities from (flash2.go).
	lse []float32
}

func newAttention(name string, st *state, layer int, kind Attention, reuse bool) *attentionOp {
	return &attentionOp{opBase: opBase{name: name, dims: []int{2, 2, 2, 2}, reuse: reuse}, st: st, layer: layer, kind: kind}
}

func (o *attentionOp) InferShape(ns ...gorgonia.DimSizer) (tensor.Shape, error) {
	q, err := shapeOf(ns, 0)
	if err != nil {
		return nil, err
	}
	return q.Clone(), nil
}

func (o *attentionOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	q, qs, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	k, _, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	v, _, err := floats(vs[2])
	if err != nil {
		return nil, err
	}
	st := o.st
	t, qd := rowsCols(qs)
	hs, kvd := st.headSize, st.kvHeads*st.headSize
	if qd != st.heads*hs || len(k) != t*kvd || len(v) != t*kvd {
		return nil, fmt.Errorf("engine: %s: shapes q %v, k %d, v %d do not fit %d heads, %d kv heads of %d", o.name, qs, len(k), len(v), st.heads, st.kvHeads, hs)
	}
	if st.batch != nil {
		if o.core != nil {
			return nil, fmt.Errorf("engine: %s: the recomputed attention core runs in training only", o.name)
		}
		return o.doBatch(q, k, v, t)
	}
	if o.core != nil {
		if st.cached {
			return nil, fmt.Errorf("engine: %s: the recomputed attention core needs an engine without a KV cache", o.name)
		}
		if q, k, err = o.core.rotated(st, q, k, t); err != nil {
			return nil, fmt.Errorf("engine: %s: %w", o.name, err)
		}
	}
	keys, vals := k, v
	if st.cached {
		if st.start+t > st.positions() || len(st.keys[o.layer]) < st.positions()*kvd {
			return nil, fmt.Errorf("engine: %s: position %d is beyond the cache of %d", o.name, st.start+t-1, st.positions())
		}
		keys, vals = st.keys[o.layer], st.vals[o.layer]
		copy(keys[st.start*kvd:], k)
		copy(vals[st.start*kvd:], v)
	} else if st.start != 0 {
		return nil, fmt.Errorf("engine: %s: without a KV cache the prefix starts at 0, not %d", o.name, st.start)
	}
	out := o.output(t, qd)
	kind := o.kind // the planner's enum is the kernels' (kernels.AttnKernel)
	shape := kernels.AttnShape{N: t, Pos: st.start, Heads: st.heads, KVHeads: st.kvHeads, HeadDim: hs}
	switch {
	case t == 1:
		// A decode step's probabilities, Heads·(Pos+1) floats, kept for
		// the next step.
		shape.Scores = &st.scores
	case st.cached:
		// A prefill's, Heads·t·(start+t) of them, are shared by the
		// pass's layers and dropped when it ends (Engine.Forward):
		// allocated per layer, they were 2.3 MB of a 15M prefill of 127
		// tokens, paid for in page faults and collections.
		shape.Scores = &st.passScores
	}
	var lse []float32
	if kind == AttentionFlash2 && !st.cached {
		// A whole sequence, as in training: keep what the backward pass
		// needs.
		if cap(o.lse) < st.heads*t {
			o.lse = make([]float32, st.heads*t)
		}
		o.lse = o.lse[:st.heads*t]
		lse = o.lse
	}
	if err := st.exec.AttentionForward(kind, out.Float32s(), lse, q, keys, vals, shape); err != nil {
		return nil, fmt.Errorf("engine: %s: %w", o.name, err)
	}
	return out, nil
}

// doBatch is Do for a ForwardBatch call: each sequence's rows store their
// keys and values in its own cache, then attend over it.
func (o *attentionOp) doBatch(q, k, v []float32, t int) (gorgonia.Value, error) {
	st := o.st
	hs := st.headSize
	qd, kvd := st.heads*hs, st.kvHeads*hs
	out := o.output(t, qd)
	y := out.Float32s()
	r := 0
	for _, s := range st.batch {
		if r+s.rows > t {
			return nil, fmt.Errorf("engine: %s: the batch has more rows than the %d given", o.name, t)
		}
		keys, vals := s.keys[o.layer], s.vals[o.layer]
		if (s.pos+s.rows)*kvd > len(keys) || len(vals) != len(keys) {
			return nil, fmt.Errorf("engine: %s: position %d is beyond the sequence's cache of %d", o.name, s.pos+s.rows-1, len(keys)/kvd)
		}
		copy(keys[s.pos*kvd:(s.pos+s.rows)*kvd], k[r*kvd:(r+s.rows)*kvd])
		copy(vals[s.pos*kvd:(s.pos+s.rows)*kvd], v[r*kvd:(r+s.rows)*kvd])
		shape := kernels.AttnShape{N: s.rows, Pos: s.pos, Heads: st.heads, KVHeads: st.kvHeads, HeadDim: hs}
		if err := st.exec.AttentionForward(o.kind, y[r*qd:(r+s.rows)*qd], nil, q[r*qd:(r+s.rows)*qd], keys, vals, shape); err != nil {
			return nil, fmt.Errorf("engine: %s: %w", o.name, err)
		}
		r += s.rows
	}
	if r != t {
		return nil, fmt.Errorf("engine: %s: the batch has %d rows, not the %d given", o.name, r, t)
	}
	return out, nil
}

func exp32(x float32) float32 { return float32(math.Exp(float64(x))) }

// softmax normalises x in place as llama2.c does.
func softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	mx := x[0]
	for _, v := range x[1:] {
		mx = max(mx, v)
	}
	var sum float32
	for i, v := range x {
		x[i] = exp32(v - mx)
		sum += x[i]
	}
	for i := range x {
		x[i] /= sum
	}
}

// swigluOp computes silu(G)·U element-wise: the gated feed-forward's
// activation, fused.
type swigluOp struct{ opBase }

func newSwiGLU(name string, reuse bool) *swigluOp {
	return &swigluOp{opBase{name: name, dims: []int{2, 2, 2}, reuse: reuse}}
}

func (o *swigluOp) InferShape(ns ...gorgonia.DimSizer) (tensor.Shape, error) {
	x, err := shapeOf(ns, 0)
	if err != nil {
		return nil, err
	}
	return x.Clone(), nil
}

func (o *swigluOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	g, gs, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	u, _, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	if len(u) != len(g) {
		return nil, fmt.Errorf("engine: %s: gate has %d values, up %d", o.name, len(g), len(u))
	}
	t, d := rowsCols(gs)
	out := o.output(t, d)
	kernels.SwiGLU(out.Float32s(), g, u)
	return out, nil
}

// sigmoidOp is Gorgonia's element-wise Sigmoid, bit for bit
// (kernels.Sigmoid), vectorised: the unfused SwiGLU's gate activation.
// In a training graph exec is set and the op and its gradient run over
// the engine's threads.
type sigmoidOp struct {
	opBase
	exec *kernels.Exec
}

func newSigmoid(name string, reuse bool) *sigmoidOp {
	return &sigmoidOp{opBase: opBase{name: name, dims: []int{2, 2}, reuse: reuse}}
}

func (o *sigmoidOp) InferShape(ns ...gorgonia.DimSizer) (tensor.Shape, error) {
	x, err := shapeOf(ns, 0)
	if err != nil {
		return nil, err
	}
	return x.Clone(), nil
}

func (o *sigmoidOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, xs, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	out := o.output(xs...)
	if o.exec != nil {
		o.exec.TrainSigmoid(out.Float32s(), x)
	} else {
		kernels.Sigmoid(out.Float32s(), x)
	}
	return out, nil
}

// lastRowOp keeps the last row of X [T, d] as a [1, d] matrix: only the
// last position's logits are needed to generate. In a ForwardBatch call it
// keeps the last row of each sequence whose logits are wanted, [outs, d].
type lastRowOp struct {
	opBase
	st   *state
	outs int
}

func newLastRow(name string, st *state, outs int, reuse bool) *lastRowOp {
	return &lastRowOp{opBase: opBase{name: name, dims: []int{2, 2}, reuse: reuse}, st: st, outs: max(outs, 1)}
}

func (o *lastRowOp) InferShape(ns ...gorgonia.DimSizer) (tensor.Shape, error) {
	x, err := shapeOf(ns, 0)
	if err != nil {
		return nil, err
	}
	_, d := rowsCols(x)
	return tensor.Shape{o.outs, d}, nil
}

func (o *lastRowOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, xs, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	t, d := rowsCols(xs)
	out := o.output(o.outs, d)
	y := out.Float32s()
	if o.st == nil || o.st.batch == nil {
		if o.outs != 1 {
			return nil, fmt.Errorf("engine: %s: %d rows wanted outside a batch", o.name, o.outs)
		}
		copy(y, x[(t-1)*d:])
		return out, nil
	}
	r, k := 0, 0
	for _, s := range o.st.batch {
		r += s.rows
		if !s.logits {
			continue
		}
		if r > t || k >= o.outs {
			return nil, fmt.Errorf("engine: %s: the batch does not fit %d rows and %d outputs", o.name, t, o.outs)
		}
		copy(y[k*d:(k+1)*d], x[(r-1)*d:r*d])
		k++
	}
	if k != o.outs {
		return nil, fmt.Errorf("engine: %s: %d sequences want logits, the graph gives %d", o.name, k, o.outs)
	}
	return out, nil
}
