package runtime

import (
	rtmetrics "runtime/metrics"
	"testing"
)

// TestGCPercent checks that the collector's goal under gcPercent is the
// live heap plus the headroom asked for, where the runtime's minimum heap
// decides the goal (a live heap of a few MiB) and where the percentage
// does, reading the goal the runtime reports.
func TestGCPercent(t *testing.T) {
	for _, c := range []struct{ live, h int64 }{
		{2 << 20, 4 << 20},   // stories260K's generation: the minimum decides
		{3 << 20, 3 << 20},   // a capped headroom (atMostLive)
		{96 << 20, 6 << 20},  // a sixteenth of a larger heap
		{1 << 20, 16 << 20},  // far below the minimum
		{64 << 20, 64 << 20}, // the default's doubling
	} {
		pct := gcPercent(c.live, c.h)
		goal := goalAt(c.live, pct)
		if d := goal - (c.live + c.h); d < -(c.live+c.h)/100 || d > (c.live+c.h)/100 {
			t.Errorf("live %d MiB, headroom %d MiB: percentage %d gives a goal of %.2f MiB, want %d MiB", c.live>>20, c.h>>20, pct, float64(goal)/(1<<20), (c.live+c.h)>>20)
		}
	}
}

// goalAt returns the collector's goal, as Go 1.26 computes it, for a
// heap of live bytes marked under percentage pct: the larger of
// live × (1 + pct/100) and the minimum heap scaled by pct.
func goalAt(live int64, pct int) int64 {
	return max(live+live*int64(pct)/100, heapMinimum*int64(pct)/100)
}

// TestBoundHeapGoal checks boundHeap against the goal the Go runtime
// itself reports (runtime/metrics): after it the heap's goal is the
// headroom asked for beyond its live size, within the 1% of the
// percentage's rounding.
func TestBoundHeapGoal(t *testing.T) {
	sample := []rtmetrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/gc/heap/live:bytes"}}
	for _, h := range []int64{4 << 20, 12 << 20} {
		var live int64
		restore := boundHeap(func(l int64) int64 { live = l; return h })
		rtmetrics.Read(sample)
		restore()
		goal := int64(sample[0].Value.Uint64())
		want := live + h
		if d := goal - want; d < -want/50 || d > want/50 {
			t.Errorf("headroom %d MiB over a live heap of %.1f MiB: the runtime's goal is %.2f MiB, want %.2f", h>>20, float64(live)/(1<<20), float64(goal)/(1<<20), float64(want)/(1<<20))
		}
	}
}

// TestBoundHeapTrigger checks that under a generation's bound the heap
// grows by the headroom before a collection starts, which is what the
// plan counts and what a generation's decode steps need to run
// uncollected: 90% of it in small objects, dropped as a decode step's
// garbage is, starts no cycle. With the goal at live + headroom
// (boundHeap's), the pacer started one after about 70% (runway).
func TestBoundHeapTrigger(t *testing.T) {
	sample := []rtmetrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	const h = 8 << 20
	restore := bound(func(int64) int64 { return h }, runway)
	defer restore()
	rtmetrics.Read(sample)
	before := sample[0].Value.Uint64()
	for range h * 9 / 10 / 256 {
		sink = make([]byte, 256)
	}
	rtmetrics.Read(sample)
	if n := sample[0].Value.Uint64() - before; n != 0 {
		t.Errorf("%d collections while the heap grew by 90%% of its %d MiB headroom", n, h>>20)
	}
}

// sink keeps the compiler from dropping TestBoundHeapTrigger's
// allocations.
var sink []byte
