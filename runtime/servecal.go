package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"github.com/modelwhisperer/whisperc/runtime/sample"
)

// serveVersion changes when measureServe measures differently, so that
// cached serving steps of an older whisperc are measured again.
const serveVersion = 4

// ServePrefillWork bounds the prompt chunk measureServe prefills: its
// tokens times the parameters of the measured model's layers. 2^31 is a
// 256-token chunk of the 15M shape's six layers, about two tenths of a
// second on this project's machine; a longer chunk of a wider shape is
// measured on fewer tokens and extrapolated (cost.MeasuredServe).
const ServePrefillWork int64 = 1 << 31

// MeasureServe measures what a server (runtime/serve's scheduler) does
// with a model of shape c whose blocks' linear weights are stored as
// block says and whose classifier is stored as headFormat, under compile mode
// mode, on this machine: the batched decode step (engine.ForwardBatch
// advancing b sequences by one token each, at positions 8 to 55, each
// sequence's next token then sampled at temperature 1, the server's
// default, spread over the threads as the scheduler spreads them, and
// handed to a goroutine waiting for it as a request's handler waits) for
// each batch size of cost.ServeBatches(maxBatch), and the prefill of one
// prompt chunk of up to chunk tokens (one ForwardBatch call, as the
// scheduler prefills). Like Measure, it times random models of one and of
// up to three layers, stepped in turn, in rounds repeated until two agree,
// and returns one layer's seconds and the rest's; a shape too wide for
// the budget is measured on a narrower one and scaled (Step.scale). The
// result is cached like Measure's.
func (s *StepCalibrator) MeasureServe(ctx context.Context, c arch.Config, block cost.BlockFormats, headFormat cost.DType, mode compiler.CompileMode, maxBatch, chunk int) (cost.MeasuredServe, error) {
	if maxBatch < 1 || chunk < 1 {
		return cost.MeasuredServe{}, fmt.Errorf("a server of %d slots and prompt chunks of %d tokens cannot be measured", maxBatch, chunk)
	}
	p, _, budget, err := s.measuredShape(c, block, headFormat)
	if err != nil {
		return cost.MeasuredServe{}, err
	}
	if whole := c; stepFileBytes(whole) <= budget {
		// The whole model fits: it is measured with all its layers, so
		// that nothing is extrapolated (from one and three layers, a
		// six-layer step is 2.5 times the three-layer model's minus 1.5
		// times the one-layer's, and their noise grows with it).
		p = whole
	}
	tokens := prefillTokens(c, p, chunk)
	p.MaxSeq = max(64, tokens)
	batches := cost.ServeBatches(maxBatch)
	key := fmt.Sprintf("serve v%d|%s|%s|%d threads|%s/%s|%s|dim %d hidden %d layers %d heads %d/%d head %d vocab %d tied %t seq %d|batches %v|chunk %d",
		serveVersion, s.Machine, binaryStamp(), max(s.Threads, 1), block, headFormat, mode,
		p.Dim, p.HiddenDim, p.Layers, p.Heads, p.KVHeads, p.HeadSize(), p.Vocab, p.Tied, p.MaxSeq, batches, tokens)
	m, ok := s.cachedServe(key)
	if !ok {
		if m, err = s.measureServe(ctx, p, batches, tokens, block, headFormat, mode); err != nil {
			return cost.MeasuredServe{}, err
		}
		m.Layers = p.Layers
		s.rememberServe(key, m)
	}
	if p.Dim != c.Dim || p.HiddenDim != c.HiddenDim || p.Vocab != c.Vocab || p.Heads != c.Heads {
		big := c
		big.Layers = p.Layers
		for i, b := range m.Batches {
			st := Step{Layer: b.Layer, Head: b.Head}.scale(p, big, block, headFormat, s.Rates)
			m.Batches[i].Layer, m.Batches[i].Head = st.Layer, st.Head
		}
		st := Step{Layer: m.PrefillLayer, Head: m.PrefillHead}.scale(p, big, block, headFormat, s.Rates)
		m.PrefillLayer, m.PrefillHead = st.Layer, st.Head
		m.Scaled = true
	}
	return m, nil
}

// serveCacheFile is the file in the calibrator's CacheDir that keeps the
// serving measurements, apart from the decode steps' file.
const serveCacheFile = "serve-steps.json"

// cachedServe returns the serving measurement under key, from memory or
// the cache file.
func (s *StepCalibrator) cachedServe(key string) (cost.MeasuredServe, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.serveMem[key]; ok {
		return cloneServe(m), true
	}
	var file map[string]cost.MeasuredServe
	if readJSONCache(s.CacheDir, serveCacheFile, &file) {
		if m, ok := file[key]; ok && len(m.Batches) > 0 {
			return cloneServe(m), true
		}
	}
	return cost.MeasuredServe{}, false
}

