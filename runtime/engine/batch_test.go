package engine

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"
)

// TestForwardBatchMatchesForward checks the batched pass against Forward,
// one sequence at a time: three sequences of different lengths advance
// together (prompt chunks beside decode steps, a chunk that wants no
// logits), and every logit matches Forward's for the same sequence. It
// runs the shapes from small to large and back, so graphs share op
// buffers that grew in between.
func TestForwardBatchMatchesForward(t *testing.T) {
	ws, _ := loadStories(t)
	ctx := context.Background()
	seqs := [][]int{
		{1, 403, 306, 261, 378, 395, 269, 412, 261, 497, 11},
		{1, 30, 11, 403},
		{1, 497, 11, 30, 403, 306, 261},
	}
	for _, o := range []Options{
		{Attention: AttentionEager, KVCache: true, Compile: CompileReduceOverhead, Quantize: QuantizeNone, Threads: 2},
		{Attention: AttentionFlash2, KVCache: true, Compile: CompileNone, Quantize: QuantizeNone},
		{Attention: AttentionEager, KVCache: true, Compile: CompileReduceOverhead, Quantize: QuantizeQ8_0},
	} {
		t.Run(fmt.Sprintf("%s-%s-%s", o.Attention, o.Compile, o.Quantize), func(t *testing.T) {
			want := make([][][]float32, len(seqs)) // per sequence, per position
			for i, sq := range seqs {
				e, err := New(ctx, ws, o)
				if err != nil {
					t.Fatal(err)
				}
				for _, tok := range sq {
					l, err := e.Forward(ctx, []int{tok})
					if err != nil {
						t.Fatal(err)
					}
					want[i] = append(want[i], append([]float32(nil), l...))
				}
			}
			e, err := New(ctx, ws, o)
			if err != nil {
				t.Fatal(err)
			}
			// fp32 products agree to rounding. Quantised products of one row
			// (Forward's decode) take the integer-dot kernels, which quantise
			// the activation to 8 bits, where a batch's take the float ones;
			// on stories260K Forward's own 3-token prefill and its token-by-
			// token decode already differ by 0.23 in some logit.
			tol := 1e-4
			if o.Quantize != QuantizeNone {
				tol = 0.5
			}
			kvs := []*KVCache{e.NewKVCache(), e.NewKVCache(), e.NewKVCache()}
			// Tokens each sequence takes at each step; 0 sits the step out.
			plan := [][]int{{1, 1, 1}, {1, 0, 1}, {5, 3, 4}, {1, 0, 1}, {1, 0, 0}, {1, 0, 0}, {1, 0, 0}}
			pos := []int{0, 0, 0}
			for step, takes := range plan {
				var batch []Seq
				var idx []int
				for i, n := range takes {
					if n == 0 {
						continue
					}
					s := Seq{KV: kvs[i], Tokens: seqs[i][pos[i] : pos[i]+n], Pos: pos[i]}
					// The middle chunk of sequence 2 wants no logits.
					if !(step == 2 && i == 2) {
						s.Logits = make([]float32, ws.Config.Vocab)
					}
					batch = append(batch, s)
					idx = append(idx, i)
				}
				if err := e.ForwardBatch(ctx, batch); err != nil {
					t.Fatal(err)
				}
				for k, s := range batch {
					i := idx[k]
					pos[i] += len(s.Tokens)
					if s.Logits == nil {
						continue
					}
					w := want[i][pos[i]-1]
					for j := range w {
						if d := math.Abs(float64(w[j] - s.Logits[j])); d > tol*math.Max(1, math.Abs(float64(w[j]))) {
							t.Fatalf("step %d, sequence %d, position %d, logit %d: batched %v, Forward %v", step, i, pos[i]-1, j, s.Logits[j], w[j])
						}
					}
				}
			}
			if pos[0] != len(seqs[0]) || pos[1] != len(seqs[1]) || pos[2] != len(seqs[2]) {
				t.Fatalf("the plan covered %v of %d, %d, %d tokens", pos, len(seqs[0]), len(seqs[1]), len(seqs[2]))
			}
			if e.Pos() != 0 {
				t.Errorf("ForwardBatch moved the engine's own position to %d", e.Pos())
			}
		})
	}
}

