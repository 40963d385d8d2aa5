package runtime

import (
	"runtime/debug"
	"syscall"
	"testing"
)

// minorFaults returns the process's minor page faults so far.
func minorFaults(t *testing.T) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Minflt
}

// TestPrefaultHeap checks that the heap's next allocations after
// prefaultHeap land on resident pages: 2 MiB of small objects, kept (the
// collector is off), fault 230-300 pages in on a heap whose free pages
// were given back, and 6-80 after prefaultHeap(4 MiB) on the same heap
// (20 runs: the runtime's own records of the new spans, which
// prefaultHeap does not reach, and whatever else the process touches).
func TestPrefaultHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var keep [][]byte
	allocate := func() int64 {
		keep = keep[:0]
		before := minorFaults(t)
		for range (2 << 20) / 512 {
			keep = append(keep, make([]byte, 512))
		}
		return minorFaults(t) - before
	}
	keep = make([][]byte, 0, (2<<20)/512)
	debug.FreeOSMemory()
	cold := allocate()
	keep = keep[:0]
	debug.FreeOSMemory()
	prefaultHeap(4 << 20)
	debug.SetGCPercent(-1) // prefaultHeap's collection does not turn it back on; make sure
	warm := allocate()
	t.Logf("2 MiB of 512-byte objects: %d faults on given-back pages, %d after prefaultHeap", cold, warm)
	if cold < 128 {
		t.Fatalf("only %d faults allocating 2 MiB on a heap that gave its free pages back: the measure does not see them", cold)
	}
	if warm > cold/3 {
		t.Errorf("%d faults allocating 2 MiB after prefaultHeap(4 MiB), %d without", warm, cold)
	}
}
