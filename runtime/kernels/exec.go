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
// workers, which a forward pass holds spinning (Pool.Hold), so that
// handing one a range costs a fraction of a microsecond. Measured with
// BenchmarkPoolSmallProducts (held pool, chrt -r 1 on the loaded 2-vCPU
// VM), one thread against two: fp32 128×256 (2^15 multiply-adds) 1.22 against
// 0.92 µs, 256×256 2.40 against 1.53; Q8_0 256×256 (2^15 of intWork)
// 2.51 against 1.83, 128×256 1.30 against 1.18. A product is split from
// 2·2^14, where the second thread gains about a quarter; it used to be
// 2·2^16, which left 15M's 288×288 projections and a 42M decode step's
// attention below 128 positions on one thread.
const minWorkPerPoolThread = 1 << 14

// parallelRows calls fn on disjoint row ranges [lo, hi) that cover [0, rows),
// each range starting at a multiple of align, using up to e.threads()
// goroutines (at most the pool's threads when e.Pool is set); rowWork is
// the number of multiply-adds one row costs. How many threads share a
// product, and which rows each takes, depend on these arguments alone
// (splitRows): one contiguous range per thread, the calling goroutine's
// first.
func (e Exec) parallelRows(rows, align, rowWork int, fn func(lo, hi int)) {
	pooled := e.Pool != nil && e.Pool.Threads() > 1
	t, chunk := e.splitRows(rows, align, rowWork)
	if t <= 1 {
		fn(0, rows)
		return
	}
	if pooled {
		e.Pool.run(fn, rows, chunk)
		return
	}
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

// splitRows returns how many threads share a product of rows rows of
// rowWork multiply-adds each (1: not shared) and the rows of each
// thread's range, a multiple of align: each thread gets at least
// minWorkPerThread multiply-adds (minWorkPerPoolThread on a pool), and
// the ranges are as even as align allows.
func (e Exec) splitRows(rows, align, rowWork int) (threads, chunk int) {
	t := e.threads()
	minWork := minWorkPerThread
	if e.Pool != nil {
		minWork = minWorkPerPoolThread
		t = min(t, e.Pool.Threads())
	}
	if maxT := rows * max(rowWork, 1) / minWork; t > maxT {
		t = maxT
	}
	if t <= 1 {
		return 1, rows
	}
	align = max(align, 1)
	chunk = (rows + t - 1) / t
	chunk = (chunk + align - 1) / align * align
	if chunk >= rows {
		return 1, rows
	}
	return (rows + chunk - 1) / chunk, chunk
}

// avx512 reports whether e may use the AVX-512 kernels.
func (e Exec) avx512() bool { return useAVX512 && !e.NoAsm && !e.NoAVX512 }
