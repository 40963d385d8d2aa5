package kernels

import (
	"runtime"
	"sync"
)

// Pool is a fixed set of worker goroutines that products share their rows
// with, so that a parallel product costs a channel hand-off per worker
// instead of starting goroutines on every call (a decode step makes a
// hundred or more products). Set it in Exec.Pool; an Exec without one
// starts goroutines per call. A Pool may be shared by several Execs and
// used from several goroutines; its workers exit when it is garbage
// collected.
type Pool struct {
	jobs []chan poolJob // one per worker
}

type poolJob struct {
	fn     func(lo, hi int)
	lo, hi int
	wg     *sync.WaitGroup
}

// NewPool starts a pool for products split threads ways: the calling
// goroutine does one share and threads-1 workers the others.
func NewPool(threads int) *Pool {
	p := &Pool{}
	for range max(threads-1, 0) {
		ch := make(chan poolJob, 1)
		p.jobs = append(p.jobs, ch)
		go func() {
			for j := range ch {
				j.fn(j.lo, j.hi)
				j.wg.Done()
			}
		}()
	}
	runtime.AddCleanup(p, func(jobs []chan poolJob) {
		for _, ch := range jobs {
			close(ch)
		}
	}, p.jobs)
	return p
}

// Threads returns how many ways the pool splits a product.
func (p *Pool) Threads() int { return len(p.jobs) + 1 }

// run calls fn on the ranges [bounds[i], bounds[i+1]), the first on the
// calling goroutine and the others on workers, and waits for all.
func (p *Pool) run(fn func(lo, hi int), bounds []int) {
	var wg sync.WaitGroup
	n := len(bounds) - 1
	wg.Add(n - 1)
	for i := 1; i < n; i++ {
		p.jobs[(i-1)%len(p.jobs)] <- poolJob{fn: fn, lo: bounds[i], hi: bounds[i+1], wg: &wg}
	}
	fn(bounds[0], bounds[1])
	wg.Wait()
	runtime.KeepAlive(p)
}
