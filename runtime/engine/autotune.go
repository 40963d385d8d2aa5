package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/cpuid/v2"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// tuning is CompileMaxAutotune's choice for one CPU and model shape.
type tuning struct {
	Threads  int `json:"threads"`
	TileRows int `json:"tile_rows"`
}

// autotuneVersion changes whenever the search or the kernels change enough
// to invalidate cached results.
const autotuneVersion = 1

// autotuneKey names a tuning: the CPU, its logical cores, the thread
// budget and the model's matrix shapes.
func autotuneKey(threads int, c arch.Config) string {
	return fmt.Sprintf("v%d|%s|%d cpus|%d threads|dim %d hidden %d vocab %d", autotuneVersion, cpuid.CPU.BrandName, cpuid.CPU.LogicalCores, threads, c.Dim, c.HiddenDim, c.Vocab)
}

// autotune returns exec with the thread count (1..opts.Threads) and the
// batched kernel's tile size that ran fastest on this CPU for the model's
// shapes. Results are cached in CacheDir (default os.UserCacheDir()/whisperc)
// as autotune.json; a cache that cannot be read or written only costs the
// search.
func autotune(ctx context.Context, exec kernels.Exec, opts Options, c arch.Config, w, cls []float32) (kernels.Exec, error) {
	dir := opts.CacheDir
	if dir == "" {
		if base, err := os.UserCacheDir(); err == nil {
			dir = filepath.Join(base, "whisperc")
		}
	}
	file := filepath.Join(dir, "autotune.json")
	key := autotuneKey(opts.Threads, c)
	cache := map[string]tuning{}
	if dir != "" {
		if data, err := os.ReadFile(file); err == nil {
			_ = json.Unmarshal(data, &cache) // a corrupt cache is rebuilt
		}
	}
	if t, ok := cache[key]; ok && t.Threads >= 1 && t.Threads <= opts.Threads && t.TileRows > 0 {
		exec.Threads, exec.TileRows = t.Threads, t.TileRows
		return exec, nil
	}
	best, err := search(ctx, exec, opts.Threads, c, w, cls)
	if err != nil {
		return exec, err
	}
	if dir != "" {
		cache[key] = best
		if data, err := json.MarshalIndent(cache, "", "  "); err == nil {
			if os.MkdirAll(dir, 0o755) == nil {
				tmp := file + ".tmp"
				if os.WriteFile(tmp, data, 0o644) == nil {
					_ = os.Rename(tmp, file)
				}
			}
		}
	}
	exec.Threads, exec.TileRows = best.Threads, best.TileRows
	return exec, nil
}

// search times the decode products (a feed-forward matrix w [hidden, dim]
// and the classifier cls [vocab, dim]) for each thread count, and the
// 16-row batched product for each tile size, keeping the fastest of three
// rounds each.
func search(ctx context.Context, exec kernels.Exec, budget int, c arch.Config, w, cls []float32) (tuning, error) {
	x := make([]float32, 16*c.Dim)
	for i := range x {
		x[i] = float32(i%7) / 7
	}
	outH := make([]float32, 16*c.HiddenDim)
	outV := make([]float32, c.Vocab)
	timeIt := func(f func() error) (time.Duration, error) {
		best := time.Duration(1 << 62)
		for range 3 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			start := time.Now()
			for range 4 {
				if err := f(); err != nil {
					return 0, err
				}
			}
			best = min(best, time.Since(start))
		}
		return best, nil
	}
	t := tuning{Threads: 1, TileRows: kernels.DefaultTileRows}
	bestT := time.Duration(1 << 62)
	for th := 1; th <= budget; th++ {
		e := exec
		e.Threads = th
		d, err := timeIt(func() error {
			if err := e.MatVec(outH[:c.HiddenDim], w, x[:c.Dim], c.HiddenDim, c.Dim); err != nil {
				return err
			}
			return e.MatVec(outV, cls, x[:c.Dim], c.Vocab, c.Dim)
		})
		if err != nil {
			return t, err
		}
		if d < bestT {
			bestT, t.Threads = d, th
		}
	}
	bestT = time.Duration(1 << 62)
	for _, tile := range []int{4, 8, 16, 32, 64} {
		e := exec
		e.Threads, e.TileRows = t.Threads, tile
		d, err := timeIt(func() error { return e.MatMul(outH, x, w, 16, c.HiddenDim, c.Dim) })
		if err != nil {
			return t, err
		}
		if d < bestT {
			bestT, t.TileRows = d, tile
		}
	}
	return t, nil
}