// rememberServe keeps m under key in memory and, with a cache directory,
// in its file (replaced atomically; started again when full).
func (s *StepCalibrator) rememberServe(key string, m cost.MeasuredServe) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serveMem == nil {
		s.serveMem = map[string]cost.MeasuredServe{}
	}
	s.serveMem[key] = cloneServe(m)
	if s.CacheDir == "" {
		return
	}
	var file map[string]cost.MeasuredServe
	if !readJSONCache(s.CacheDir, serveCacheFile, &file) || len(file) >= stepCacheEntries {
		file = map[string]cost.MeasuredServe{}
	}
	file[key] = m
	writeJSONCache(s.CacheDir, serveCacheFile, file)
}

func cloneServe(m cost.MeasuredServe) cost.MeasuredServe {
	m.Batches = slices.Clone(m.Batches)
	return m
}

// prefillTokens returns the prompt chunk measureServe prefills for a
// server of shape c measured as p: the served chunk (at most c's
// context), or as many tokens as ServePrefillWork allows of p's layers
// (whole 16s, at least 16).
func prefillTokens(c, p arch.Config, chunk int) int {
	tokens := chunk
	if c.MaxSeq > 0 {
		tokens = min(chunk, c.MaxSeq)
	}
	if limit := ServePrefillWork / max(int64(p.Layers)*stepLayerParams(p), 1); int64(tokens) > limit {
		tokens = max(int(limit)/16*16, 16)
	}
	return tokens
}

