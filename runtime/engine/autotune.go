package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/cpuid/v2"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// tuning is CompileMaxAutotune's choice for one CPU, model shape and
// quantisation: the kernels' thread count and the batched kernel's tile
// size.
type tuning struct {
	Threads  int `json:"threads"`
	TileRows int `json:"tile_rows"`
}

// autotuneVersion changes whenever the search or the kernels change enough
// to invalidate cached results.
const autotuneVersion = 4

// autotuneKey names a tuning: the CPU, its logical cores, the thread
// budget, the model's shapes, the quantisation and the attention kernel.
func (e *Engine) autotuneKey() string {
	c := e.cfg
	return fmt.Sprintf("v%d|%s|%d cpus|%d threads|dim %d hidden %d layers %d heads %d/%d vocab %d|%s|%s", autotuneVersion,
		cpuid.CPU.BrandName, cpuid.CPU.LogicalCores, e.opts.Threads, c.Dim, c.HiddenDim, c.Layers, c.Heads, c.KVHeads, c.Vocab,
		e.opts.Weights["layers.0.attention.wq.weight"].Format.String()+"/"+e.opts.Weights["output.weight"].Format.String(), e.opts.LayerAttention[0])
}

// autotune sets the engine's thread count (1..Threads) and tile size to
// those under which the whole model ran fastest on this CPU. Results are
// cached in CacheDir (default os.UserCacheDir()/whisperc) as
// autotune.json; a cache that cannot be read or written only costs the
// search.
func (e *Engine) autotune(ctx context.Context) error {
	dir := e.opts.CacheDir
	if dir == "" {
		if base, err := os.UserCacheDir(); err == nil {
			dir = filepath.Join(base, "whisperc")
		}
	}
	file := filepath.Join(dir, "autotune.json")
	key := e.autotuneKey()
	cache := map[string]tuning{}
	if dir != "" {
		if data, err := os.ReadFile(file); err == nil {
			_ = json.Unmarshal(data, &cache) // a corrupt cache is rebuilt
		}
	}
	best, ok := cache[key]
	if !ok || best.Threads < 1 || best.Threads > e.opts.Threads || best.TileRows <= 0 {
		var err error
		if best, err = e.search(ctx); err != nil {
			return err
		}
		if dir != "" {
			cache[key] = best
			if data, err := json.MarshalIndent(cache, "", "  "); err == nil && os.MkdirAll(dir, 0o755) == nil {
				tmp := file + ".tmp"
				if os.WriteFile(tmp, data, 0o644) == nil {
					_ = os.Rename(tmp, file)
				}
			}
		}
	}
	e.setExec(best.Threads, best.TileRows)
	return nil
}

// setExec changes the kernel settings and drops the graphs built with the
// old ones.
func (e *Engine) setExec(threads, tile int) {
	e.exec.Threads, e.exec.TileRows = threads, tile
	e.st.exec = e.exec
	for k, c := range e.graphs {
		c.vm.Close()
		delete(e.graphs, k)
	}
}

// search runs the model itself: 8 decode steps under each thread count
// (1, 2, 4, ... and the budget), then a 16-token prefill under each tile
// size, keeping the fastest of three timed rounds after a warm-up (2
// steps and one timed round for models over 500M parameters). Timing
// the whole model, rather than each product alone, counts what matters:
// the cache traffic between ops and the cost of starting goroutines.
func (e *Engine) search(ctx context.Context) (tuning, error) {
	defer func() {
		e.Reset()
		e.rows = 0
	}()
	// Large models get a shorter search: each step of a 7B model takes
	// about a second on a CPU.
	steps, rounds := 8, 4
	if e.cfg.Params() > 500_000_000 {
		steps, rounds = 2, 2
	}
	prompt := make([]int, min(2*steps, e.opts.Context))
	for i := range prompt {
		prompt[i] = (i*7919 + 1) % e.cfg.Vocab
	}
	timeIt := func(steps [][]int) (time.Duration, error) {
		best := time.Duration(1 << 62)
		for round := range rounds {
			e.Reset()
			start := time.Now()
			for _, tokens := range steps {
				if _, err := e.Forward(ctx, tokens); err != nil {
					return 0, err
				}
			}
			if round > 0 { // round 0 builds the graphs and warms the caches
				best = min(best, time.Since(start))
			}
		}
		return best, nil
	}
	var decode [][]int
	for _, tok := range prompt[:min(steps, len(prompt))] {
		decode = append(decode, []int{tok})
	}
	var counts []int
	for th := 1; th < e.opts.Threads; th *= 2 {
		counts = append(counts, th)
	}
	counts = append(counts, e.opts.Threads)
	t := tuning{Threads: e.opts.Threads, TileRows: kernels.DefaultTileRows}
	bestD := time.Duration(1 << 62)
	for _, th := range counts {
		e.setExec(th, t.TileRows)
		d, err := timeIt(decode)
		if err != nil {
			return t, err
		}
		if d < bestD {
			bestD, t.Threads = d, th
		}
	}
	bestD = time.Duration(1 << 62)
	for _, tile := range []int{8, 16, 32, 64} {
		e.setExec(t.Threads, tile)
		d, err := timeIt([][]int{prompt})
		if err != nil {
			return t, err
		}
		if d < bestD {
			bestD, t.TileRows = d, tile
		}
	}
	return t, nil
}
