package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/klauspost/cpuid/v2"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// tuning is CompileMaxAutotune's choice for one CPU, model shape and
// quantisation: the thread count for each weight shape ("rows×cols") and
// the batched kernel's tile size.
type tuning struct {
	Threads  map[string]int `json:"threads"`
	TileRows int            `json:"tile_rows"`
}

// autotuneVersion changes whenever the search or the kernels change enough
// to invalidate cached results.
const autotuneVersion = 2

// autotuneKey names a tuning: the CPU, its logical cores, the thread
// budget, the model's shapes and the quantisation.
func (e *Engine) autotuneKey() string {
	c := e.cfg
	return fmt.Sprintf("v%d|%s|%d cpus|%d threads|dim %d hidden %d heads %d/%d vocab %d|%s", autotuneVersion,
		cpuid.CPU.BrandName, cpuid.CPU.LogicalCores, e.opts.Threads, c.Dim, c.HiddenDim, c.Heads, c.KVHeads, c.Vocab, e.opts.Quantize)
}

// probe is one weight shape to time: a decode product (matrix times one
// vector) in the representation the engine will run.
type probe struct {
	shape string
	rows  int
	cols  int
	run   func(kernels.Exec, []float32, []float32) error
}

// probes returns one probe per distinct linear-weight shape.
func (e *Engine) probes() []probe {
	seen := map[string]bool{}
	var ps []probe
	names := make([]string, 0, len(e.tensors)+len(e.quant))
	for n, t := range e.tensors {
		if t.Dims() == 2 && n != "tok_embeddings.weight" {
			names = append(names, n)
		}
	}
	for n := range e.quant {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		var p probe
		if q, ok := e.quant[n]; ok {
			p = probe{rows: q.Rows, cols: q.Cols, run: func(x kernels.Exec, out, in []float32) error { return x.QMatVec(out, q, in) }}
		} else {
			t := e.tensors[n]
			w, s := t.Float32s(), t.Shape()
			p = probe{rows: s[0], cols: s[1], run: func(x kernels.Exec, out, in []float32) error { return x.MatVec(out, w, in, s[0], s[1]) }}
		}
		p.shape = shapeKey(p.rows, p.cols)
		if !seen[p.shape] {
			seen[p.shape] = true
			ps = append(ps, p)
		}
	}
	return ps
}

func shapeKey(rows, cols int) string { return fmt.Sprintf("%dx%d", rows, cols) }

// execFor returns the kernel settings for a weight of the given shape: the
// tuned thread count under CompileMaxAutotune, else the engine's.
func (e *Engine) execFor(rows, cols int) kernels.Exec {
	x := e.exec
	if th, ok := e.threadsFor[shapeKey(rows, cols)]; ok {
		x.Threads = th
	}
	return x
}

// autotune sets the engine's per-shape thread counts (each 1..Threads) and
// tile size to those that ran fastest on this CPU. Results are cached in
// CacheDir (default os.UserCacheDir()/whisperc) as autotune.json; a cache
// that cannot be read or written only costs the search.
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
	if !ok || !e.validTuning(best) {
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
	e.threadsFor = best.Threads
	e.exec.TileRows = best.TileRows
	e.st.exec = e.exec
	return nil
}

// validTuning reports whether a cached tuning fits the thread budget.
func (e *Engine) validTuning(t tuning) bool {
	if t.TileRows <= 0 || len(t.Threads) == 0 {
		return false
	}
	for _, th := range t.Threads {
		if th < 1 || th > e.opts.Threads {
			return false
		}
	}
	return true
}

// search times, for each weight shape, a decode product with every thread
// count from 1 to the budget, and the 16-row batched product of the first
// feed-forward weight with each tile size, keeping the fastest of three
// rounds of four calls each.
func (e *Engine) search(ctx context.Context) (tuning, error) {
	t := tuning{Threads: map[string]int{}, TileRows: kernels.DefaultTileRows}
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
	for _, p := range e.probes() {
		in := make([]float32, p.cols)
		for i := range in {
			in[i] = float32(i%7) / 7
		}
		out := make([]float32, p.rows)
		bestD := time.Duration(1 << 62)
		for th := 1; th <= e.opts.Threads; th++ {
			x := e.exec
			x.Threads = th
			d, err := timeIt(func() error { return p.run(x, out, in) })
			if err != nil {
				return t, err
			}
			if d < bestD {
				bestD, t.Threads[p.shape] = d, th
			}
		}
	}
	w1, ok := e.tensors["layers.0.feed_forward.w1.weight"]
	if !ok {
		return t, nil // quantised: the batched fp32 kernel does not run
	}
	c := e.cfg
	x := make([]float32, 16*c.Dim)
	out := make([]float32, 16*c.HiddenDim)
	bestD := time.Duration(1 << 62)
	for _, tile := range []int{4, 8, 16, 32, 64} {
		ex := e.execFor(c.HiddenDim, c.Dim)
		ex.TileRows = tile
		d, err := timeIt(func() error { return ex.MatMul(out, x, w1.Float32s(), 16, c.HiddenDim, c.Dim) })
		if err != nil {
			return t, err
		}
		if d < bestD {
			bestD, t.TileRows = d, tile
		}
	}
	return t, nil
}
