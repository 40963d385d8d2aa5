package runtime

import (
	"os"
	goruntime "runtime"
	"runtime/debug"
)

// boundHeap narrows the Go heap's growth once a model is loaded to
// headroom(live) beyond its live size (cost.DecodeHeapHeadroom for
// generation and serving, cost.HeapHeadroom for training), and returns
// the function that restores the collector's setting. Under the
// default (GOGC=100) the heap may grow to twice its live size between
// collections, and a loaded model's quantised weights and KV cache are
// most of that live size: a decode loop's small per-token garbage would
// pile up to the size of the model before anything is collected. The
// collector's percentage is set so that the heap grows by headroom of
// its live size (the planner predicts the same); as
// a percentage, the goal follows the live heap if it grows, where a fixed
// memory limit would make the collector run without pause once the live
// heap reached it. The weights hold no pointers, so each collection costs
// little. A GOGC or GOMEMLIMIT set by the user wins.
func boundHeap(headroom func(live int64) int64) (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	live := max(int64(ms.HeapAlloc), 1)
	pct := max(min(int(100*headroom(live)/live), 100), 1)
	// Before the bound, under which allocating the headroom would start a
	// collection.
	prefaultHeap(live * int64(pct) / 100)
	prev := debug.SetGCPercent(pct)
	return func() { debug.SetGCPercent(prev) }
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
// system call each run of adjacent pages (one fault each where the system
// cannot); the collection then frees them without giving them back (the
// heap stays within its goal). The run's peak is unchanged: its heap grows
// to live + n before each collection anyway, and the plan counts that
// (cost.DecodeHeapHeadroom).
func prefaultHeap(n int64) {
	const page = 8 << 10 // the Go heap's page: an object of this size has a span of its own
	bufs := make([][]byte, 0, n/page+1)
	for got := int64(0); got < n; got += page {
		bufs = append(bufs, make([]byte, page))
	}
	populate(bufs, page)
	clear(bufs)
	goruntime.GC()
}

// touch4K writes zero to one byte in every 4 KiB of each of bufs, which
// hold zeros: each page is faulted in as by its first write.
func touch4K(bufs [][]byte) {
	for _, b := range bufs {
		for i := 0; i < len(b); i += 4 << 10 {
			b[i] = 0
		}
	}
}
