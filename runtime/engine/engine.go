package engine

import (
	"context"
	"fmt"
	goruntime "runtime"
	"sync"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// maxCachedGraphs bounds how many compiled graphs (one per input shape)
// an engine keeps; decoding one sequence with the KV cache needs one, a
// server's decode batches one per batch size.
const maxCachedGraphs = 40

// graphKey is the shape a compiled graph takes: its input rows and the
// rows of logits it returns.
type graphKey struct{ rows, outs int }

// Engine runs one model. It is not safe for concurrent use: a forward call
// advances the engine's position and its KV cache.
type Engine struct {
	cfg  arch.Config
	opts Options
	exec kernels.Exec
	// emb holds the token embeddings [vocab, dim] in fp32, or embQ in the
	// GGML block format the file stores them in; lookups decode one row.
	emb     []float32
	embQ    *kernels.QMatrix
	tensors map[string]*tensor.Dense
	// quant holds the quantised linear weights: those Options.Weights
	// quantises, and those the file stores in a GGML block format, which
	// run as stored. Their fp32 tensors never exist.
	quant map[string]*kernels.QMatrix
	// adapters are LoRA adapters applied on the fly (AttachAdapters).
	adapters map[string]*Adapter
	// decoded marks the fp32 tensors decoded from another format at load
	// (the engine's own copies); initial keeps, for each weight trained in
	// place that was not, the aliased values it had before training
	// (InitialValues).
	decoded map[string]bool
	initial map[string][]float32
	// initialBF16 keeps the loaded bytes of each weight trained in bf16
	// that aliased its file; bf16Src the source tensor of each bf16
	// weight the engine rounded itself, which training updates in place.
	initialBF16 map[string][]byte
	bf16Src     map[string]*weights.Tensor
	bytes       int64
	st          *state
	// mem holds the KV cache and the arena's larger buffers (offHeap).
	mem    *offHeap
	graphs map[graphKey]*compiled
	// arena holds the graphs' reused op outputs, shared between graphs.
	// It is an object of its own: its ops point to it, and a pointer from
	// a graph into the engine would close a cycle through the graph's
	// TapeMachine, whose finalizer would then keep the engine, its graphs
	// and its weights from ever being collected.
	arena *arena
	// used counts graph runs, to evict the least recently used graph.
	used    int64
	pos     int
	history []int // tokens so far, for recomputation without a KV cache
	logits  []float32
	rows    int // input rows processed since New, for tests of ML004
	builds  int // graphs built since New
}

// compiled is one graph with its machine, for one input length.
type compiled struct {
	g      *gorgonia.ExprGraph
	vm     gorgonia.VM
	x      *gorgonia.Node
	xval   *tensor.Dense
	logits *gorgonia.Node
	used   int64 // the engine's run count at its last use
	// drop is set for a kept graph whose ops allocate their outputs on
	// every pass (a multi-row graph under compile = default): its nodes
	// would hold the last pass's activations for as long as the graph is
	// cached, and a server's passes take many shapes (15M with max_batch
	// 16 held 635 MiB, against 209 MiB when each pass's graph is built
	// anew), so release unbinds them after each pass.
	drop bool
}

// release lets go of what a pass of c computed, once its logits are read:
// the machine's registers, and for a graph that drops them the values
// its nodes are bound to (its inputs and weights stay bound).
func (c *compiled) release() {
	c.vm.Reset()
	if !c.drop {
		return
	}
	// Unbinding hands a node's tensor back to the tensor package's pool,
	// which zeroes it in place for reuse, and the engine's ops keep and
	// return some of their output tensors (and views of the KV cache):
	// with the pool off for the unbinding, it only drops the references.
	// The pool stays on otherwise (Gorgonia's programs recycle their
	// temporaries through it); the lock keeps two engines' unbindings
	// from turning it back on under each other, and a tensor that
	// another pass returns meanwhile is just not pooled.
	unbinding.Lock()
	defer unbinding.Unlock()
	tensor.DontUsePool()
	defer tensor.UsePool()
	c.g.UnbindAllNonInputs()
}

// unbinding serialises compiled.release's unbinding.
var unbinding sync.Mutex

// New prepares ws for execution under opts (see load for how each weight
// is held) and, for CompileMaxAutotune, tunes the kernels. The engine may
// alias ws's tensor data, so ws must stay open while the engine is used.
// Only the Llama family is supported.
func New(ctx context.Context, ws *weights.Set, opts Options) (*Engine, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := ws.Config
	if c.Family != arch.Llama {
		return nil, fmt.Errorf("engine: %s: family %s is not supported; only llama runs", ws.Source, c.Family)
	}
	hs := c.HeadSize()
	if c.Dim <= 0 || c.HiddenDim <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.KVHeads <= 0 || c.Vocab <= 0 || c.MaxSeq <= 0 || hs <= 0 || hs%2 != 0 || c.Heads%c.KVHeads != 0 {
		return nil, fmt.Errorf("engine: %s: unusable architecture %+v", ws.Source, c)
	}
	if err := opts.perNode(c); err != nil {
		return nil, err
	}
	if opts.Threads == 0 {
		opts.Threads = 1
	}
	if opts.Pool == nil {
		opts.Pool = newPool(opts.Threads)
	}
	// A context the caller chose (the plan's prompt plus new tokens) is
	// allocated at once; the model's whole context, which a run seldom
	// fills, grows as positions arrive.
	prealloc := opts.Context > 0 && opts.Context <= c.MaxSeq
	if !prealloc {
		opts.Context = c.MaxSeq
	}
	e := &Engine{
		cfg:     c,
		opts:    opts,
		exec:    kernels.Exec{Threads: opts.Threads, Pool: opts.Pool},
		tensors: map[string]*tensor.Dense{},
		quant:   map[string]*kernels.QMatrix{},
		graphs:  map[graphKey]*compiled{},
		logits:  make([]float32, c.Vocab),
		mem:     &offHeap{},
		arena:   &arena{},
	}
	qd, kvd := c.Heads*hs, c.KVHeads*hs
	want := map[string][]int{
		"tok_embeddings.weight": {c.Vocab, c.Dim},
		"norm.weight":           {c.Dim},
	}
	if !c.Tied {
		want["output.weight"] = []int{c.Vocab, c.Dim}
	}
	for l := range c.Layers {
		p := fmt.Sprintf("layers.%d.", l)
		want[p+"attention_norm.weight"] = []int{c.Dim}
		want[p+"attention.wq.weight"] = []int{qd, c.Dim}
		want[p+"attention.wk.weight"] = []int{kvd, c.Dim}
		want[p+"attention.wv.weight"] = []int{kvd, c.Dim}
		want[p+"attention.wo.weight"] = []int{c.Dim, qd}
		want[p+"ffn_norm.weight"] = []int{c.Dim}
		want[p+"feed_forward.w1.weight"] = []int{c.HiddenDim, c.Dim}
		want[p+"feed_forward.w2.weight"] = []int{c.Dim, c.HiddenDim}
		want[p+"feed_forward.w3.weight"] = []int{c.HiddenDim, c.Dim}
	}
	if err := e.load(ctx, ws, want); err != nil {
		return nil, err
	}
	theta := c.RopeTheta
	if theta <= 0 {
		theta = 10000
	}
	e.st = newState(opts.Context, c.Layers, c.Heads, c.KVHeads, hs, theta, opts.KVCache)
	e.st.whole = prealloc
	e.st.exec = e.exec
	// The KV cache and the arena's buffers live outside the Go heap, and
	// go when the engine does.
	e.st.mem, e.arena.mem = e.mem, e.mem
	goruntime.AddCleanup(e, (*offHeap).free, e.mem)
	if opts.Compile == CompileMaxAutotune {
		if err := e.autotune(ctx); err != nil {
			return nil, err
		}
	}
	if opts.Batch > 0 {
		if err := e.reserveBatch(opts.Batch); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// reserveBatch does what Options.Batch asks of New for a prompt chunk of
// rows: the KV cache allocated (the whole chosen context, else what rows
// positions grow it to) with every page touched, the graph of rows built,
// and its shared op buffers allocated and touched.
func (e *Engine) reserveBatch(rows int) error {
	if rows > e.opts.Context {
		return fmt.Errorf("engine: Options.Batch is %d, more than the context of %d", rows, e.opts.Context)
	}
	if e.st.cached {
		if err := e.st.ensure(rows); err != nil {
			return err
		}
		for l := range e.st.layers {
			e.mem.touch(e.st.keys[l])
			e.mem.touch(e.st.vals[l])
		}
	}
	if e.opts.Compile == CompileNone {
		return nil
	}
	c, err := e.graph(rows, 1)
	if err != nil {
		return err
	}
	e.arena.reserve(c.g)
	// The graph's input rows and the logits Forward copies out are on
	// the heap, fresh pages until first written.
	e.mem.touch(c.xval.Float32s())
	e.mem.touch(e.logits)
	return nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Config returns the model's architecture.
func (e *Engine) Config() arch.Config { return e.cfg }

// Options returns the options the engine runs with.
func (e *Engine) Options() Options { return e.opts }

// WeightBytes returns the bytes the engine's weights occupy in memory.
func (e *Engine) WeightBytes() int64 { return e.bytes }

// Context returns the number of positions the engine accepts.
func (e *Engine) Context() int { return e.opts.Context }

// Reserve allocates the engine's own KV cache and rotary tables for its
// whole context now, as the first Forward would. The cache is mapped
// outside the Go heap (offHeap) and its pages are touched only as
// positions are written, so reserving moves no page faults; a caller that
// bounds the Go heap by its live size (runtime's generate stage) reserves
// first so that the rotary tables are counted. It does nothing for an
// engine without a cache or with the model's own context, which grows as
// used.
func (e *Engine) Reserve() error {
	if !e.st.cached || !e.st.whole {
		return nil
	}
	return e.st.ensure(e.opts.Context)
}

// Pos returns the number of tokens processed since the last Reset.
func (e *Engine) Pos() int { return e.pos }

// Reset forgets every token processed, so the next call starts at
// position 0.
func (e *Engine) Reset() {
	e.pos = 0
	e.history = e.history[:0]
}

// Forward processes tokens at the next positions and returns the logits
// that predict the token after the last of them. The returned slice is
// overwritten by the next call.
func (e *Engine) Forward(ctx context.Context, tokens []int) (logits []float32, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("engine: Forward needs at least one token")
	}
	for _, tok := range tokens {
		if tok < 0 || tok >= e.cfg.Vocab {
			return nil, fmt.Errorf("engine: token %d is outside the vocabulary of %d", tok, e.cfg.Vocab)
		}
	}
	if e.pos+len(tokens) > e.opts.Context {
		return nil, fmt.Errorf("engine: %d tokens at position %d exceed the context length %d", len(tokens), e.pos, e.opts.Context)
	}
	input := tokens
	if e.opts.KVCache {
		e.st.start = e.pos
	} else {
		e.history = append(e.history, tokens...)
		input = e.history
		e.st.start = 0
	}
	if err := e.st.ensure(e.st.start + len(input)); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("engine: internal error in the Gorgonia graph: %v", r)
		}
	}()
	c, err := e.graph(len(input), 1)
	if err != nil {
		return nil, err
	}
	x := c.xval.Float32s()
	d := e.cfg.Dim
	for i, tok := range input {
		e.embedRow(x[i*d:(i+1)*d], tok)
	}
	if err := gorgonia.Let(c.x, c.xval); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	// The workers stay awake between the pass's products (released
	// also when the graph panics).
	e.st.runs++
	e.exec.Pool.Hold()
	defer e.exec.Pool.Release()
	defer func() { e.st.passScores = nil }()
	if err := runTape(c.vm); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	out, _, err := floats(c.logits.Value())
	if err != nil {
		return nil, err
	}
	copy(e.logits, out)
	c.release()
	if e.opts.Compile == CompileNone {
		c.vm.Close()
	}
	e.pos += len(tokens)
	e.rows += len(input)
	return e.logits, nil
}

// Prepare builds the graph that Forward runs for rows input rows, when the
// compile mode keeps graphs (every mode but CompileNone, which builds one
// per call), so that its building is not paid by the first call. Generate
// prepares the one-row decode graph before it samples the first token: a
// prompt of several tokens is prefilled by another graph, and building the
// decode graph inside the decode loop cost stories260K 4-16 ms, a tenth to
// a half of its 99 later tokens' time.
func (e *Engine) Prepare(rows int) error {
	if rows <= 0 || rows > e.opts.Context {
		return fmt.Errorf("engine: cannot prepare a graph of %d rows in a context of %d", rows, e.opts.Context)
	}
	if e.opts.Compile == CompileNone {
		return nil
	}
	_, err := e.graph(rows, 1)
	return err
}

// graph returns the compiled graph for t input rows and outs rows of
// logits, building it when the compile mode or the cache says so; the
// least recently used graph makes room.
func (e *Engine) graph(t, outs int) (*compiled, error) {
	if e.opts.Compile == CompileNone {
		return e.build(t, outs)
	}
	e.used++
	key := graphKey{t, outs}
	if c, ok := e.graphs[key]; ok {
		c.used = e.used
		return c, nil
	}
	c, err := e.build(t, outs)
	if err != nil {
		return nil, err
	}
	e.builds++
	if len(e.graphs) >= maxCachedGraphs {
		var lru graphKey
		var oldest int64 = -1
		for k, g := range e.graphs {
			if oldest < 0 || g.used < oldest {
				lru, oldest = k, g.used
			}
		}
		e.graphs[lru].vm.Close()
		delete(e.graphs, lru)
	}
	c.used = e.used
	e.graphs[key] = c
	return c, nil
}

// newPool returns the persistent workers for products split threads ways,
// or nil for one thread.
func newPool(threads int) *kernels.Pool {
	if threads <= 1 {
		return nil
	}
	return kernels.NewPool(threads)
}

// HoldWorkers keeps the engine's worker threads spinning, rather than
// parking, between the forward passes of a generation loop until the
// returned function is called (at most 2 ms per gap; see kernels.Pool.Hold):
// sampling and detokenising a token take tens of microseconds, after
// which a parked worker would miss the next pass's first product.
func (e *Engine) HoldWorkers() (release func()) {
	e.exec.Pool.Hold()
	return e.exec.Pool.Release
}

// PoolStats returns the counts of the engine's worker pool (zero for one
// thread): how many parallel products it offered its workers, how many
// worker shares took part, how often a worker parked.
func (e *Engine) PoolStats() kernels.PoolStats {
	if e.exec.Pool == nil {
		return kernels.PoolStats{}
	}
	return e.exec.Pool.Stats()
}
