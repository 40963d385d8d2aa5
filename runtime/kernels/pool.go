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
	// held counts the Hold calls not yet released: while it is above
	// zero, idle workers spin without parking.
	held atomic.Int32
	// aloneUntil is the clock (pool nanoseconds) until which products run
	// on the caller alone and holds are not honoured: set when a worker
	// was seen descheduled, because the machine has fewer free CPUs than
	// the pool has threads.
	aloneUntil atomic.Int64
	backoff    atomic.Int64 // the length of the last back-off
	lastStall  atomic.Int64 // the clock at the last sign of descheduling
	// Counts for Stats (products, joined, alone and stalls are written
	// under Pool.mu).
	products, joined, alone, stalls uint64
	slowWaits, missedTwice          uint64 // stalls by reason (Stats)
	missedWaking, woken             uint64
	misses                          int // products in a row a spinning worker missed
	parked, preempted, backOffs     atomic.Uint64
	backedOffBy                     [3]atomic.Uint64 // back-offs by the reason of their second sign
}

// The signs of descheduling, for PoolStats' counts by reason.
const (
	signSlowWait  = iota // the caller waited too long for a worker's share
	signMissed           // a spinning worker took no part in two products
	signPreempted        // a spinning worker found a gap between its polls
)

// epoch is the origin of the pool's clock.
var epoch = time.Now()

// nanos is the pool's monotonic clock.
func nanos() int64 { return int64(time.Since(epoch)) }

// stallWait is the longest a caller waits for a worker's share, or a
// holding worker goes between two of its polls, before the pool decides
// that its threads are being descheduled: a share of a decode product
// takes microseconds, an operating system's time slice milliseconds.
const stallWait = int64(100 * time.Microsecond)

// minBackoff and maxBackoff bound how long the pool then runs products on
// their callers alone and lets its workers park: on a machine busy with
// other work, a worker preempted in the middle of its share makes the
// caller wait for the rest of a time slice, and spinning workers take CPU
// time from the threads that do the work, so that two threads were up to
// four times slower than one. A stall soon after a back-off doubles the
// next one; a stall long after starts again at the shortest, so that an
// occasional preemption on a quiet machine costs little.
const (
	minBackoff = int64(2 * time.Millisecond)
	maxBackoff = int64(200 * time.Millisecond)
)

// stallWindow is how close two signs of descheduling must come for the
// pool to back off: on a busy machine they come every few products; on a
// quiet one, a thread is preempted now and then (a kernel thread, an
// interrupt), and backing off for each cost more than the stalls.
const stallWindow = int64(20 * time.Millisecond)

// stalled records a sign that the pool's threads are being descheduled,
// and backs off when the previous one was within stallWindow.
func (s *poolState) stalled(sign int) {
	now := nanos()
	if now-s.lastStall.Swap(now) < stallWindow {
		s.backOffs.Add(1)
		s.backedOffBy[sign].Add(1)
		s.backOff(now)
	}
}

// backOff starts a back-off.
func (s *poolState) backOff(now int64) {
	d := s.backoff.Load()
	if now-s.aloneUntil.Load() > 4*d {
		d = minBackoff
	} else {
		d = min(max(2*d, minBackoff), maxBackoff)
	}
	s.backoff.Store(d)
	s.aloneUntil.Store(now + d)
}

