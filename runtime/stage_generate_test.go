package runtime

import "testing"

// TestReserveRows pins what a generation's engine is built for: the
// prompt's prefill, capped by the cache, and one row for a prompt of BOS
// alone when there is a cache to touch (a generation from BOS otherwise
// faulted the cache's pages in during its decode steps).
func TestReserveRows(t *testing.T) {
	for _, c := range []struct {
		prompt, context, maxSeq int
		kv                      bool
		want                    int
	}{
		{prompt: 1, context: 201, maxSeq: 256, kv: true, want: 1},
		{prompt: 1, context: 0, maxSeq: 256, kv: true, want: 1},
		{prompt: 1, context: 201, maxSeq: 256, kv: false, want: 0},
		{prompt: 40, context: 201, maxSeq: 256, kv: true, want: 40},
		{prompt: 40, context: 0, maxSeq: 256, kv: false, want: 40},
		{prompt: 300, context: 201, maxSeq: 256, kv: true, want: 201},
		{prompt: 300, context: 0, maxSeq: 256, kv: true, want: 256},
		{prompt: 300, context: 999, maxSeq: 256, kv: true, want: 256},
	} {
		if got := reserveRows(c.prompt, c.context, c.maxSeq, c.kv); got != c.want {
			t.Errorf("reserveRows(prompt %d, context %d, maxSeq %d, cache %t) = %d, want %d", c.prompt, c.context, c.maxSeq, c.kv, got, c.want)
		}
	}
}
