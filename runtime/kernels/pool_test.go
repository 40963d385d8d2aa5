package kernels

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// TestPoolMatchesGoroutines checks that products run on a Pool give the
// same bits as with goroutines per call (the row split is the same), for
// fp32, quantised and batched products.
func TestPoolMatchesGoroutines(t *testing.T) {
	pool := NewPool(3)
	for _, sz := range [][2]int{{512, 512}, {37, 768}, {2048, 256}} {
		rows, cols := sz[0], sz[1]
		w := randVec(1, rows*cols, 0.05)
		x := randVec(2, 3*cols, 1)
		q, err := Quantize(w, rows, cols, NF4)
		if err != nil {
			t.Fatal(err)
		}
		for _, threads := range []int{2, 3, 5} {
			plain, pooled := Exec{Threads: threads}, Exec{Threads: threads, Pool: pool}
			for _, f := range []struct {
				name string
				n    int
				run  func(e Exec, out []float32) error
			}{
				{"MatVec", 1, func(e Exec, out []float32) error { return e.MatVec(out, w, x[:cols], rows, cols) }},
				{"MatMul", 3, func(e Exec, out []float32) error { return e.MatMul(out, x, w, 3, rows, cols) }},
				{"QMatVec", 1, func(e Exec, out []float32) error { return e.QMatVec(out, q, x[:cols]) }},
				{"QMatMul", 3, func(e Exec, out []float32) error { return e.QMatMul(out, x, q, 3) }},
			} {
				a, b := make([]float32, f.n*rows), make([]float32, f.n*rows)
				if err := f.run(plain, a); err != nil {
					t.Fatal(err)
				}
				if err := f.run(pooled, b); err != nil {
					t.Fatal(err)
				}
				for i := range a {
					if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
						t.Fatalf("%s %dx%d, %d threads: element %d = %v on the pool, %v with goroutines", f.name, rows, cols, threads, i, b[i], a[i])
					}
				}
			}
		}
	}
}

// BenchmarkPoolMatVec compares two-thread products on a Pool with
// goroutines started per call, at the 42M and 110M models' shapes.
func BenchmarkPoolMatVec(b *testing.B) {
	pool := NewPool(2)
	for _, sz := range [][2]int{{512, 512}, {1376, 512}, {768, 768}, {2048, 768}} {
		rows, cols := sz[0], sz[1]
		w := randVec(1, rows*cols, 0.05)
		x := randVec(2, cols, 1)
		out := make([]float32, rows)
		for _, c := range []struct {
			name string
			e    Exec
		}{{"1thread", Exec{}}, {"2goroutines", Exec{Threads: 2}}, {"2pool", Exec{Threads: 2, Pool: pool}}} {
			b.Run(fmt.Sprintf("%dx%d/%s", rows, cols, c.name), func(b *testing.B) {
				for b.Loop() {
					c.e.MatVec(out, w, x, rows, cols)
				}
			})
		}
	}
}

// BenchmarkPoolHandoff times a parallel product that does almost nothing,
// so that the time per call is the cost of handing a share to the worker
// and waiting for it.
func BenchmarkPoolHandoff(b *testing.B) {
	pool := NewPool(2)
	var sink [64]float32
	e := Exec{Threads: 2, Pool: pool}
	for b.Loop() {
		e.parallelRows(64, 1, 1<<20, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				sink[i]++
			}
		})
	}
}

