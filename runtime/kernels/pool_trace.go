//go:build pooltrace

package kernels

import (
	"runtime"
	"sync/atomic"
)

const traceOn = true

// gcCount counts the collector's cycles, by a finalizer that re-arms
// itself: cheap enough to read on every product.
var gcCount atomic.Uint32

type gcSentinel struct{ _ [16]byte }

func armGC() {
	runtime.SetFinalizer(&gcSentinel{}, func(*gcSentinel) { gcCount.Add(1); armGC() })
}

func init() { armGC() }

func gcCycles() uint32 { return gcCount.Load() }
