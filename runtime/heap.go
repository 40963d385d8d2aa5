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
	pct := min(int(100*headroom(live)/live), 100)
	prev := debug.SetGCPercent(max(pct, 1))
	return func() { debug.SetGCPercent(prev) }
}