// TestPoolRanges checks that a pooled product is cut into one aligned
// contiguous range per thread that cover its rows once, the same ranges
// on every call, and runs a product too small to split whole.
func TestPoolRanges(t *testing.T) {
	for _, threads := range []int{2, 3} {
		pool := NewPool(threads)
		e := Exec{Threads: threads + 1, Pool: pool} // capped at the pool's threads
		for _, c := range []struct{ rows, align, rowWork, want2, want3 int }{
			{768, 1, 384, 2, 3},  // 110M's 768×768 Q4_0 product
			{2048, 4, 768, 2, 3}, // an fp32 feed-forward product
			{768, 1, 16, 1, 1},   // under 2·minWorkPerPoolThread: not split
			{768, 1, 50, 2, 2},   // work for 2 threads only
			{12, 1, 1 << 16, 2, 3},
			{1000, 32, 1 << 10, 2, 3},
			{100, 32, 1 << 16, 2, 2}, // ranges of 64 (2 threads) or 64 rounded from 34: 2
			{40, 32, 1 << 16, 2, 2},  // 32 + 8
		} {
			want := c.want2
			if threads == 3 {
				want = c.want3
			}
			var first [][2]int
			for call := range 3 {
				var mu sync.Mutex
				seen := make([]int, c.rows)
				var ranges [][2]int
				e.parallelRows(c.rows, c.align, c.rowWork, func(lo, hi int) {
					mu.Lock()
					defer mu.Unlock()
					ranges = append(ranges, [2]int{lo, hi})
					if lo%c.align != 0 {
						t.Errorf("%+v: range starts at %d", c, lo)
					}
					for i := lo; i < hi; i++ {
						seen[i]++
					}
				})
				for i, n := range seen {
					if n != 1 {
						t.Fatalf("%d threads, %+v: row %d done %d times", threads, c, i, n)
					}
				}
				if len(ranges) != want {
					t.Errorf("%d threads, %+v: %d ranges, want %d", threads, c, len(ranges), want)
				}
				slices.SortFunc(ranges, func(a, b [2]int) int { return a[0] - b[0] })
				if call == 0 {
					first = ranges
				} else if !slices.Equal(ranges, first) {
					t.Errorf("%d threads, %+v: ranges %v, then %v", threads, c, first, ranges)
				}
				if n, chunk := e.splitRows(c.rows, c.align, c.rowWork); n != len(ranges) || (n > 1 && ranges[0][1] != chunk) {
					t.Errorf("%d threads, %+v: splitRows = %d, %d for ranges %v", threads, c, n, chunk, ranges)
				}
			}
		}
	}
}

// TestPoolHold checks that a held pool runs products whole, with every
// worker range either joined or taken by the caller, and that its worker
// parks once the hold is released (a released pool must not spin for
// ever).
func TestPoolHold(t *testing.T) {
	pool := NewPool(2)
	e := Exec{Threads: 2, Pool: pool}
	const rows, runs = 1024, 200
	out := make([]int32, rows)
	run := func() {
		e.parallelRows(rows, 1, 1<<12, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				out[i]++
			}
		})
	}
	pool.Hold()
	pool.Hold() // holds nest
	for range runs {
		run()
	}
	pool.Release()
	if pool.s.held.Load() != 1 {
		t.Error("one of two holds released: the pool is no longer held")
	}
	pool.Release()
	for i, v := range out {
		if v != runs {
			t.Fatalf("row %d done %d times in %d products", i, v, runs)
		}
	}
	w := pool.s.workers[0]
	for deadline := time.Now().Add(20 * time.Second); !w.job.sleeping.Load(); {
		if time.Now().After(deadline) {
			t.Fatal("the worker still spins 20 s after the hold was released")
		}
		time.Sleep(time.Millisecond)
	}
	st := pool.Stats()
	if st.Products != runs || st.Joined+st.Taken != runs || st.Alone != 0 || st.Parked == 0 {
		t.Errorf("stats %+v, want %d products, each joined or taken, and a park", st, runs)
	}
}

// TestPoolTakesUnstartedRange checks that the caller runs a worker's range
// itself, and counts it, when the worker has not started it by the time
// the caller has finished its own: with one CPU for Go, the worker cannot
// run while the caller computes.
func TestPoolTakesUnstartedRange(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	pool := NewPool(2)
	e := Exec{Threads: 2, Pool: pool}
	const rows = 1024
	out := make([]int32, rows)
	for range 10 {
		e.parallelRows(rows, 1, 1<<12, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				out[i]++
			}
		})
	}
	for i, v := range out {
		if v != 10 {
			t.Fatalf("row %d done %d times in 10 products", i, v)
		}
	}
	if st := pool.Stats(); st.Products != 10 || st.Taken == 0 || st.Joined+st.Taken != 10 {
		t.Errorf("stats %+v, want 10 products whose worker ranges the caller took", st)
	}
}