// holding reports whether idle workers should keep spinning.
func (s *poolState) holding() bool {
	return s.held.Load() > 0 && nanos() >= s.aloneUntil.Load()
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
	// waking is set when a product's signal woke the parked worker, and
	// cleared when the worker runs again (PoolStats.MissedWaking).
	waking atomic.Bool
	_      [64]byte
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
// spins for spinWait polls, and past them while sp (when not nil) says
// so, and then parks.
func (e *event) wait(last uint64, sp *spinner) uint64 {
	if sp != nil {
		sp.start = nanos()
		sp.last = sp.start
	}
	for i := 0; ; i++ {
		if s := e.seq.Load(); s != last {
			return s
		}
		if i&1023 == 1023 {
			if i >= spinWait {
				if sp == nil || !sp.keep() {
					break
				}
			} else if sp != nil && i+1024 >= spinWait {
				// keep measures the gaps between its own checks: the
				// first is timed from here, not from the wait's start,
				// which is the whole spin ago and no sign of a stall.
				sp.last = nanos()
			}
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
	sp := spinner{s: s}
	for {
		last = w.job.wait(last, &sp)
		w.waking.Store(false)
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

// spinner decides whether a worker waiting for its next product keeps
// spinning: while the pool is held, unless the worker finds that it was
// descheduled between two checks (then the pool backs off).
type spinner struct {
	s     *poolState
	start int64 // the clock when the wait began
	last  int64 // the clock at the previous check
}

// maxHeldSpin is the longest a held worker spins for one product: a hold
// covers a forward pass or a generation loop, whose products come
// microseconds apart; a longer gap (a writer blocked on its output) is
// not worth a CPU spinning.
const maxHeldSpin = int64(2 * time.Millisecond)

// keep is called every 1,024 polls past spinWait; it counts the parks.
func (sp *spinner) keep() bool {
	now := nanos()
	if now-sp.last > stallWait {
		sp.s.preempted.Add(1)
		sp.s.stalled(signPreempted)
	}
	sp.last = now
	if now-sp.start < maxHeldSpin && sp.s.holding() {
		return true
	}
	sp.s.parked.Add(1)
	return false
}

// share runs fn on ranges of the current product until none is left.
func (s *poolState) share() (ranges int) {
	for {
		lo := int(s.next.Add(1)-1) * s.chunk
		if lo >= s.rows {
			return ranges
		}
		s.fn(lo, min(lo+s.chunk, s.rows))
		ranges++
	}
}

// Hold keeps the workers spinning between products, never parking, until
// the matching Release: a forward pass holds its pool, so that the worker
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

// PoolStats counts a Pool's work since it started.
type PoolStats struct {
	// Products is the parallel products the pool ran, Alone those of them
	// it ran on the caller alone while backing off.
	Products, Alone uint64
	// Joined is the worker shares that took part in a product (a worker
	// that had not started when the caller finished every range is not
	// counted).
	Joined uint64
	// Stalls is the times a caller found a worker descheduled (it waited
	// longer than stallWait for the worker's share, or a spinning worker
	// took no part in two products in a row), Preempted the times a
	// spinning worker found it had been; two within stallWindow start a
	// back-off.
	Stalls, Preempted uint64
	// SlowWaits and MissedTwice split Stalls by its two reasons.
	SlowWaits, MissedTwice uint64
	// MissedWaking is the MissedTwice whose worker had parked and was
	// being woken by this product's signal (its futex wake-up was slower
	// than the caller's ranges: no sign of a busy machine), and Woken the
	// products that woke a parked worker.
	MissedWaking, Woken uint64
	// BackOffs is the back-offs started, and BackOffSlowWait,
	// BackOffMissed and BackOffPreempted split them by the sign that
	// started each (the second within stallWindow).
	BackOffs, BackOffSlowWait, BackOffMissed, BackOffPreempted uint64
	// Parked is the times a worker stopped spinning and parked.
	Parked uint64
}

// Stats returns the pool's counts; it waits for a product in progress.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.s
	return PoolStats{Products: s.products, Alone: s.alone, Joined: s.joined, Stalls: s.stalls,
		Preempted: s.preempted.Load(), Parked: s.parked.Load(),
		SlowWaits: s.slowWaits, MissedTwice: s.missedTwice, MissedWaking: s.missedWaking, Woken: s.woken, BackOffs: s.backOffs.Load(),
		BackOffSlowWait: s.backedOffBy[signSlowWait].Load(), BackOffMissed: s.backedOffBy[signMissed].Load(),
		BackOffPreempted: s.backedOffBy[signPreempted].Load()}
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
	if nanos() < s.aloneUntil.Load() {
		for lo := 0; lo < rows; lo += chunk {
			fn(lo, min(lo+chunk, rows))
		}
		s.products++
		s.alone++
		p.mu.Unlock()
		return
	}
	s.fn, s.rows, s.chunk = fn, rows, chunk
	s.next.Store(0)
	ws := s.workers[:min(helpers, len(s.workers))]
	for _, w := range ws {
		w.state.Store(workerSignalled)
		if w.job.signal() {
			w.waking.Store(true)
			s.woken++
		}
	}
	t0 := nanos()
	n := s.share()
	// A worker may be in the middle of its last range when the caller
	// finishes: a wait longer than two of the caller's ranges (a range
	// of a large classifier takes a few hundred microseconds) and
	// stallWait is a stall.
	limit := stallWait + 2*(nanos()-t0)/int64(max(n, 1))
	for _, w := range ws {
		// A worker that has not started (its thread busy or parked) is
		// not waited for: the caller has done its share.
		if !w.state.CompareAndSwap(workerSignalled, workerCancelled) {
			t := nanos()
			w.seen = w.done.wait(w.seen, nil)
			s.joined++
			s.misses = 0
			if nanos()-t > limit {
				s.stalls++
				s.slowWaits++
				s.stalled(signSlowWait)
			}
		} else if s.held.Load() > 0 && !w.job.sleeping.Load() && nanos()-t0 > stallWait {
			// The worker spins for products (it has not parked) but
			// took none of this one's ranges in all the time the caller
			// spent on them, which is longer than a spinning thread
			// takes to notice: its thread is not running. Twice in a
			// row is a stall. (A product of a few microseconds is often
			// done before a running worker's next poll: no sign.)
			if s.misses++; s.misses >= 2 {
				s.misses = 0
				s.stalls++
				s.missedTwice++
				if w.waking.Load() {
					s.missedWaking++
				}
				s.stalled(signMissed)
			}
		}
	}
	s.products++
	s.fn = nil
	p.mu.Unlock()
	runtime.KeepAlive(p)
}
