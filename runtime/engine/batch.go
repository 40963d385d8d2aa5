package engine

import (
	"context"
	"fmt"
	"strings"
	"unsafe"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/modelwhisperer/whisperc/runtime/internal/pages"
)

// KVCache is one sequence's keys and values for every layer, at up to the
// engine's Context positions: what a server keeps per sequence slot for
// ForwardBatch. It is allocated in full, so its memory never grows.
type KVCache struct {
	keys, vals [][]float32 // [layers][Context·width]
	width      int         // kvHeads·headSize
}

// NewKVCache allocates the KV cache of one sequence of Context positions,
// with every page resident, as llama.cpp clears its cache when it creates
// a context. A large slice comes to the Go heap as fresh pages from the
// OS, which the runtime does not zero; left untouched, each page would be
// faulted in by the pass that first writes its positions: a server's
// first requests paid about eight faults a token for a 15M model, and its
// one- and two-sequence rates ran 27-49% under the plan, whose steps are
// timed on caches already written (planner/testdata/measured/
// serve-cpu-*.json, 08:33 UTC). The plan counts the whole cache resident.
func (e *Engine) NewKVCache() *KVCache {
	c := e.cfg
	kvd := c.KVHeads * c.HeadSize()
	kv := &KVCache{keys: make([][]float32, c.Layers), vals: make([][]float32, c.Layers), width: kvd}
	for l := range c.Layers {
		kv.keys[l] = make([]float32, e.opts.Context*kvd)
		kv.vals[l] = make([]float32, e.opts.Context*kvd)
		pages.TouchFloats(kv.keys[l])
		pages.TouchFloats(kv.vals[l])
	}
	return kv
}

// KVCacheBytes returns the bytes one NewKVCache holds: keys and values of
// every layer at Context positions, in float32.
func (e *Engine) KVCacheBytes() int64 {
	c := e.cfg
	return int64(e.opts.Context) * int64(c.Layers) * 2 * int64(c.KVHeads*c.HeadSize()) * 4
}

// CopyPrefix copies the first n positions of src into kv (both from the
// same engine): a sequence that starts with src's tokens reuses their keys
// and values instead of computing them.
func (kv *KVCache) CopyPrefix(src *KVCache, n int) {
	for l := range kv.keys {
		d := min(n*kv.width, len(kv.keys[l]), len(src.keys[l]))
		copy(kv.keys[l][:d], src.keys[l][:d])
		copy(kv.vals[l][:d], src.vals[l][:d])
	}
}

// Seq is one sequence's share of a ForwardBatch call: Tokens at positions
// [Pos, Pos+len(Tokens)), whose keys and values go into KV.
type Seq struct {
	KV     *KVCache
	Tokens []int
	Pos    int
	// Logits, when not nil, receives the vocab logits after the last of
	// Tokens; nil means the call only fills the cache (a prompt chunk that
	// is not the prompt's last).
	Logits []float32
}

// ForwardBatch advances several sequences in one pass of the same forward
// graph Forward runs: the rows of every sequence go through each weight
// matrix together (matrix-matrix products), and each sequence attends to
// its own KV cache. A server's continuous batching mixes prompt chunks and
// single decode tokens in one call. It leaves the engine's own position
// and cache (Forward's) alone.
func (e *Engine) ForwardBatch(ctx context.Context, seqs []Seq) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	rows, outs, end := 0, 0, 0
	for i, s := range seqs {
		if s.KV == nil || len(s.KV.keys) != e.cfg.Layers || s.KV.width != e.cfg.KVHeads*e.cfg.HeadSize() {
			return fmt.Errorf("engine: ForwardBatch: sequence %d has no KV cache of this engine", i)
		}
		if len(s.Tokens) == 0 || s.Pos < 0 || s.Pos+len(s.Tokens) > e.opts.Context {
			return fmt.Errorf("engine: %d tokens at position %d do not fit the context of %d", len(s.Tokens), s.Pos, e.opts.Context)
		}
		for _, tok := range s.Tokens {
			if tok < 0 || tok >= e.cfg.Vocab {
				return fmt.Errorf("engine: token %d is outside the vocabulary of %d", tok, e.cfg.Vocab)
			}
		}
		if s.Logits != nil {
			if len(s.Logits) != e.cfg.Vocab {
				return fmt.Errorf("engine: ForwardBatch: sequence %d has room for %d logits, not %d", i, len(s.Logits), e.cfg.Vocab)
			}
			outs++
		}
		rows += len(s.Tokens)
		end = max(end, s.Pos+len(s.Tokens))
	}
	if rows == 0 {
		return fmt.Errorf("engine: ForwardBatch needs at least one sequence")
	}
	if err := e.st.grow(end, false); err != nil {
		return err
	}
	st := e.st
	st.batch, st.rowPos = st.batch[:0], st.rowPos[:0]
	for _, s := range seqs {
		st.batch = append(st.batch, segment{rows: len(s.Tokens), pos: s.Pos, keys: s.KV.keys, vals: s.KV.vals, logits: s.Logits != nil})
		for i := range s.Tokens {
			st.rowPos = append(st.rowPos, s.Pos+i)
		}
	}
	defer func() {
		st.batch, st.rowPos = st.batch[:0:0], st.rowPos[:0:0]
		if r := recover(); r != nil {
			err = fmt.Errorf("engine: internal error in the Gorgonia graph: %v", r)
		}
	}()
	// A call that wants no logits still runs a graph with one row of
	// them (Gorgonia's graphs have one output); it is dropped.
	graphOuts := max(outs, 1)
	if outs == 0 {
		st.batch[len(st.batch)-1].logits = true
	}
	c, err := e.graph(rows, graphOuts)
	if err != nil {
		return err
	}
	x := c.xval.Float32s()
	d := e.cfg.Dim
	r := 0
	for _, s := range seqs {
		for _, tok := range s.Tokens {
			e.embedRow(x[r*d:(r+1)*d], tok)
			r++
		}
	}
	if err := gorgonia.Let(c.x, c.xval); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	// The workers stay awake between the pass's products (released
	// also when the graph panics).
	e.st.runs++
	e.exec.Pool.Hold()
	defer e.exec.Pool.Release()
	if err := runTape(c.vm); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	out, _, err := floats(c.logits.Value())
	if err != nil {
		return err
	}
	if outs > 0 {
		k := 0
		v := e.cfg.Vocab
		for _, s := range seqs {
			if s.Logits != nil {
				copy(s.Logits, out[k*v:(k+1)*v])
				k++
			}
		}
	}
	c.release()
	if e.opts.Compile == CompileNone {
		c.vm.Close()
	}
	e.rows += rows
	return nil
}

