package engine

import (
	"context"
	"math"
	goruntime "runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/weights"
	"golang.org/x/sys/unix"
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

// resident returns how many of f's pages are resident (mincore), for a
// buffer offHeap mapped.
func resident(t *testing.T, m *offHeap, f []float32) (in, pages int) {
	t.Helper()
	b := m.owns(f)
	if b == nil {
		t.Fatalf("a buffer of %d floats is not mapped", len(f))
	}
	vec := make([]byte, (len(b)+4095)/4096)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(unsafe.Pointer(unsafe.SliceData(vec)))); errno != 0 {
		t.Fatal(errno)
	}
	for _, v := range vec {
		in += int(v & 1)
	}
	return in, len(vec)
}

// TestBatchReserves checks Options.Batch: New leaves the whole KV cache
// and the prompt graph's shared buffers allocated and resident, so that a
// first prefill of Batch rows builds no graph and grows and maps no
// buffer; its logits, and the decode step's after it, are bit for bit
// those of an engine that reserves nothing. A Batch beyond the context or
// below 0 is refused.
func TestBatchReserves(t *testing.T) {
	c := arch.Config{Name: "t", Family: arch.Llama, Dim: 128, HiddenDim: 344, Layers: 3, Heads: 4, KVHeads: 4, Vocab: 256, MaxSeq: 256, RopeTheta: 10000, NormEps: 1e-5, Tied: true}
	ws := weights.Random(c, 5)
	prompt := make([]int, 100)
	for i := range prompt {
		prompt[i] = (i*37 + 1) % c.Vocab
	}
	ctx := context.Background()
	for _, q := range []Quantize{QuantizeNone, QuantizeQ8_0} {
		opts := Options{Attention: AttentionEager, KVCache: true, Compile: CompileReduceOverhead, Quantize: q, QuantizeHead: q != QuantizeNone, Threads: 1, Context: 160}
		plain, err := New(ctx, ws, opts)
		if err != nil {
			t.Fatal(err)
		}
		opts.Batch = len(prompt)
		e, err := New(ctx, ws, opts)
		if err != nil {
			t.Fatal(err)
		}
		if e.builds != 1 || len(e.arena.bufs) == 0 {
			t.Fatalf("%s: New built %d graphs and shares %d buffers; want the prompt's graph and its buffers", q, e.builds, len(e.arena.bufs))
		}
		kvd := c.KVHeads * c.HeadSize()
		for l := range c.Layers {
			if len(e.st.keys[l]) != opts.Context*kvd {
				t.Fatalf("%s: layer %d's cache holds %d floats, want the context's %d", q, l, len(e.st.keys[l]), opts.Context*kvd)
			}
			for _, f := range [][]float32{e.st.keys[l], e.st.vals[l]} {
				if in, n := resident(t, e.mem, f); in != n {
					t.Fatalf("%s: layer %d's cache has %d of %d pages resident after New", q, l, in, n)
				}
			}
		}
		before := map[string]*float32{}
		for name, slot := range e.arena.bufs {
			before[name] = unsafe.SliceData(*slot)
			if e.mem.owns(*slot) != nil {
				if in, n := resident(t, e.mem, *slot); in != n {
					t.Fatalf("%s: buffer %s has %d of %d pages resident after New", q, name, in, n)
				}
			}
		}
		mapped := e.mem.mapped()
		want, err := plain.Forward(ctx, prompt)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Forward(ctx, prompt)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: prefill logit %d is %g, want %g", q, i, got[i], want[i])
			}
		}
		if e.builds != 1 || e.mem.mapped() != mapped {
			t.Fatalf("%s: the first prefill built %d graphs in all and mapped %d bytes more", q, e.builds, e.mem.mapped()-mapped)
		}
		for name, slot := range e.arena.bufs {
			if p, ok := before[name]; !ok || p != unsafe.SliceData(*slot) {
				t.Fatalf("%s: the first prefill gave buffer %s new memory", q, name)
			}
		}
		if want, err = plain.Forward(ctx, []int{7}); err != nil {
			t.Fatal(err)
		}
		if got, err = e.Forward(ctx, []int{7}); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: decode logit %d is %g, want %g", q, i, got[i], want[i])
			}
		}
	}
	for _, b := range []int{-1, 161} {
		if _, err := New(ctx, ws, Options{Attention: AttentionEager, KVCache: true, Compile: CompileReduceOverhead, Quantize: QuantizeNone, Threads: 1, Context: 160, Batch: b}); err == nil || !strings.Contains(err.Error(), "Batch") {
			t.Fatalf("Batch %d in a context of 160: error %v, want one naming Batch", b, err)
		}
	}
}

// TestKVCacheResident checks that a server's slot cache is resident when
// NewKVCache returns: its slices are large enough to come to the heap as
// fresh pages from the OS, which the decode passes that first wrote them
// would otherwise fault in one by one.
func TestKVCacheResident(t *testing.T) {
	c := arch.Config{Name: "t", Family: arch.Llama, Dim: 1024, HiddenDim: 256, Layers: 2, Heads: 8, KVHeads: 8, Vocab: 256, MaxSeq: 2048, RopeTheta: 10000, NormEps: 1e-5, Tied: true}
	e, err := New(context.Background(), weights.Random(c, 5), Options{Attention: AttentionEager, KVCache: true, Compile: CompileNone, Quantize: QuantizeNone, Threads: 1, Context: 2048})
	if err != nil {
		t.Fatal(err)
	}
	kv := e.NewKVCache()
	for l := range c.Layers {
		for _, f := range [][]float32{kv.keys[l], kv.vals[l]} {
			// The whole pages inside the slice (8 MiB).
			lo := (uintptr(unsafe.Pointer(unsafe.SliceData(f))) + 4095) &^ 4095
			hi := (uintptr(unsafe.Pointer(unsafe.SliceData(f))) + uintptr(4*len(f))) &^ 4095
			vec := make([]byte, (hi-lo)/4096)
			if _, _, errno := unix.Syscall(unix.SYS_MINCORE, lo, hi-lo, uintptr(unsafe.Pointer(unsafe.SliceData(vec)))); errno != 0 {
				t.Fatal(errno)
			}
			in := 0
			for _, v := range vec {
				in += int(v & 1)
			}
			if in != len(vec) {
				t.Fatalf("layer %d: %d of the cache's %d pages are resident after NewKVCache", l, in, len(vec))
			}
		}
	}
	goruntime.KeepAlive(kv)
}
