package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pool is a fixed set of worker goroutines that products share their rows
// with, so that a parallel product costs a hand-off per worker instead of
// starting goroutines on every call (a decode step makes a hundred or more
// products). A worker that has just finished spins for a while before it
// parks, and so does the caller waiting for it: between the products of a
// decode step (tens of microseconds of attention, norms and activations)
// neither pays a futex wake-up, which costs as much as a small product.
//
// What a pool does with a product depends on the product alone, never on
// timing: Exec.parallelRows decides from its size whether it is shared,
// and splits its rows in a fixed way, one contiguous range per thread,
// the caller taking the first and worker i the (i+1)-th. A worker so
// keeps the same rows of a weight from one decode step to the next (its
// own cache and prefetch stream), and a run and the planner's calibration
// of it do the same work the same way. The one departure is explicit and
// counted (PoolStats.Taken): a worker that has not started its range when
// the caller has finished its own (its thread parked, or busy with other
// work on a loaded machine) gets none, and the caller runs that range
// too; on a held pool (Hold) on a quiet machine this does not happen.
//
// Set it in Exec.Pool; an Exec without one starts goroutines per call. A
// Pool may be shared by several Execs and used from several goroutines
// (a product that finds it busy runs on the calling goroutine alone,
// counted in PoolStats.Alone); its workers exit when it is garbage
// collected.
type Pool struct {
	mu sync.Mutex // held by the product the workers serve
	s  *poolState
}

// poolState is what the workers share with the caller; it does not refer
// to the Pool, so that the Pool can be collected and its cleanup stop them.
type poolState struct {
	workers []*worker
	// The product being served: fn on the ranges [i·chunk, (i+1)·chunk)
	// of [0, rows), range 0 the caller's and range i+1 worker i's.
	fn          func(lo, hi int)
	rows, chunk int
	stop        atomic.Bool
	// held counts the Hold calls not yet released: while it is above
	// zero, idle workers spin without parking.
	held atomic.Int32
	// Counts for Stats (products, joined, taken, alone and woken are
	// written under Pool.mu, or by the caller that found it busy).
	products, joined, taken, woken uint64
	callerParked                   uint64
	alone                          atomic.Uint64
	parked                         atomic.Uint64
	// callerCPU is the CPU the caller's thread last ran on, as it last
	// looked (-1: not known).
	callerCPU atomic.Int32
	// keepCaller keeps a caller that waits for a worker's range spinning
	// while the pool is held (see run).
	keepCaller func(start int64) bool
}

