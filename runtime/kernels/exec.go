package kernels

import (
	"runtime"
	"sync"
)

// DefaultTileRows is the number of weight rows a batched product keeps hot in
// cache while it streams the batch past them, when Exec.TileRows is zero.
const DefaultTileRows = 16

// smallBatchFloats is the most input values (batch rows × columns) that
// MatMul treats as a small batch, kept in L1 (32 KiB of float32 is 8,192)
// while each group of four weight rows meets all of it.
const smallBatchFloats = 6144

// Exec configures how a kernel spreads its work. The zero value runs
// single-threaded with the default tile size and uses assembly when the CPU
// supports it.
type Exec struct {
	// Threads is the number of goroutines that share the rows of a product.
	// Zero or one means the calling goroutine does all the work; a negative
	// value means runtime.GOMAXPROCS(0).
	Threads int
	// TileRows is the number of weight rows processed as one tile in batched
	// products; zero means DefaultTileRows. It is rounded up to a multiple of
	// four, the assembly kernel's row unroll.
	TileRows int
	// BlockQ and BlockK are FlashAttention-2's query and key/value tile
	// sizes (Br and Bc); zero means DefaultBlockQ and DefaultBlockK.
	BlockQ, BlockK int
	// NoAsm forces the pure-Go kernels, for tests and benchmarks that compare
	// the two.
	NoAsm bool
	// NoAVX512 keeps the AVX2 kernels where AVX-512 forms exist, for tests
	// and benchmarks that compare the two.
	NoAVX512 bool
	// NoVNNI keeps the float-decoding kernels of quantised products where
	// the integer-dot (VNNI) kernels would run, for tests and benchmarks
	// that compare the two, or for results free of the activation's 8-bit
	// rounding.
	NoVNNI bool
	// Pool, when not nil, runs the shares of a parallel product on its
	// persistent workers instead of new goroutines; Threads still decides
	// how many shares there are (at most the pool's Threads()).
	Pool *Pool
}

func (e Exec) threads() int {
	if e.Threads < 0 {
		return runtime.GOMAXPROCS(0)
	}
	if e.Threads == 0 {
		return 1
	}
	return e.Threads
}

func (e Exec) tileRows() int {
	t := e.TileRows
	if t <= 0 {
		t = DefaultTileRows
	}
	return (t + 3) &^ 3
}

// minWorkPerThread is the number of multiply-adds below which another
// goroutine costs more to start (a few microseconds) than it saves; measured
// with BenchmarkMatVec at 288x288, where two threads were slower than one.
const minWorkPerThread = 1 << 17

// minWorkPerPoolThread is minWorkPerThread when the shares go to a Pool's
// waiting workers, which costs a channel hand-off rather than a new
// goroutine: BenchmarkPoolMatVec's 512×512 product (2^18 multiply-adds)
// runs in well under the single-thread time on two pool threads.
const minWorkPerPoolThread = 1 << 16

// poolRangesPerThread is how many ranges a product on a Pool is cut into
// per thread. The caller and the workers take them in turn, so a worker
// that starts late (its thread was busy for a microsecond or two) takes
// fewer of them rather than finishing its half after the caller has long
// finished its own: with one range per thread, every product lasted as
// long as the later of the two. A range is then at least
// minWorkPerPoolThread/4 multiply-adds, a few microseconds, against a
// fraction of one to take it.
const poolRangesPerThread = 4

// parallelRows calls fn on disjoint row ranges [lo, hi) that cover [0, rows),
// each range starting at a multiple of align, using up to e.threads()
// goroutines; rowWork is the number of multiply-adds one row costs.
func (e Exec) parallelRows(rows, align, rowWork int, fn func(lo, hi int)) {
	t := e.threads()
	minWork := minWorkPerThread
	if e.Pool != nil {
		minWork = minWorkPerPoolThread
	}
	if maxT := rows * max(rowWork, 1) / minWork; t > maxT {
		t = maxT
	}
	if t <= 1 {
		fn(0, rows)
		return
	}
	if e.Pool != nil && e.Pool.Threads() > 1 {
		n := t * poolRangesPerThread
		chunk := (rows + n - 1) / n
		chunk = (chunk + align - 1) / align * align
		if chunk >= rows {
			fn(0, rows)
			return
		}
		e.Pool.run(fn, rows, chunk, t-1)
		return
	}
	chunk := (rows + t - 1) / t
	chunk = (chunk + align - 1) / align * align
	var wg sync.WaitGroup
	for lo := chunk; lo < rows; lo += chunk {
		hi := min(lo+chunk, rows)
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, hi)
	}
	fn(0, min(chunk, rows))
	wg.Wait()
}

// avx512 reports whether e may use the AVX-512 kernels.
func (e Exec) avx512() bool { return useAVX512 && !e.NoAsm && !e.NoAVX512 }
