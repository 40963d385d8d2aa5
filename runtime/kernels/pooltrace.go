package kernels

import (
	"fmt"
	"io"
)

// traceRec is one shared product, as a pooltrace build records it (times
// in ns of the pool's clock).
type traceRec struct {
	sig, wstart, cdone, end int64 // caller signals; worker starts; caller's own range done; product done
	rows, chunk             int
	taken, callerParked     bool   // the caller ran the worker's range; the caller parked waiting for it
	gcs                     uint32 // collector cycles finished before the product
	// The worker's wait before it started: its last spin checkpoint (every
	// 1024 polls), the longest gap between two checkpoints, its polls,
	// and whether it was inside runtime.Gosched when signalled.
	lastCk, maxGap, polls int64
	inGosched             bool
}

// traceBuf is the products traced since ResetPoolTrace (one pool at a
// time; written under the pool's lock).
var traceBuf []traceRec

// ResetPoolTrace drops what a pooltrace build recorded so far.
func ResetPoolTrace() { traceBuf = traceBuf[:0] }

// WritePoolTrace writes one line per product that a pooltrace build
// recorded since ResetPoolTrace (nothing without the tag): when the
// caller signalled it, how long the worker took to start its range (-1:
// it did not, the caller took it), the caller's own range, the whole
// product, its rows and range, and what the worker's wait looked like.
// runtime/bench/pooltrace.py summarises it.
func WritePoolTrace(w io.Writer) {
	fmt.Fprintln(w, "# epoch_unix_ns", epoch.UnixNano())
	fmt.Fprintln(w, "sig_ns react_ns own_ns end_ns rows chunk taken gcs ck_before_start_ns max_gap_ns polls gosched caller_parked")
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	for _, r := range traceBuf {
		react, ck := int64(-1), int64(-1)
		if r.wstart > 0 {
			react = r.wstart - r.sig
			if r.lastCk > 0 {
				ck = r.wstart - r.lastCk
			}
		}
		fmt.Fprintln(w, r.sig, react, r.cdone-r.sig, r.end-r.sig, r.rows, r.chunk, b(r.taken), r.gcs, ck, r.maxGap, r.polls, b(r.inGosched), b(r.callerParked))
	}
}
