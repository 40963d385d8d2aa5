package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/planner/hw"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"github.com/modelwhisperer/whisperc/runtime/sample"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// calibrationVersion changes when Calibrate measures differently.
const calibrationVersion = 3

// residentBytes returns this process's resident set size, or 0.
func residentBytes() int64 { return statusBytes("VmRSS:") }

// peakResidentBytes returns this process's largest resident set size so
// far (VmHWM), or 0.
func peakResidentBytes() int64 { return statusBytes("VmHWM:") }

// statusBytes returns the field of /proc/self/status named key (in kB
// there), in bytes, or 0.
func statusBytes(key string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == key {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// Calibrate measures the CPU runtime on this machine with threads
// threads (see cost.CPURates): the streaming rate of each weight format's
// matrix-vector kernel at working sets from 2 MiB to 384 MiB, and the
// per-layer and per-token cost of a decode step under each compile mode
// (from two small random models that differ only in depth). It takes
// about a second or two, and allocates up to 384 MiB, which it frees.
func Calibrate(ctx context.Context, threads int) (*cost.CPURates, error) {
	// A generation releases its executable's startup pages before it
	// loads a model (Execute): the base is measured after the same
	// release; the peak before it is kept, since a small model's run never
	// grows past it, and how much of the file was resident, which a
	// server (no release) keeps.
	startup := peakResidentBytes()
	released := releaseExecutable()
	// The executable's pages first: reading smaps faults some of the file
	// back in, and the base, read after, counts them.
	exe0 := executableBytes()
	r := &cost.CPURates{Threads: max(threads, 1), Stream: map[string][]cost.StreamPoint{},
		LayerSeconds: map[string]float64{}, TokenSeconds: map[string]float64{}, BaseBytes: residentBytes(), StartupBytes: startup, ReleasedBytes: released}
	defer debug.FreeOSMemory()
	// The products run as the engine's do: on a worker pool, held (its
	// workers spinning) while the rates are measured.
	ex := kernels.Exec{Threads: r.Threads}
	if r.Threads > 1 {
		ex.Pool = kernels.NewPool(r.Threads)
		ex.Pool.Hold()
	}
	release := sync.OnceFunc(ex.Pool.Release)
	defer release()
	const rows, cols = 1024, 2048
	rng := rand.New(rand.NewPCG(1, 2))
	w := make([]float32, rows*cols)
	for i := range w {
		w[i] = float32(rng.Float64()*2 - 1)
	}
	x := make([]float32, cols)
	for i := range x {
		x[i] = float32(rng.Float64()*2 - 1)
	}
	out := make([]float32, rows)
	for _, f := range []struct {
		format cost.DType
		method kernels.Method
		sizes  []int64
	}{
		{cost.FP32, kernels.MethodInvalid, []int64{2 << 20, 16 << 20, 128 << 20, 384 << 20}},
		{cost.NF4, kernels.NF4, []int64{2 << 20, 16 << 20, 128 << 20}},
		{cost.FP4, kernels.FP4, []int64{2 << 20, 16 << 20, 128 << 20}},
		{cost.Q8_0, kernels.Q8_0, []int64{2 << 20, 16 << 20, 128 << 20}},
	} {
		var q *kernels.QMatrix
		per := int64(4 * rows * cols)
		if f.method != kernels.MethodInvalid {
			var err error
			if q, err = kernels.QuantizeConfig(w, rows, cols, kernels.QuantConfig{Method: f.method, DoubleQuant: true}); err != nil {
				return nil, err
			}
			per = int64(q.Bytes())
		}
		for _, size := range f.sizes {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			n := max(int(size/per), 1)
			dense := make([][]float32, n)
			qs := make([]*kernels.QMatrix, n)
			for i := range n {
				if q == nil {
					dense[i] = append([]float32(nil), w...)
				} else {
					c := *q
					c.Data = append([]byte(nil), q.Data...)
					c.Absmax = append([]float32(nil), q.Absmax...)
					c.QAbsmax = append([]uint8(nil), q.QAbsmax...)
					qs[i] = &c
				}
			}
			pass := func() error {
				for i := range n {
					var err error
					if q == nil {
						err = ex.MatVec(out, dense[i], x, rows, cols)
					} else {
						err = ex.QMatVec(out, qs[i], x)
					}
					if err != nil {
						return err
					}
				}
				return nil
			}
			if err := pass(); err != nil { // warm the pages and caches
				return nil, err
			}
			best := math.Inf(1)
			for range 5 {
				t0 := time.Now()
				if err := pass(); err != nil {
					return nil, err
				}
				best = min(best, time.Since(t0).Seconds())
			}
			r.Stream[f.format.String()] = append(r.Stream[f.format.String()], cost.StreamPoint{Bytes: int64(n) * per, BytesPerSecond: float64(int64(n)*per) / best})
		}
	}
	release() // the engines below have pools of their own
	shallow := arch.Config{Name: "calibrate", Family: arch.Llama, Dim: 256, HiddenDim: 688, Heads: 8, KVHeads: 8, Vocab: 512, MaxSeq: 256, RopeTheta: 10000, NormEps: 1e-5, Tied: true}
	deep := shallow
	shallow.Layers, deep.Layers = 2, 8
	for _, mode := range []compiler.CompileMode{compiler.CompileNone, compiler.CompileDefault, compiler.CompileReduceOverhead, compiler.CompileMaxAutotune} {
		var per [2]float64
		for i, c := range []arch.Config{shallow, deep} {
			s, err := stepSeconds(ctx, c, mode, r.Threads)
			if err != nil {
				return nil, err
			}
			per[i] = s
		}
		layer := max((per[1]-per[0])/float64(deep.Layers-shallow.Layers), 0)
		r.LayerSeconds[mode.String()] = layer
		r.TokenSeconds[mode.String()] = max(per[0]-float64(shallow.Layers)*layer, 0)
	}
	// The executable's pages are counted once the runtime's code has run
	// (the kernels and engine above): a run touches that code too, and
	// where the file is read from disk rather than sitting in the page
	// cache whole, the pages it touches are what is resident. The rest of
	// the base is the process as it was before calibrating.
	if exe := executableBytes(); exe > 0 && exe0 > 0 && exe0 < r.BaseBytes {
		r.BaseBytes += max(exe-exe0, 0)
		r.ExecutableBytes = exe0 + max(exe-exe0, 0)
	}
	return r, nil
}

// stepSeconds returns the best time of a decode step of a random model
// of shape c, at positions 16 to 48, its worker pool held between the
// steps as a run's is.
func stepSeconds(ctx context.Context, c arch.Config, mode compiler.CompileMode, threads int) (float64, error) {
	opts := engine.Options{Attention: engine.AttentionEager, KVCache: true, Compile: mode, Quantize: engine.QuantizeNone,
		Threads: threads, Context: 64, CacheDir: os.TempDir()}
	if mode == compiler.CompileMaxAutotune {
		dir, err := os.MkdirTemp("", "whisperc-calibrate")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		opts.CacheDir = dir
	}
	e, err := engine.New(ctx, weights.Random(c, 7), opts)
	if err != nil {
		return 0, err
	}
	// Held through the steps, as engine.Generate holds a run's workers.
	defer e.HoldWorkers()()
	smp, err := sample.New(sample.Params{Temperature: 0})
	if err != nil {
		return 0, err
	}
	tok := 1
	best := math.Inf(1)
	for pos := range 48 {
		t0 := time.Now()
		logits, err := e.Forward(ctx, []int{tok})
		if err != nil {
			return 0, err
		}
		tok = smp.Sample(logits)
		if pos >= 16 {
			best = min(best, time.Since(t0).Seconds())
		}
	}
	return best, nil
}

// CalibrationFor returns the CPU runtime's rates for this machine with
// threads threads, from the user cache when a calibration of the same
// hardware, thread count and whisperc binary is there, else, when measure
// is set, measured now and cached (else nil). A cache that cannot be read
// or written only costs the measurement.
func CalibrationFor(ctx context.Context, h *hw.Hardware, threads int, measure bool) (*cost.CPURates, error) {
	key := fmt.Sprintf("v%d|%s|%d threads|%s", calibrationVersion, h.Fingerprint(), threads, binaryStamp())
	dir, err := os.UserCacheDir()
	path := ""
	if err == nil {
		path = filepath.Join(dir, "whisperc", "cpu-rates.json")
		if f, err := os.Open(path); err == nil {
			var cached struct {
				Key   string         `json:"key"`
				Rates *cost.CPURates `json:"rates"`
			}
			err := json.NewDecoder(io.LimitReader(f, 1<<20)).Decode(&cached)
			f.Close()
			if err == nil && cached.Key == key && cached.Rates != nil {
				return cached.Rates, nil
			}
		}
	}
	if !measure {
		return nil, nil
	}
	r, err := Calibrate(ctx, threads)
	if err != nil {
		return nil, err
	}
	if path != "" {
		if data, err := json.MarshalIndent(map[string]any{"key": key, "rates": r}, "", "  "); err == nil {
			if os.MkdirAll(filepath.Dir(path), 0o755) == nil {
				_ = os.WriteFile(path, data, 0o644)
			}
		}
	}
	return r, nil
}

// binaryStamp identifies the running binary (its size and modification
// time), so that a rebuilt whisperc calibrates again.
func binaryStamp() string {
	exe, err := os.Executable()
	if err != nil {
		return "unknown"
	}
	st, err := os.Stat(exe)
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%d@%d", st.Size(), st.ModTime().UnixNano())
}

// DecodeStep measures one decode step of the CPU runtime for a model of
// shape c, as a StepCalibrator with threads threads, no disk cache and no
// calibrated rates does (see StepCalibrator.DecodeStep).
func DecodeStep(ctx context.Context, c arch.Config, format, headFormat cost.DType, mode compiler.CompileMode, threads int) (layer, head, position float64, err error) {
	return (&StepCalibrator{Threads: threads}).DecodeStep(ctx, c, format, headFormat, mode)
}

// measureStep times the decode step of random models of shape big (all
// the shape's layers when they fit the budget, else three; see
// wholeShape and stepShape) whose transformer blocks' linear weights are
// stored as format and whose classifier is stored as headFormat: it
// builds the model with one layer and with big.Layers layers and times,
// in rounds repeated until two agree (settle), a generation's pass of
// each: the mean of its steps at positions 8 to 55 (about
// cost.StepPosition) and, when late > 0, of 24 steps after a prefill to
// position late. It returns the cost of one layer and of the rest
// (embedding lookup, final norm, classifier, sampling) from the first
// window, and how much one layer's step grows per position of context
// from the two.
//
// The weights are read from a memory-mapped file, as a run reads its
// model: on this project's 2-vCPU VM fp32 weights on the Go heap stream
// markedly slower than the same bytes mapped from a file, and a heap
// model's step varies by ±20% with where its weights land. Stepped in
// turn in one process, 1- and 3-layer models of the 42M shape took 5.9
// and 7.6 ms of CPU a step from the heap against 3.1 and 4.5 ms mapped
// (the 8-layer one 11.4 against 7.8 ms, the run's own 7.9 ms a token), so
// heap weights predicted fp32 runs 20-40% too slow.
func (s *StepCalibrator) measureStep(ctx context.Context, big arch.Config, late int, block cost.BlockFormats, headFormat cost.DType, mode compiler.CompileMode) (st Step, err error) {
	defer debug.FreeOSMemory()
	threads := max(s.Threads, 1)
	ws, err := s.mappedRandom(big, 11, block, headFormat)
	if err != nil {
		return st, err
	}
	defer ws.Close()
	var engines [2]*engine.Engine
	var params [2]int64
	// The two models share one worker pool, held while they step, as a
	// run's engine has one pool held through its generation loop
	// (engine.Generate): with a pool each, held only within a forward
	// pass, each model's worker parked while the other stepped (or spun
	// against its threads), and every step began by waking it.
	var pool *kernels.Pool
	if threads > 1 {
		pool = kernels.NewPool(threads)
		pool.Hold()
		defer pool.Release()
	}
	for i, layers := range []int{1, big.Layers} {
		small := big
		small.Layers = layers
		ws.Config = small
		params[i] = stepParams(small)
		opts := stepEngineOptions(small, block, headFormat, mode, threads, big.MaxSeq, pool)
		if mode == compiler.CompileMaxAutotune {
			dir, err := os.MkdirTemp(s.TempDir, "whisperc-step")
			if err != nil {
				return st, err
			}
			defer os.RemoveAll(dir)
			opts.CacheDir = dir
		}
		if engines[i], err = engine.New(ctx, ws, opts); err != nil {
			return st, err
		}
	}
	if s.onPool != nil {
		s.onPool(pool)
	}
	// A run generates under the heap bound that stage_generate.go sets
	// once its model is loaded, and the steps are measured under it too:
	// the collector's pace is part of a run's step (the serve calibration
	// found the bound costing a compile = none pass 1.5×).
	defer boundGeneration()()
	forward := func(i int, toks []int) ([]float32, error) {
		s.work.Add(int64(len(toks)) * params[i])
		return engines[i].Forward(ctx, toks)
	}
	// The two models take turns, a whole pass each, so that other load on
	// the machine falls on both alike, while each steps alone through its
	// pass as a run's one model does. A pass is a generation's: from
	// position 0, 56 steps, of which positions 8 to 55 are timed; then,
	// when late > 0, a prefill to position late-1 and 25 steps there, the
	// first untimed (the steps at late to late+23 are timed). A pass's step is the mean of its timed steps, as
	// a run's decode rate is its mean step and not its typical one: the
	// collector, the scheduler and a worker slow to start its share take
	// their part of a run's time, and on this project's 2-vCPU VM a run's
	// mean step was 1.2-2.5 times its median while the machine was busy.
	// A round is a pass of each model; rounds repeat until two in a row
	// agree (settle), and the median round counts, so that a round that
	// other work disturbed does not. The growth of the steps between the
	// two windows, the attention over the longer cache, is measured in
	// every round and its median counts too.
	var prompt []int
	if late > 0 {
		prompt = make([]int, late-57)
		for i := range prompt {
			prompt[i] = 1 + (56+i)%(big.Vocab-1)
		}
	}
	steps := make([]float64, 0, 48)
	timed := func(i, n, skip int, tok *int) (float64, error) {
		steps = steps[:0]
		for k := range n {
			t0 := time.Now()
			logits, err := forward(i, []int{*tok})
			if err != nil {
				return 0, err
			}
			*tok = sample.Argmax(logits)
			if k >= skip {
				steps = append(steps, time.Since(t0).Seconds())
			}
		}
		return mean(steps), nil
	}
	pass := func(i int) (early, grown float64, err error) {
		engines[i].Reset()
		tok := 1
		if early, err = timed(i, 56, 8, &tok); err != nil || late == 0 {
			return early, 0, err
		}
		logits, err := forward(i, prompt)
		if err != nil {
			return 0, 0, err
		}
		tok = sample.Argmax(logits)
		after, err := timed(i, 25, 1, &tok)
		return early, after - early, err
	}
	var growth []float64
	round := func() ([2]float64, error) {
		var t [2]float64
		g := 0.0
		for k := range 2 {
			i := (k + len(growth)) % 2 // which model goes first alternates
			early, grown, err := pass(i)
			if err != nil {
				return t, err
			}
			t[i] = early
			g += grown
		}
		growth = append(growth, g)
		return t, nil
	}
	got, err := settle(round, time.Now, defaultSettle)
	if err != nil {
		return st, err
	}
	st.Rounds, st.Spread, st.Layers = got.Rounds, got.Spread, big.Layers
	if s.onSettle != nil {
		s.onSettle(big, got)
	}
	st.Layer, st.Head = splitStep(got.T, big.Layers)
	if late > 0 {
		// Between the windows' middle positions; one layer's share of the
		// growth in the one-layer model and big.Layers' in the other.
		span := (float64(late) + 11.5) - 31.5
		st.Position = max(median(growth)/span/float64(1+big.Layers), 0)
	}
	return st, nil
}

// splitStep returns one layer's and the rest's share of the measured
// steps t of models of one and of layers layers: a layer is what each
// layer beyond the first adds, and the rest is what it leaves of the
// larger model's step, so that they add up to that step, which is the one
// a run of that shape takes. When noise makes a layer cost more than the
// whole one-layer model (the rest negative), the larger model's step is
// shared out among its layers alone.
func splitStep(t [2]float64, layers int) (layer, head float64) {
	if layers <= 1 {
		return t[0] / 2, t[0] / 2
	}
	layer = max((t[1]-t[0])/float64(layers-1), 0)
	if layer > t[0] {
		layer = t[1] / float64(layers)
	}
	return layer, max(t[1]-float64(layers)*layer, 0)
}

// mean returns the mean of x.
func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(max(len(x), 1))
}

// median returns the median of x, sorting it.
func median(x []float64) float64 {
	slices.Sort(x)
	return x[len(x)/2]
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// mappedRandom returns random weights of shape c (weights.Random with
// seed) written to a temporary file and mapped back from it, the way a
// run maps its model; the file is unlinked at once, the mapping lasts
// until the set's Close. The file is a llama2.c one of fp32 weights, which
// the engine quantises at load as a run's does, unless block.Stored and
// some weight is in a GGML block format: then it is a GGUF file holding
// the blocks' linear weights and the classifier in those formats, read as
// a run reads a GGUF model's (the token embedding stands for a tied
// classifier, as in a GGUF file).
func (s *StepCalibrator) mappedRandom(c arch.Config, seed uint64, block cost.BlockFormats, headFormat cost.DType) (*weights.Set, error) {
	asGGUF := block.Stored && headFormat.GGML()
	for _, f := range block.Formats() {
		asGGUF = asGGUF || block.Stored && f.GGML()
	}
	ws := weights.Random(c, seed)
	pattern := "whisperc-step-*.bin"
	if asGGUF {
		pattern = "whisperc-step-*.gguf"
		// A GGUF file names its RoPE base and norm epsilon, which a
		// llama2.c shape leaves to that format's own (10000 and 1e-5).
		if ws.Config.RopeTheta <= 0 {
			ws.Config.RopeTheta = 10000
		}
		if ws.Config.NormEps <= 0 {
			ws.Config.NormEps = 1e-5
		}
		if err := storeRandom(ws, block, headFormat); err != nil {
			return nil, err
		}
	}
	f, err := os.CreateTemp(s.TempDir, pattern)
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	bw := bufio.NewWriter(countWriter{f, &s.tempBytes})
	if asGGUF {
		err = gguf.WriteSet(bw, ws, nil)
	} else {
		err = llama2c.Write(bw, ws, 0)
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing the step model: %w", err)
	}
	open := llama2c.Open
	if asGGUF {
		open = gguf.Open
	}
	back, err := open(f.Name())
	if err != nil {
		return nil, err
	}
	if back.Config.Dim != c.Dim || back.Config.Layers != c.Layers || back.Config.Vocab != c.Vocab {
		back.Close()
		return nil, fmt.Errorf("the step model reads back as %+v, not %+v", back.Config, c)
	}
	return back, nil
}

// storeRandom re-encodes ws's linear weights in the GGML block formats
// block and headFormat give them (a tied classifier is the token
// embedding), as a GGUF file stores them; other weights stay fp32.
func storeRandom(ws *weights.Set, block cost.BlockFormats, headFormat cost.DType) error {
	modules := map[string]string{}
	for m, t := range llamaTensors {
		modules[t] = m
	}
	for name, t := range ws.Tensors {
		var f cost.DType
		switch {
		case name == "output.weight" || name == "tok_embeddings.weight" && ws.Config.Tied:
			f = headFormat
		case strings.HasPrefix(name, "layers."):
			rest := name[len("layers."):]
			if m, ok := modules[rest[strings.IndexByte(rest, '.')+1:]]; ok {
				f = block.Of(m)
			}
		}
		if !f.GGML() {
			continue
		}
		q, err := quant.Convert(t, f)
		if err != nil {
			return fmt.Errorf("storing the step model's weights as %s: %w", f, err)
		}
		ws.Tensors[name] = q
	}
	return nil
}

// stepEngineOptions are the options of an engine whose steps are
// measured: eager attention over a KV cache of c's context, the linear
// layers as block says and the classifier in headFormat (4-bit formats with
// double quantisation, as a quantize block's default), on pool.
func stepEngineOptions(c arch.Config, block cost.BlockFormats, headFormat cost.DType, mode compiler.CompileMode, threads, context int, pool *kernels.Pool) engine.Options {
	opts := engine.Options{Attention: engine.AttentionEager, KVCache: true, Compile: mode, Threads: threads, Context: context,
		Pool: pool, Weights: map[string]engine.Weight{}}
	for l := range c.Layers {
		for m, t := range llamaTensors {
			f := block.Of(m)
			opts.Weights[fmt.Sprintf("layers.%d.%s", l, t)] = engine.Weight{Format: f, DoubleQuant: f == cost.NF4 || f == cost.FP4}
		}
	}
	opts.Weights["output.weight"] = engine.Weight{Format: headFormat, DoubleQuant: headFormat == cost.NF4 || headFormat == cost.FP4}
	return opts
}
