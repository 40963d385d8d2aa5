package runtime

import (
	"os"
	goruntime "runtime"
	"runtime/debug"

	"github.com/modelwhisperer/whisperc/planner/cost"
)

// boundHeap caps the Go heap once a model is loaded, and returns the
// function that lifts the cap. Under the collector's default (GOGC=100)
// the heap may grow to twice its live size between collections, and a
// loaded model's quantised weights and KV cache are most of that live
// size: a decode loop's small per-token garbage would then be allowed to
// pile up to the size of the model before anything is collected. The cap
// is a soft memory limit of what the process holds now plus
// cost.HeapHeadroom of its live heap (the planner predicts the same), so
// the collector runs when the garbage reaches the headroom instead; the
// weights hold no pointers, so each collection costs little. A GOMEMLIMIT
// set by the user wins.
func boundHeap() (lift func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	held := int64(ms.Sys - ms.HeapReleased)
	prev := debug.SetMemoryLimit(held + cost.HeapHeadroom(int64(ms.HeapAlloc)))
	return func() { debug.SetMemoryLimit(prev) }
}
