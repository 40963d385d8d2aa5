package runtime

import (
	"os"
	goruntime "runtime"
	"runtime/debug"
	"unsafe"

	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/runtime/internal/pages"
)

// boundHeap narrows the Go heap's growth once a model is loaded to
// headroom(live) beyond its live size (atMostLive of
// cost.DecodeHeapHeadroom for serving, of cost.HeapHeadroom for
// training): the collector's goal, which Go's pacer starts a cycle some
// way short of (runway). It returns the function that restores the
// collector's setting. Under the default (GOGC=100) the heap may grow to
// twice its live size between collections, and a loaded model's
// quantised weights and KV cache are most of that live size: a decode
// loop's small per-token garbage would pile up to the size of the model
// before anything is collected. The collector's percentage is set so
// that the goal is headroom beyond the live heap (the serving and
// training memory models count it); as a percentage, the goal follows the
// live heap if it grows, where a fixed memory limit would make the
// collector run without pause once the live heap reached it. The weights
// hold no pointers, so each collection costs little. A GOGC or GOMEMLIMIT
// set by the user wins.
func boundHeap(headroom func(live int64) int64) (restore func()) {
	return bound(headroom, func(h int64) int64 { return h })
}

// boundGeneration is boundHeap for a generation, and for the plan's
// calibration of its steps: the heap grows by all of
// cost.DecodeHeapHeadroom before a collection starts (runway), which is
// the peak the decode memory model counts, and which the steps of a
// generation of a few hundred tokens fill without being collected.
func boundGeneration() (restore func()) {
	return bound(cost.DecodeHeapHeadroom, runway)
}

// bound sets the collector's goal goal(h) beyond the live heap, h being
// headroom(live), after making h of the heap's free pages ready
// (prefaultHeap).
func bound(headroom func(live int64) int64, goal func(h int64) int64) (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	live := max(int64(ms.HeapAlloc), 1)
	h := max(headroom(live), 0)
	// Before the bound, under which allocating the headroom would start a
	// collection.
	prefaultHeap(h)
	prev := debug.SetGCPercent(gcPercent(live, goal(h)))
	return func() { debug.SetGCPercent(prev) }
}

// runway returns how far beyond the live heap the collector's goal must
// lie for its next cycle to start only once the heap has grown by h. Go's
// pacer (Go 1.26, gcControllerState.trigger) starts a cycle between 45/64
// and 61/64 of the way from the heap it last marked to the goal, and at
// 45/64 where its estimated runway is long, as it is for a heap of
// pointer-free weights under a decode loop's fast small allocations. With
// the goal at live + h, stories260K's 200 tokens (3.1 MB of garbage, 4
// MiB of headroom) were collected once near their end: a 2.5 ms mark
// beside 100 µs steps, which the plan's calibration, collecting between
// its passes, did not see. A goal of live + h × 64/45 starts the earliest
// cycle at live + h, the peak the plan counts; where the pacer starts
// later (up to 1.36 h), the heap passes the pages prefaultHeap made ready.
// Serving and training keep their goal at the headroom (boundHeap): with
// it raised the same way, the server's measured peaks rose by 1-12 MiB,
// past what their memory model counts (measure_serve.sh, 13:30 UTC).
func runway(h int64) int64 { return (h*64 + 44) / 45 }

// heapMinimum is the Go collector's smallest heap goal at GOGC=100 (the
// runtime's defaultHeapMinimum); it scales with the percentage.
const heapMinimum = 4 << 20

// gcPercent returns the collector's percentage that makes its goal live +
// h bytes. The goal is the larger of live × (1 + pct/100) and
// heapMinimum × pct/100: h/live is the percentage where the first is
// larger, and a live heap of a few MiB (stories260K's 2 MiB, whose goal
// at h/live would be 8 MiB, not 6) takes the one whose minimum is live +
// h. Before, the percentage was capped at 100 (the default's), which left
// stories260K's generation 2 MiB of headroom where the plan counts 4 and
// collected every 60 tokens: a collection every 60 of its 130 µs steps
// made its run 30% slower than its plan (tiny-cpu, 11:40 UTC 2026-12-07).
func gcPercent(live, h int64) int {
	pct := 100 * h / live
	if heapMinimum*h/live > live+h {
		pct = 100 * (live + h) / heapMinimum
	}
	return int(max(pct, 1))
}

// atMostLive bounds headroom by the live heap, as the collector's default
// does: the serving and training memory models count that (a server's
// passes and a training step's activations grow the live heap, and the
// goal with them).
func atMostLive(headroom func(live int64) int64) func(live int64) int64 {
	return func(live int64) int64 { return min(headroom(live), live) }
}

// prefaultHeap makes resident now the free heap pages that the next n
// bytes of allocation will take, and leaves them free. The Go heap hands
// out the lowest free pages first, and pages it has not used before, or
// has given back, are not resident: the first write to each 4 KiB of them
// is a page fault. A decode step leaves 20-30 KB of garbage (Gorgonia's
// tape machine's own bookkeeping, see engine.TestDecodeStepGarbage), so
// until the heap has grown by the collector's headroom once and been
// collected, every step faulted about six pages in. On this project's
// 2-vCPU VM a fault costs 10-15 us, and a run of 255 tokens of the 15M
// shape, which ends within two collections, took 1,000 of them in its
// decode loop: 6-12% of its time, where the plan's calibration, timing
// steps on a heap it had already collected, took none. Allocating n bytes
// in heap pages of their own takes those lowest free pages in the order a
// step's allocations would; populating them makes them resident in one
// system call each run of adjacent pages, and a write to each makes it
// ready for the process (pages.Populate); the collection then frees them
// without giving them back (the heap stays within its goal). The run's
// peak is unchanged: its heap grows to live + n before each collection
// anyway, and the plan counts that (cost.DecodeHeapHeadroom).
func prefaultHeap(n int64) {
	const page = 8 << 10 // the Go heap's page: an object of this size has a span of its own
	bufs := make([][]byte, 0, n/page+1)
	for got := int64(0); got < n; got += page {
		bufs = append(bufs, make([]byte, page))
	}
	for i := 0; i < len(bufs); {
		// Each run of adjacent pages in one call.
		start := uintptr(unsafe.Pointer(unsafe.SliceData(bufs[i])))
		j, end := i+1, start+page
		for j < len(bufs) && uintptr(unsafe.Pointer(unsafe.SliceData(bufs[j]))) == end {
			j, end = j+1, end+page
		}
		pages.Populate(start, end-start)
		// And written from here, without which the decode's first
		// write to each page still paid 2-7.5 µs on this project's VM
		// (pages.Populate). Stories260K's 200 tokens reach those pages
		// after about 130 steps, and its steps from there ran 20-40%
		// slower than a second generation's in the same process.
		for _, b := range bufs[i:j] {
			pages.Touch(b)
		}
		i = j
	}
	clear(bufs)
	goruntime.GC()
}
