package engine

import (
	"context"
	goruntime "runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// TestOffHeapBuffers checks offHeap's bookkeeping: a buffer of
// offHeapMin bytes and up is mapped and zeroed, a smaller one is not
// mapped, a released buffer reads back as zeros without being unmapped,
// and free gives every mapping back.
func TestOffHeapBuffers(t *testing.T) {
	m := &offHeap{}
	small := m.floats(offHeapMin/4 - 1)
	big := m.floats(offHeapMin / 4 * 3)
	if m.owns(small) != nil || m.owns(big) == nil || len(m.maps) != 1 {
		t.Fatalf("owns small %v, big %v, %d mappings; want only the big one mapped", m.owns(small) != nil, m.owns(big) != nil, len(m.maps))
	}
	if got, want := m.mapped(), int64(4*len(big)); got != want {
		t.Fatalf("%d bytes mapped; want %d", got, want)
	}
	for i, v := range big {
		if v != 0 {
			t.Fatalf("float %d of a new buffer is %g", i, v)
		}
		big[i] = float32(i + 1)
	}
	m.release(big)
	for i, v := range big {
		if v != 0 {
			t.Fatalf("float %d of a released buffer is %g, want 0", i, v)
		}
	}
	m.release(small) // a heap buffer: nothing to do
	m.free()
	if got := m.mapped(); got != 0 || len(m.maps) != 0 {
		t.Fatalf("%d bytes still live and %d mappings after free", got, len(m.maps))
	}
	var nilHeap *offHeap
	if f := nilHeap.floats(offHeapMin); len(f) != offHeapMin {
		t.Fatalf("a nil offHeap gave %d floats", len(f))
	}
}

// heapAllocs returns the bytes allocated on the Go heap so far.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestPrefillBuffersOffHeap checks that a first prefill's KV cache and
// activations are mapped outside the Go heap: the heap grows by much
// less than they take, and the engine's mappings hold at least the
// cache. It also checks that they are unmapped once the engine is gone.
func TestPrefillBuffersOffHeap(t *testing.T) {
	c := arch.Config{Name: "t", Family: arch.Llama, Dim: 128, HiddenDim: 344, Layers: 3, Heads: 4, KVHeads: 4, Vocab: 256, MaxSeq: 256, RopeTheta: 10000, NormEps: 1e-5, Tied: true}
	ws := weights.Random(c, 5)
	var mems []*offHeap // the engines' mappings, which do not keep them
	prompt := make([]int, 128)
	for i := range prompt {
		prompt[i] = (i*37 + 1) % c.Vocab
	}
	func() {
		for _, q := range []Quantize{QuantizeNone, QuantizeQ8_0} {
			e, err := New(context.Background(), ws, Options{Attention: AttentionEager, KVCache: true, Compile: CompileReduceOverhead, Quantize: q, QuantizeHead: q != QuantizeNone, Threads: 1, Context: 160})
			if err != nil {
				t.Fatal(err)
			}
			mems = append(mems, e.mem)
			if err := e.Prepare(len(prompt)); err != nil {
				t.Fatal(err)
			}
			a0 := heapAllocs()
			if _, err := e.Forward(context.Background(), prompt); err != nil {
				t.Fatal(err)
			}
			grew := heapAllocs() - a0
			kv := int64(2 * c.Layers * 160 * c.Dim * 4)
			// The activations: ten [128, dim] roles and three [128, hidden].
			acts := int64(4 * 128 * (10*c.Dim + 3*c.HiddenDim))
			if m := e.mem.mapped(); m < kv+acts/2 {
				t.Errorf("%s: %d bytes mapped, want at least the KV cache's %d and most of the activations' %d", q, m, kv, acts)
			}
			// What stays on the heap: a prefill's attention probabilities
			// (heads·128·128 floats, dropped after the pass) and small
			// things, among them the tensor headers Gorgonia takes from
			// its pool or allocates when earlier tests have drained it
			// (300-760 KB here); the cache and activations on the heap
			// would be all of kv+acts more.
			if grew > uint64(kv+acts)/2 {
				t.Errorf("%s: the first prefill allocated %d bytes on the heap; the cache and activations take %d", q, grew, kv+acts)
			}
		}
	}()
	live := func() (n int64) {
		for _, m := range mems {
			n += m.live.Load()
		}
		return n
	}
	deadline := time.Now().Add(5 * time.Second)
	for live() != 0 && time.Now().Before(deadline) {
		goruntime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := live(); n != 0 {
		t.Errorf("%d bytes still mapped after the engines were unreachable", n)
	}
}

// TestEngineIsCollected checks that an engine that has built and run its
// graphs is collected once unreachable. Its graphs' ops once pointed into
// the engine (its arena was a field of it), which closed a cycle through
// each graph's TapeMachine; Gorgonia sets a finalizer on those, and the
// collector never frees a cycle with a finalizer, so every such engine,
// weights included, stayed in memory for the life of the process.
func TestEngineIsCollected(t *testing.T) {
	c := arch.Config{Name: "t", Family: arch.Llama, Dim: 32, HiddenDim: 80, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 64, MaxSeq: 32, RopeTheta: 10000, NormEps: 1e-5, Tied: true}
	ws := weights.Random(c, 5)
	for _, mode := range []Compile{CompileDefault, CompileReduceOverhead} {
		var done atomic.Bool
		func() {
			e, err := New(context.Background(), ws, Options{Attention: AttentionEager, KVCache: true, Compile: mode, Quantize: QuantizeQ8_0, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			goruntime.AddCleanup(e, func(d *atomic.Bool) { d.Store(true) }, &done)
			for _, toks := range [][]int{{1, 2, 3, 4}, {5}} {
				if _, err := e.Forward(context.Background(), toks); err != nil {
					t.Fatal(err)
				}
			}
		}()
		for i := 0; i < 100 && !done.Load(); i++ {
			goruntime.GC()
			time.Sleep(5 * time.Millisecond)
		}
		if !done.Load() {
			t.Errorf("%s: the engine was not collected after 100 collections", mode)
		}
	}
}