// TestGroupedProductsMatch checks that QMatVecs and MatVecs give, bit for
// bit, what QMatVec and MatVec give for each matrix, on one thread and on
// a pool, for every quantised format, for matrices that are multiplied
// together and for mixes that fall back to one at a time.
func TestGroupedProductsMatch(t *testing.T) {
	pool := NewPool(2)
	const cols = 512
	x := randVec(9, cols, 1)
	for _, e := range []Exec{{}, {Threads: 2, Pool: pool}} {
		for _, m := range []Method{Q4_0, Q8_0, NF4, Q4_K} {
			mk := func(m Method, seed uint64, r int) *QMatrix {
				var q *QMatrix
				var err error
				switch m {
				case NF4:
					q, err = QuantizeConfig(randVec(seed, r*cols, 0.05), r, cols, QuantConfig{Method: m, DoubleQuant: true})
				default:
					d := map[Method]weights.DType{Q4_0: weights.Q4_0, Q8_0: weights.Q8_0, Q4_K: weights.Q4_K}[m]
					q, err = FromGGML(d, r, cols, randGGML(t, seed, d, r, cols))
				}
				if err != nil {
					t.Fatal(err)
				}
				return q
			}
			var qs []*QMatrix
			var ws [][]float32
			var rows []int
			for i, r := range []int{512, 128, 384} {
				qs, ws, rows = append(qs, mk(m, uint64(10+i), r)), append(ws, randVec(uint64(20+i), r*cols, 0.05)), append(rows, r)
			}
			if m == Q4_K { // a mix of formats: one at a time
				qs[1] = mk(Q8_0, 30, rows[1])
			}
			outs, fouts := make([][]float32, len(qs)), make([][]float32, len(qs))
			for i, r := range rows {
				outs[i], fouts[i] = make([]float32, r), make([]float32, r)
			}
			if err := e.QMatVecs(outs, qs, x); err != nil {
				t.Fatal(err)
			}
			if err := e.MatVecs(fouts, ws, rows, x, cols); err != nil {
				t.Fatal(err)
			}
			for i, q := range qs {
				want, fwant := make([]float32, rows[i]), make([]float32, rows[i])
				if err := e.QMatVec(want, q, x); err != nil {
					t.Fatal(err)
				}
				if err := e.MatVec(fwant, ws[i], x, rows[i], cols); err != nil {
					t.Fatal(err)
				}
				for r := range want {
					if math.Float32bits(outs[i][r]) != math.Float32bits(want[r]) {
						t.Fatalf("%v, %d threads: matrix %d row %d = %v together, %v alone", m, e.Threads, i, r, outs[i][r], want[r])
					}
					if math.Float32bits(fouts[i][r]) != math.Float32bits(fwant[r]) {
						t.Fatalf("fp32, %d threads: matrix %d row %d = %v together, %v alone", e.Threads, i, r, fouts[i][r], fwant[r])
					}
				}
			}
		}
	}
	if err := (Exec{}).QMatVecs(make([][]float32, 1), nil, x); err == nil {
		t.Error("QMatVecs with 1 output and no matrix: no error")
	}
}

// TestPoolHeldWorkerParksWhenIdle checks that a held pool's worker parks
// when no product comes for maxHeldSpin: a hold must not keep a CPU busy
// while its holder waits on something else.
func TestPoolHeldWorkerParksWhenIdle(t *testing.T) {
	pool := NewPool(2)
	pool.Hold()
	defer pool.Release()
	w := pool.s.workers[0]
	for deadline := time.Now().Add(20 * time.Second); !w.job.sleeping.Load(); {
		if time.Now().After(deadline) {
			t.Fatal("a held worker with no products still spins after 20 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPoolHeldCallerSpins checks what a caller waiting for a worker's
// range does past spinWait's polls (keepCaller): on a held pool it spins
// on, for at most maxHeldSpin, rather than park (a parked caller costs a
// thread wake-up, and comes back on the worker's P while the worker
// waits for another); on a pool not held it parks, and each park is
// counted.
func TestPoolHeldCallerSpins(t *testing.T) {
	pool := NewPool(2)
	s := pool.s
	now := nanos()
	if s.keepCaller(now) {
		t.Error("a caller on a pool not held keeps spinning")
	}
	pool.Hold()
	if !s.keepCaller(now) {
		t.Error("a caller on a held pool parks as soon as spinWait's polls are done")
	}
	if s.keepCaller(now - maxHeldSpin) {
		t.Error("a caller on a held pool spins past maxHeldSpin")
	}
	pool.Release()
	if st := pool.Stats(); st.CallerParked != 2 {
		t.Errorf("CallerParked = %d after two parks", st.CallerParked)
	}
}
