package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Pool is a fixed set of worker goroutines that products share their rows
// with, so that a parallel product costs a hand-off per worker instead of
// starting goroutines on every call (a decode step makes a hundred or more
// products). A worker that has just finished spins for a while before it
// parks, and so does the caller waiting for it: between the products of a
// decode step (tens of microseconds of attention, norms and activations)
// neither pays a futex wake-up, which costs as much as a small product.
// Set it in Exec.Pool; an Exec without one starts goroutines per call. A
// Pool may be shared by several Execs and used from several goroutines
// (a product that finds it busy runs on the calling goroutine alone); its
// workers exit when it is garbage collected.
type Pool struct {
	mu sync.Mutex // held by the product the workers serve
	s  *poolState
}

// poolState is what the workers share with the caller; it does not refer
// to the Pool, so that the Pool can be collected and its cleanup stop them.
type poolState struct {
	workers []*worker
	// The product being served: fn on the ranges [i·chunk, (i+1)·chunk)
	// of [0, rows), taken in turn through next by the caller and the
	// workers.
	fn          func(lo, hi int)
	rows, chunk int
	next        atomic.Int64
	stop        atomic.Bool
}

// worker is one of a Pool's goroutines: job signals it a product, done
// signals the caller that it has finished its share.
type worker struct {
	// state is idle, signalled (a product is offered), running (the
	// worker took it) or cancelled (the caller finished the product
	// before the worker took it, and does not wait for it).
	state atomic.Int32
	job   event
	_     [64]byte // job and done on cache lines of their own
	done  event
	seen  uint64 // the caller's last value of done
	_     [64]byte
}

const (
	workerIdle int32 = iota
	workerSignalled
	workerRunning
	workerCancelled
)

// spinWait is how many polls of an event a waiter makes before it parks:
// about 30-60 µs, longer than the gaps between a decode step's products
// and far shorter than a token.
const spinWait = 1 << 15

// event is a counter that one goroutine advances and one other waits on,
// spinning for spinWait polls and then parking on a channel.
type event struct {
	seq      atomic.Uint64
	sleeping atomic.Bool
	wake     chan struct{}
}

func newEvent() event { return event{wake: make(chan struct{}, 1)} }

// signal advances the counter and wakes the waiter if it parked.
func (e *event) signal() {
	e.seq.Add(1)
	if e.sleeping.CompareAndSwap(true, false) {
		e.wake <- struct{}{}
	}
}

// wait returns once the counter differs from last, and its value.
func (e *event) wait(last uint64) uint64 {
	for i := 0; i < spinWait; i++ {
		if s := e.seq.Load(); s != last {
			return s
		}
		if i&1023 == 1023 {
			runtime.Gosched()
		}
	}
	e.sleeping.Store(true)
	if s := e.seq.Load(); s != last && e.sleeping.CompareAndSwap(true, false) {
		return s // signalled between the last poll and sleeping
	}
	<-e.wake // signal saw sleeping and sends
	return e.seq.Load()
}

// NewPool starts a pool for products split threads ways: the calling
// goroutine does one share and threads-1 workers the others.
func NewPool(threads int) *Pool {
	s := &poolState{}
	for range max(threads-1, 0) {
		w := &worker{job: newEvent(), done: newEvent()}
		s.workers = append(s.workers, w)
		go w.loop(s)
	}
	p := &Pool{s: s}
	runtime.AddCleanup(p, func(s *poolState) {
		s.stop.Store(true)
		for _, w := range s.workers {
			w.job.signal()
		}
	}, s)
	return p
}

// loop serves products until the pool is stopped.
func (w *worker) loop(s *poolState) {
	var last uint64
	for {
		last = w.job.wait(last)
		if s.stop.Load() {
			return
		}
		if w.state.CompareAndSwap(workerSignalled, workerRunning) {
			s.share()
			w.state.Store(workerIdle)
			w.done.signal()
		}
	}
}

// share runs fn on ranges of the current product until none is left.
func (s *poolState) share() {
	for {
		lo := int(s.next.Add(1)-1) * s.chunk
		if lo >= s.rows {
			return
		}
		s.fn(lo, min(lo+s.chunk, s.rows))
	}
}

// Threads returns how many ways the pool splits a product.
func (p *Pool) Threads() int { return len(p.s.workers) + 1 }

// run calls fn on the ranges [i·chunk, (i+1)·chunk) that cover [0, rows),
// taken in turn by the calling goroutine and up to helpers workers, and
// waits for the workers that took part. A pool busy with another goroutine's product leaves fn
// to the caller alone.
func (p *Pool) run(fn func(lo, hi int), rows, chunk, helpers int) {
	if !p.mu.TryLock() {
		for lo := 0; lo < rows; lo += chunk {
			fn(lo, min(lo+chunk, rows))
		}
		return
	}
	s := p.s
	s.fn, s.rows, s.chunk = fn, rows, chunk
	s.next.Store(0)
	ws := s.workers[:min(helpers, len(s.workers))]
	for _, w := range ws {
		w.state.Store(workerSignalled)
		w.job.signal()
	}
	s.share()
	for _, w := range ws {
		// A worker that has not started (its thread busy or parked) is
		// not waited for: the caller has done its share.
		if !w.state.CompareAndSwap(workerSignalled, workerCancelled) {
			w.seen = w.done.wait(w.seen)
		}
	}
	s.fn = nil
	p.mu.Unlock()
	runtime.KeepAlive(p)
}