// TestForwardBatchSharesBuffers checks that graphs of many shapes hold the
// op outputs of the largest one, not of all of them together.
func TestForwardBatchSharesBuffers(t *testing.T) {
	ws, _ := loadStories(t)
	ctx := context.Background()
	e, err := New(ctx, ws, Options{Attention: AttentionEager, KVCache: true, Compile: CompileReduceOverhead, Quantize: QuantizeNone})
	if err != nil {
		t.Fatal(err)
	}
	arenaBytes := func() int {
		n := 0
		for _, b := range e.arena.bufs {
			n += 4 * cap(*b)
		}
		return n
	}
	var kvs []*KVCache
	for range 8 {
		kvs = append(kvs, e.NewKVCache())
	}
	logits := make([]float32, ws.Config.Vocab)
	var largest int
	for n := 8; n >= 1; n-- { // 8 decode shapes, largest first
		var batch []Seq
		for i := range n {
			batch = append(batch, Seq{KV: kvs[i], Tokens: []int{1}, Pos: 8 - n, Logits: logits})
		}
		if err := e.ForwardBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if n == 8 {
			largest = arenaBytes()
		}
	}
	if len(e.graphs) != 8 {
		t.Fatalf("%d graphs cached, want 8", len(e.graphs))
	}
	if got := arenaBytes(); got != largest || got == 0 {
		t.Errorf("op buffers hold %d bytes after 8 shapes; the largest alone held %d", got, largest)
	}
}

// TestCachedGraphsDropActivations checks that under compile = default,
// where a multi-row graph's ops allocate their outputs, the cached graphs
// of many shapes do not each keep their last pass's activations: the
// heap grows by the graphs, not by their activations, over passes of
// 2..23 rows, and the logits of a shape run again are
// those of its first run.
func TestCachedGraphsDropActivations(t *testing.T) {
	ws, _ := loadStories(t)
	ctx := context.Background()
	e, err := New(ctx, ws, Options{Attention: AttentionEager, KVCache: true, Compile: CompileDefault, Quantize: QuantizeNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Close the 23 machines now, and collect them, rather than leave
		// their finalizers to run in a later test's allocation count
		// (TestPrefillBuffersOffHeap).
		for _, c := range e.graphs {
			c.vm.Close()
		}
		clear(e.graphs)
		runtime.GC()
		runtime.GC()
	})
	kv := e.NewKVCache()
	heap := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	pass := func(rows int) []float32 {
		toks := make([]int, rows)
		for i := range toks {
			toks[i] = 1 + i%7
		}
		logits := make([]float32, ws.Config.Vocab)
		if err := e.ForwardBatch(ctx, []Seq{{KV: kv, Tokens: toks, Pos: 0, Logits: logits}}); err != nil {
			t.Fatal(err)
		}
		return logits
	}
	first := pass(24)
	before := heap()
	for rows := 2; rows < 24; rows++ {
		pass(rows)
	}
	grown := heap() - before
	if len(e.graphs) != 23 {
		t.Fatalf("%d graphs cached, want 23", len(e.graphs))
	}
	// The 22 graphs kept their activations, 11 MB, before release; what
	// stays is the graphs themselves and Gorgonia's pools, about 1.7 MB.
	if grown > 4<<20 {
		t.Errorf("the heap grew %d bytes over 22 cached graphs: their activations are kept", grown)
	}
	if again := pass(24); !slices.Equal(again, first) {
		t.Error("a cached graph run again after its values were dropped gives other logits")
	}
}

// TestForwardBatchRefuses checks the batch's inputs.
func TestForwardBatchRefuses(t *testing.T) {
	ws, _ := loadStories(t)
	ctx := context.Background()
	e, err := New(ctx, ws, Options{Attention: AttentionEager, KVCache: true, Compile: CompileReduceOverhead, Quantize: QuantizeNone, Context: 16})
	if err != nil {
		t.Fatal(err)
	}
	kv := e.NewKVCache()
	for _, c := range []struct {
		name string
		seqs []Seq
	}{
		{"empty", nil},
		{"no cache", []Seq{{Tokens: []int{1}}}},
		{"no tokens", []Seq{{KV: kv}}},
		{"past the context", []Seq{{KV: kv, Tokens: []int{1, 2}, Pos: 15}}},
		{"bad token", []Seq{{KV: kv, Tokens: []int{ws.Config.Vocab}}}},
		{"short logits", []Seq{{KV: kv, Tokens: []int{1}, Logits: make([]float32, 3)}}},
	} {
		if err := e.ForwardBatch(ctx, c.seqs); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}