// worker is one of a Pool's goroutines: job signals it a product, done
// signals the caller that it has finished its share.
type worker struct {
	// state is idle, signalled (a product is offered), running (the
	// worker took it) or cancelled (the caller, done with its own range
	// before the worker took this one, ran it too and does not wait).
	state atomic.Int32
	job   event
	_     [64]byte // job and done on cache lines of their own
	done  event
	seen  uint64 // the caller's last value of done
	lo    int    // the first row of its range: (its index+1)·chunk
	_     [64]byte
	// cpu is the CPU its thread last ran on, as it last looked while
	// waiting for a product (-1: not known); on a line of its own, away
	// from what the caller writes.
	cpu atomic.Int32
	// Trace only (traceOn): when it started its range, and its wait's
	// last checkpoint, longest gap and polls.
	tstart, tck, tgap, tpolls int64
	_                         [64]byte
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

// A spinning waiter (a worker waiting for a product, or the caller
// waiting for a worker's range) gives its thread's CPU away (osYield,
// sched_yield on Linux) when the thread it waits for last ran on the
// same CPU (currentCPU, checked every 1024 polls, where it also lets
// this process's other goroutines run), or every osYieldPolls+1 polls
// where the CPU cannot be told. The OS runs the caller's and a worker's
// threads on one CPU while a third thread holds the other of two (and
// then often longer: it does not move a cache-hot running thread to a
// CPU that comes free); a waiter that only spins then takes from the
// thread doing the work half of every time slice. A held pool on one
// CPU took 1.9 times a single thread's CPU time (TestPoolOnOneCPU); a
// decode at two threads made 0.47 of its one-thread tokens/s
// (runtime/bench/threads.sh with TASKSET=1, 15M Q8_0 and 42M Q8_0), and
// rounds of decode steps on the 2-vCPU VM differed up to twofold. A
// yield costs about 0.6 µs on that VM when nothing else is runnable, as
// long as 1024 polls, so where it cannot tell it yields once in 8192
// polls (a signal that arrives during one is seen 0.6 µs late).
const osYieldPolls = 1<<13 - 1

// event is a counter that one goroutine advances and one other waits on,
// spinning for spinWait polls and then parking on a channel.
type event struct {
	seq      atomic.Uint64
	sleeping atomic.Bool
	wake     chan struct{}
	// Trace only (traceOn): the last spin checkpoint, the longest gap
	// between two checkpoints of the current wait, its polls, and whether
	// it is inside runtime.Gosched.
	ck, maxGap, polls, parks atomic.Int64
	inGosched                atomic.Bool
}

func newEvent() event { return event{wake: make(chan struct{}, 1)} }

// signal advances the counter and wakes the waiter if it parked, and
// reports whether it did.
func (e *event) signal() (woke bool) {
	e.seq.Add(1)
	if e.sleeping.CompareAndSwap(true, false) {
		e.wake <- struct{}{}
		return true
	}
	return false
}

// wait returns once the counter differs from last, and its value. It
// spins for spinWait polls, and past them while keep (when not nil) says
// so, and then parks. While it spins it keeps the CPU it runs on in me,
// and yields that CPU when the thread it waits for last ran there (peer;
// see osYieldPolls).
func (e *event) wait(last uint64, keep func(start int64) bool, me, peer *atomic.Int32) uint64 {
	var start, prev int64
	if traceOn {
		prev = nanos()
		e.maxGap.Store(0)
		e.ck.Store(prev)
	}
	for i := 0; ; i++ {
		if s := e.seq.Load(); s != last {
			if traceOn {
				e.polls.Store(int64(i))
			}
			return s
		}
		if i&1023 == 1023 {
			if traceOn {
				now := nanos()
				if now-prev > e.maxGap.Load() {
					e.maxGap.Store(now - prev)
				}
				prev = now
				e.ck.Store(now)
			}
			if i >= spinWait {
				if keep == nil {
					break
				}
				if start == 0 {
					start = nanos()
				}
				if !keep(start) {
					break
				}
			}
			if traceOn {
				e.inGosched.Store(true)
			}
			// The thread this one waits for may be waiting for this
			// one's CPU: give it up (osYieldPolls).
			if c := currentCPU(); c >= 0 {
				if me.Load() != c {
					me.Store(c) // only when it moved: others read its line
				}
				if c == peer.Load() {
					osYield()
				}
			} else if i&osYieldPolls == osYieldPolls {
				osYield()
			}
			runtime.Gosched()
			if traceOn {
				e.inGosched.Store(false)
			}
		}
	}
	if traceOn {
		e.parks.Add(1)
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
	initCPUSource()
	s := &poolState{}
	s.callerCPU.Store(-1)
	for range max(threads-1, 0) {
		w := &worker{job: newEvent(), done: newEvent()}
		w.cpu.Store(-1)
		s.workers = append(s.workers, w)
		go w.loop(s)
	}
	s.keepCaller = func(start int64) bool {
		if nanos()-start < maxHeldSpin && s.held.Load() > 0 {
			return true
		}
		s.callerParked++ // the caller holds Pool.mu
		return false
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
	keep := func(start int64) bool {
		if nanos()-start < maxHeldSpin && s.held.Load() > 0 {
			return true
		}
		s.parked.Add(1)
		return false
	}
	for {
		last = w.job.wait(last, keep, &w.cpu, &s.callerCPU)
		if s.stop.Load() {
			return
		}
		if w.state.CompareAndSwap(workerSignalled, workerRunning) {
			if traceOn {
				w.tstart = nanos()
				w.tck, w.tgap, w.tpolls = w.job.ck.Load(), w.job.maxGap.Load(), w.job.polls.Load()
			}
			s.fn(w.lo, min(w.lo+s.chunk, s.rows))
			w.state.Store(workerIdle)
			w.done.signal()
		}
	}
}

// epoch is the origin of the pool's clock.
var epoch = time.Now()

// nanos is the pool's monotonic clock.
func nanos() int64 { return int64(time.Since(epoch)) }

// maxHeldSpin is the longest a held worker spins, past spinWait, for one
// product: a hold covers a forward pass or a generation loop, whose
// products come microseconds apart; a longer gap (a writer blocked on its
// output) is not worth a CPU spinning.
const maxHeldSpin = int64(2 * time.Millisecond)

// Hold keeps the workers spinning between products until the matching
// Release (parking only after maxHeldSpin without one): a forward pass holds its pool, so that the worker
// is awake when each product arrives however long the norms, attention
// and Gorgonia's bookkeeping between two products take (a parked worker
// costs a futex wake-up, tens of microseconds on a VM, as long as a
// product's share). Holds nest; the workers' spinning costs CPU time only
// while a hold lasts. A nil Pool ignores it.
func (p *Pool) Hold() {
	if p != nil {
		p.s.held.Add(1)
	}
}

// Release ends a Hold.
func (p *Pool) Release() {
	if p != nil {
		p.s.held.Add(-1)
	}
}

// Held reports whether a Hold is in force.
func (p *Pool) Held() bool { return p != nil && p.s.held.Load() > 0 }

// PoolStats counts a Pool's work since it started.
type PoolStats struct {
	// Products is the parallel products the pool shared with its
	// workers.
	Products uint64
	// Joined is the worker ranges their workers ran, Taken those the
	// caller ran because their worker had not started when it had
	// finished its own range (a parked worker still waking, or a thread
	// busy with other work).
	Joined, Taken uint64
	// Alone is the products that found the pool busy with another
	// goroutine's product and ran on their caller alone.
	Alone uint64
	// Woken is the products that had to wake a parked worker, Parked the
	// times a worker stopped spinning and parked.
	Woken, Parked uint64
	// CallerParked is the times a caller waiting for a worker's range
	// parked: on a pool not held, or a held one after maxHeldSpin.
	CallerParked uint64
}

// Stats returns the pool's counts; it waits for a product in progress.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.s
	return PoolStats{Products: s.products, Joined: s.joined, Taken: s.taken, Alone: s.alone.Load(),
		Woken: s.woken, Parked: s.parked.Load(), CallerParked: s.callerParked}
}

// Threads returns how many ways the pool splits a product.
func (p *Pool) Threads() int { return len(p.s.workers) + 1 }

// run calls fn on the ranges [i·chunk, (i+1)·chunk) that cover [0, rows),
// the first on the calling goroutine and range i+1 on worker i, and waits
// for the workers that took part; rows must be at most Threads()·chunk.
// A pool busy with another goroutine's product leaves fn to the caller
// alone.
func (p *Pool) run(fn func(lo, hi int), rows, chunk int) {
	if !p.mu.TryLock() {
		p.s.alone.Add(1)
		for lo := 0; lo < rows; lo += chunk {
			fn(lo, min(lo+chunk, rows))
		}
		return
	}
	s := p.s
	s.fn, s.rows, s.chunk = fn, rows, chunk
	ws := s.workers[:min((rows-1)/chunk, len(s.workers))]
	var rec traceRec
	if traceOn {
		rec = traceRec{rows: rows, chunk: chunk, gcs: gcCycles()}
		if len(ws) > 0 {
			ws[0].tstart = 0
			rec.inGosched = ws[0].job.inGosched.Load()
		}
		rec.sig = nanos()
	}
	if c := currentCPU(); c != s.callerCPU.Load() {
		s.callerCPU.Store(c)
	}
	for i, w := range ws {
		w.lo = (i + 1) * chunk
		w.state.Store(workerSignalled)
		if w.job.signal() {
			s.woken++
		}
	}
	fn(0, min(chunk, rows))
	if traceOn {
		rec.cdone = nanos()
	}
	for _, w := range ws {
		if w.state.CompareAndSwap(workerSignalled, workerCancelled) {
			if traceOn {
				rec.taken = true
			}
			// Its worker has not started: the caller, done with its
			// own range, runs this one rather than wait for a thread
			// that is parked or not running.
			s.taken++
			fn(w.lo, min(w.lo+chunk, rows))
			continue
		}
		// The worker is running its range: on a held pool the caller
		// spins for it as the workers spin for products (at most
		// maxHeldSpin), rather than park after spinWait polls. A range of
		// a large product (110M's classifier: about 0.4 ms) may end tens of
		// microseconds after the caller's own; a parked caller then costs
		// a thread wake-up, and its goroutine comes back on the worker's
		// P while the worker's goroutine waits for another.
		if traceOn {
			p0 := w.done.parks.Load()
			w.seen = w.done.wait(w.seen, s.keepCaller, &s.callerCPU, &w.cpu)
			rec.callerParked = w.done.parks.Load() != p0
		} else {
			w.seen = w.done.wait(w.seen, s.keepCaller, &s.callerCPU, &w.cpu)
		}
		s.joined++
	}
	for hi := (len(ws) + 1) * chunk; hi < rows; hi += chunk {
		fn(hi, min(hi+chunk, rows)) // more ranges than threads: a caller's error, still covered
	}
	s.products++
	if traceOn {
		rec.end = nanos()
		if len(ws) > 0 && !rec.taken {
			rec.wstart, rec.lastCk, rec.maxGap, rec.polls = ws[0].tstart, ws[0].tck, ws[0].tgap, ws[0].tpolls
		}
		traceBuf = append(traceBuf, rec)
	}
	s.fn = nil
	p.mu.Unlock()
	runtime.KeepAlive(p)
}