// arena holds the output buffers of the ops of every compiled graph of
// one engine, one per op role: graphs of different shapes run one at a
// time, so the op of the same name in each can share one buffer, sized
// for the largest. The memory the engine's graphs hold is then that of
// its largest graph, however many shapes a server's batches take.
//
// The ops of the same role in different layers share one buffer too
// (layers.3.gate and layers.0.gate are both "gate"): every op of layer l
// runs before layer l's ffn.out, which every op of layer l+1 depends on,
// and each role's value is read only within its layer, or by the next
// layer's ops up to its attention.out for the residual stream that
// ffn.out writes. The two roles that write the residual stream read it
// from the other one's buffer (attention.out adds ffn.out's, ffn.out
// adds attention.out's), never from their own: the arena's graphs add
// the residual inside the product op (linearOp, quantLinearOp), never by
// a Gorgonia addition, which could take a buffer over in place. A
// graph's activations then take about one layer's worth of memory, not
// one per layer (a 110M prompt of 128 tokens: about 7 MB instead of
// 90 MB), and a first prompt touches that much fresh memory.
type arena struct {
	bufs map[string]*[]float32
	// mem holds the buffers of offHeapMin bytes and up (nil: the heap).
	mem *offHeap
	// perLayer keeps one buffer per op name, as before the sharing
	// between layers (for the test that compares the two).
	perLayer bool
}

// slot returns the shared buffer of the op named name: that of its role,
// the name without its "layers.N." prefix, unless it writes the residual
// stream.
func (a *arena) slot(name string) *[]float32 {
	if a.bufs == nil {
		a.bufs = map[string]*[]float32{}
	}
	if rest, ok := strings.CutPrefix(name, "layers."); ok && !a.perLayer {
		if _, role, ok := strings.Cut(rest, "."); ok {
			name = role
		}
	}
	p, ok := a.bufs[name]
	if !ok {
		p = new([]float32)
		a.bufs[name] = p
	}
	return p
}

// output returns a [rows, cols] tensor over the shared buffer slot,
// grown when too small; cur is the tensor the op returned last time,
// returned again when it still fits and still uses the buffer. A graph
// that has not run since a buffer grew still holds the old one (its ops
// and nodes keep their last values) but never reads it again: the old
// buffer's pages go back (offHeap.release) or, on the heap, to the
// collector once those graphs run or go. Buffers at least double when
// they grow, so the old ones' addresses add up to less than the new.
func (a *arena) output(slot *[]float32, cur *tensor.Dense, shape ...int) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if cap(*slot) < n {
		old := *slot
		*slot = a.mem.floats(max(n, 2*cap(*slot)))
		a.mem.release(old)
	}
	buf := (*slot)[:n]
	if cur != nil && cur.Shape().Eq(tensor.Shape(shape)) {
		if data, ok := float32s(cur); ok && len(data) == n && unsafe.SliceData(data) == unsafe.SliceData(buf) {
			return cur
		}
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(buf))
}

// reserve allocates, for every op of g that takes its output from a, the
// buffer of its role at the size g's shapes give it, and touches the
// buffers' pages (Options.Batch): a first run of g then grows none of
// them and faults in none of their pages.
func (a *arena) reserve(g *gorgonia.ExprGraph) {
	for _, n := range g.AllNodes() {
		u, ok := n.Op().(arenaUser)
		if !ok {
			continue
		}
		if slot := u.arenaSlot(); slot != nil && cap(*slot) < n.Shape().TotalSize() {
			old := *slot
			*slot = a.mem.floats(n.Shape().TotalSize())
			a.mem.release(old)
		}
	}
	for _, slot := range a.bufs {
		a.mem.touch((*slot)[:cap(*slot)])
	}
}

// arenaUser is an op that can take its reused output buffer from an arena.
type arenaUser interface {
	useArena(a *arena)
	// arenaSlot is the arena buffer the op writes into (nil: none).
	arenaSlot() *[]float32
}

// shareBuffers gives every op of g that reuses its output the engine's
// arena.
func (e *Engine) shareBuffers(g *gorgonia.ExprGraph) {
	for _, n := range g.AllNodes() {
		if u, ok := n.Op().(arenaUser); ok {
			u.useArena(e.arena)
		}
	}
}