// measureServe times the serving steps of random models of shape big
// (at most three layers; see MeasureServe).
func (s *StepCalibrator) measureServe(ctx context.Context, big arch.Config, batches []int, tokens int, block cost.BlockFormats, headFormat cost.DType, mode compiler.CompileMode) (m cost.MeasuredServe, err error) {
	defer debug.FreeOSMemory()
	threads := max(s.Threads, 1)
	ws, err := s.mappedRandom(big, 13, block, headFormat)
	if err != nil {
		return m, err
	}
	defer ws.Close()
	// One pool for both models, held only inside each pass, as a
	// server's one engine holds its pool inside ForwardBatch and not
	// between steps (the scheduler samples and hands out text there).
	var pool *kernels.Pool
	if threads > 1 {
		pool = kernels.NewPool(threads)
	}
	var engines [2]*engine.Engine
	var params [2]int64
	for i, layers := range []int{1, big.Layers} {
		small := big
		small.Layers = layers
		ws.Config = small
		params[i] = stepParams(small)
		opts := stepEngineOptions(small, block, headFormat, mode, threads, big.MaxSeq, pool)
		if engines[i], err = engine.New(ctx, ws, opts); err != nil {
			return m, err
		}
	}
	maxB := slices.Max(batches)
	type seqs struct {
		kv     []*engine.KVCache
		logits [][]float32
		smp    []*sample.Sampler
		toks   []int
	}
	var st [2]seqs
	for i, e := range engines {
		for j := range maxB {
			smp, err := sample.New(sample.Params{Temperature: 1, Seed: uint64(j + 1)})
			if err != nil {
				return m, err
			}
			st[i].kv = append(st[i].kv, e.NewKVCache())
			st[i].logits = append(st[i].logits, make([]float32, big.Vocab))
			st[i].smp = append(st[i].smp, smp)
			st[i].toks = append(st[i].toks, 1+j%(big.Vocab-1))
		}
	}
	// The server bounds the collector's heap growth once its model and
	// caches are ready (stage_serve.go), so that a step's garbage is
	// collected every few MiB; under compile = none every pass builds
	// its graph anew, and on this project's 2-vCPU VM the bound made the
	// 15M shape's single-sequence pass about 1.5× slower than an
	// unbounded heap's. The steps are measured under the same bound.
	defer boundHeap(atMostLive(cost.DecodeHeapHeadroom))()
	// Each sequence has a goroutine waiting for its text, as each request
	// has its handler (Server.next): the scheduler hands every sampled
	// token's text to it and wakes it, and it runs while the next pass
	// does.
	type waiter struct {
		mu      sync.Mutex
		pending []byte
		notify  chan struct{}
	}
	waiters := make([]*waiter, maxB)
	for j := range waiters {
		w := &waiter{notify: make(chan struct{}, 1)}
		waiters[j] = w
		go func() {
			for range w.notify {
				w.mu.Lock()
				w.pending = w.pending[:0]
				w.mu.Unlock()
			}
		}()
	}
	defer func() {
		for _, w := range waiters {
			close(w.notify)
		}
	}()
	hand := func(j int) {
		w := waiters[j]
		w.mu.Lock()
		w.pending = append(w.pending, " token"...)
		w.mu.Unlock()
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}
	parts := make([]engine.Seq, 0, maxB)
	// pass runs one ForwardBatch of engine i and samples every sequence
	// that got logits, as the scheduler's stepOnce and sampleAll do.
	pass := func(i int, b, pos int, prompt []int) error {
		parts = parts[:0]
		if prompt != nil {
			parts = append(parts, engine.Seq{KV: st[i].kv[0], Tokens: prompt, Pos: 0, Logits: st[i].logits[0]})
		} else {
			for j := range b {
				parts = append(parts, engine.Seq{KV: st[i].kv[j], Tokens: st[i].toks[j : j+1], Pos: pos, Logits: st[i].logits[j]})
			}
		}
		s.work.Add(int64(max(len(prompt), b)) * params[i])
		if err := engines[i].ForwardBatch(ctx, parts); err != nil {
			return err
		}
		sampleSeqs(len(parts), threads, func(j int) { st[i].toks[j] = st[i].smp[j].Sample(st[i].logits[j]) })
		for j := range parts {
			hand(j)
		}
		return nil
	}
	record := func(got settled) {
		m.Rounds += got.Rounds
		m.Spread = max(m.Spread, got.Spread)
	}
	split := func(t [2]float64) (layer, head float64) {
		if big.Layers > 1 {
			layer = max((t[1]-t[0])/float64(big.Layers-1), 0)
		} else {
			layer = t[0] / 2
		}
		return layer, max(t[0]-layer, 0)
	}
	var steps [2][]float64
	for _, b := range batches {
		round := func() ([2]float64, error) {
			for i := range engines {
				steps[i] = steps[i][:0]
			}
			for pos := range 56 {
				for i := range engines {
					t0 := time.Now()
					if err := pass(i, b, pos, nil); err != nil {
						return [2]float64{}, err
					}
					if pos >= 8 {
						steps[i] = append(steps[i], time.Since(t0).Seconds())
					}
				}
			}
			return [2]float64{median(steps[0]), median(steps[1])}, nil
		}
		got, err := settle(round, time.Now, defaultSettle)
		if err != nil {
			return m, err
		}
		record(got)
		layer, head := split(got.T)
		m.Batches = append(m.Batches, cost.MeasuredBatch{Sequences: b, Layer: layer, Head: head})
	}
	prompt := make([]int, tokens)
	for i := range prompt {
		prompt[i] = 1 + (7*i)%(big.Vocab-1)
	}
	round := func() ([2]float64, error) {
		for i := range engines {
			steps[i] = steps[i][:0]
		}
		for range 3 {
			for i := range engines {
				t0 := time.Now()
				if err := pass(i, 1, 0, prompt); err != nil {
					return [2]float64{}, err
				}
				steps[i] = append(steps[i], time.Since(t0).Seconds())
			}
		}
		return [2]float64{median(steps[0]), median(steps[1])}, nil
	}
	got, err := settle(round, time.Now, defaultSettle)
	if err != nil {
		return m, err
	}
	record(got)
	m.PrefillTokens = tokens
	m.PrefillLayer, m.PrefillHead = split(got.T)
	return m, nil
}

// sampleSeqs calls draw for each of n sequences, spread over threads
// goroutines as the scheduler's sampleAll spreads its jobs.
func sampleSeqs(n, threads int, draw func(j int)) {
	t := min(threads, n)
	if t <= 1 {
		for j := range n {
			draw(j)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range t {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := w; j < n; j += t {
				draw(j)
			}
		}()
	}
	wg.Wait()
}

// readJSONCache decodes the cache file name in dir into v, reporting
// whether there was a usable file (a damaged cache only costs measuring
// again).
func readJSONCache(dir, name string, v any) bool {
	if dir == "" {
		return false
	}
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return false
	}
	defer f.Close()
	return json.NewDecoder(io.LimitReader(f, 4<<20)).Decode(v) == nil
}

// writeJSONCache replaces the cache file name in dir with v, atomically;
// a failure leaves the old file (the cache is only a saving).
func writeJSONCache(dir, name string, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return
	}
	f, err := os.CreateTemp(dir, name+".*")
	if err != nil {
		return
	}
	_, err = f.Write(data)
	err = errors.Join(err, f.Close())
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(f.Name())
	}
}
