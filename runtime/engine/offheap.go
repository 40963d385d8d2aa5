package engine

import (
	"sync/atomic"
	"unsafe"

	"github.com/modelwhisperer/whisperc/runtime/internal/pages"
)

// offHeap holds an engine's large long-lived float buffers outside the Go
// heap: the KV cache and the arena's activations (state.grow, arenaOutput).
// They live as long as the engine and hold no pointers, so the collector
// has nothing to do with them; on the heap, a first prefill's cache and
// activations (15M, 128 tokens: 5.6 MB) grew the heap past its first
// goals and paid for two collections within the prefill, about a fifth
// of its CPU time on a 2-vCPU VM. Buffers under offHeapMin stay on the
// heap (a decode step's rows), as does everything when mapping fails.
//
// A buffer replaced by a larger one (release) gives its pages back at
// once but keeps its addresses mapped until the engine is collected: a
// graph that has not run since the arena grew still holds the old buffer
// in its values, and must never reach unmapped memory. The engine frees
// every mapping when the collector finds it unreachable (New's cleanup).
type offHeap struct {
	maps [][]byte
	// live counts the bytes mapped (atomic: the cleanup that frees them
	// runs on the collector's goroutine; read by tests).
	live atomic.Int64
}

// offHeapMin is the smallest buffer, in bytes, that offHeap maps.
const offHeapMin = 64 << 10

// floats returns n zeroed float32s: mapped for n·4 ≥ offHeapMin, else
// (or when mapping fails, or m is nil) on the heap.
func (m *offHeap) floats(n int) []float32 {
	if m == nil || n*4 < offHeapMin {
		return make([]float32, n)
	}
	b, err := mapAnon(n * 4)
	if err != nil {
		return make([]float32, n)
	}
	m.maps = append(m.maps, b)
	m.live.Add(int64(len(b)))
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// owns returns the mapping that starts at f's first float, if m made it.
func (m *offHeap) owns(f []float32) []byte {
	if m == nil || cap(f) == 0 {
		return nil
	}
	p := unsafe.Pointer(unsafe.SliceData(f))
	for _, b := range m.maps {
		if unsafe.Pointer(unsafe.SliceData(b)) == p {
			return b
		}
	}
	return nil
}

// release gives back the pages of f, a buffer from floats that nothing
// will read again, keeping its addresses mapped (read as zeros). It does
// nothing for a heap buffer, which the collector frees.
func (m *offHeap) release(f []float32) {
	if b := m.owns(f); b != nil {
		discard(b)
	}
}

// touch makes every page of f resident and ready for its first write
// now: the kernel fills a mapped buffer's pages in one call where it can
// (pages.Prefault), and one write of zero per page maps each for this
// process (f holds zeros until it is used, which both leave as they
// are). f must not be in use.
func (m *offHeap) touch(f []float32) {
	if b := m.owns(f); b != nil {
		pages.Prefault(b)
		return
	}
	pages.TouchFloats(f)
}

// free unmaps every buffer. Nothing may use them afterwards: New's
// cleanup calls it once the engine is unreachable.
func (m *offHeap) free() {
	for _, b := range m.maps {
		m.live.Add(-int64(len(b)))
		_ = unmapAnon(b)
	}
	m.maps = nil
}

// mapped returns the bytes m has mapped.
func (m *offHeap) mapped() int64 { return m.live.Load() }
