package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/planner/hw"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// StepBudget bounds the random model a decode-step measurement writes to
// a temporary file and maps (fp32 bytes): eight times the 32 MiB L3 of
// this project's machine, so that its layers stream from memory as a
// large model's do, and a quarter of a second of disk writing. A shape
// whose whole file fits twice this (the llama2.c 110M shape, 440 MB) is
// timed whole (wholeBudget); a wider one's three layers and embeddings
// are measured when they fit this, else a narrower shape of the same
// head size, and extrapolated (stepShape, Step.scale).
const StepBudget int64 = 256 << 20

// stepVersion changes when measureStep measures differently, so that
// cached steps of an older whisperc are measured again.
const stepVersion = 6

// Step is one measured decode step: the seconds of one transformer
// layer and of the rest (embedding lookup, final norm, classifier,
// sampling) at about position cost.StepPosition, and how much one layer's
// step grows per position of context.
type Step struct {
	Layer    float64 `json:"layer_s"`
	Head     float64 `json:"head_s"`
	Position float64 `json:"position_s"`
	// Layers is how many layers the larger of the two timed models had:
	// all the shape's when its file fits the budget (wholeShape), else
	// three (stepShape).
	Layers int `json:"layers"`
	// Rounds is how many rounds of steps were timed, and Spread how far
	// apart their medians were (largest minus smallest over the median):
	// above StepNoisy the machine looked noisy while it measured.
	Rounds int     `json:"rounds"`
	Spread float64 `json:"spread"`
}

// StepCalibrator measures the CPU runtime's decode step for the model
// shapes a plan meets (planner.Options.DecodeStep), within a bounded
// temporary file (Budget) however large the shape, and remembers each
// measurement in memory and, when CacheDir is set, in
// CacheDir/decode-steps.json, keyed by the machine, the whisperc binary,
// the thread count, the formats, the compile mode and the measured shape,
// so that planning the same model again measures nothing.
type StepCalibrator struct {
	Threads int
	// Machine identifies the hardware in the cache's keys
	// (hw.Hardware.Fingerprint).
	Machine string
	// Rates, when set, are the machine's calibrated streaming rates: an
	// extrapolated step is charged its weights at the rate of the large
	// shape's working set rather than the measured narrower one's.
	Rates *cost.CPURates
	// CacheDir holds the measurements between processes; "" keeps them in
	// memory only.
	CacheDir string
	// TempDir is where the random model's file is written (and unlinked
	// once mapped); "" is os.TempDir().
	TempDir string
	// Budget bounds that file's bytes; 0 is StepBudget.
	Budget int64

	mu  sync.Mutex
	mem map[string]Step
	// serveMem keeps the serving measurements (MeasureServe).
	serveMem map[string]cost.MeasuredServe
	// onSettle, when set, sees each measurement's rounds (the stability
	// benchmark compares them with one round's).
	onSettle func(p arch.Config, got settled)
	// onPool, when set, sees the worker pool a measurement's engines
	// share (nil for one thread) once they are built.
	onPool func(*kernels.Pool)
	// tempBytes counts the bytes written to temporary files, work the
	// tokens forwarded times the parameters of the model forwarding them.
	tempBytes, work atomic.Int64
}

// NewStepCalibrator returns a calibrator for the hardware h (nil: this
// machine, unnamed) with threads threads and the calibrated rates (nil:
// none), caching in the user cache directory. When that directory cannot
// be used it returns the calibrator, caching in memory only, and an error
// that says so.
func NewStepCalibrator(h *hw.Hardware, threads int, rates *cost.CPURates) (*StepCalibrator, error) {
	s := &StepCalibrator{Threads: max(threads, 1), Rates: rates}
	if h != nil {
		s.Machine = h.Fingerprint()
	}
	dir, err := os.UserCacheDir()
	if err == nil {
		dir = filepath.Join(dir, "whisperc")
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return s, fmt.Errorf("the CPU decode-step measurements are kept in memory only, for this process: %w", err)
	}
	s.CacheDir = dir
	return s, nil
}

// TempBytes returns how many bytes the calibrator has written to
// temporary files.
func (s *StepCalibrator) TempBytes() int64 { return s.tempBytes.Load() }

// Work returns the tokens the calibrator has forwarded, each times the
// parameters of the model that forwarded it: the measure of its time that
// does not depend on the machine's load.
func (s *StepCalibrator) Work() int64 { return s.work.Load() }

// DecodeStep returns one decode step of the CPU runtime for a model of
// shape c whose transformer blocks' linear weights are stored as format
// and whose classifier is stored as headFormat, under compile mode mode:
// the cost of one layer and of the rest (embedding lookup, final norm,
// classifier, sampling) at about position cost.StepPosition, and how much
// a layer's step grows per position of context (0 when the shape's
// context is too short to tell).
//
// It measures random models of the shape with one layer and with all its
// layers when the whole file fits twice the budget (wholeShape,
// wholeBudget), else with one and three layers (measureStep) when their
// file fits the budget. A wider shape is
// measured on a narrower one (stepShape: the same head size, grouping and
// feed-forward ratio, fewer heads, and fewer vocabulary rows when even one
// group of heads does not fit), whose three layers still stream from
// memory, and scaled by the weights' bytes and the heads (Step.scale).
func (s *StepCalibrator) DecodeStep(ctx context.Context, c arch.Config, format, headFormat cost.DType, mode compiler.CompileMode) (layer, head, position float64, err error) {
	m, err := s.Measure(ctx, c, cost.Uniform(format), headFormat, mode)
	return m.Layer, m.Head, m.Position, err
}

// Measure is DecodeStep for blocks stored as block says (every block
// alike), with how steady the measurement was: the rounds of steps timed
// and their spread (Step.Rounds, Step.Spread).
func (s *StepCalibrator) Measure(ctx context.Context, c arch.Config, block cost.BlockFormats, headFormat cost.DType, mode compiler.CompileMode) (cost.MeasuredStep, error) {
	p, late, budget, err := s.measuredShape(c, block, headFormat)
	if err != nil {
		return cost.MeasuredStep{}, err
	}
	p = wholeShape(c, p, wholeBudget(budget))
	st, err := s.step(ctx, p, late, block, headFormat, mode)
	if err != nil {
		return cost.MeasuredStep{}, err
	}
	if p.Dim != c.Dim || p.HiddenDim != c.HiddenDim || p.Vocab != c.Vocab || p.Heads != c.Heads {
		// The narrowed shape's attention over 264 positions reads 1% of
		// what its weights are: its growth per position is lost in the
		// noise of streaming them. It is measured again on the same heads
		// with a narrow feed-forward block and vocabulary.
		if late > 0 {
			a := p
			a.HiddenDim, a.Vocab = 256, 512
			at, err := s.step(ctx, a, late, block, headFormat, mode)
			if err != nil {
				return cost.MeasuredStep{}, err
			}
			st.Position = at.Position
		}
		big := c
		big.Layers = p.Layers
		st = st.scale(p, big, block, headFormat, s.Rates)
	}
	return cost.MeasuredStep{Layer: st.Layer, Head: st.Head, Position: st.Position, Layers: p.Layers, Rounds: st.Rounds, Spread: st.Spread}, nil
}

// wholeBudget is how large a file of all a shape's layers may be for the
// shape to be timed whole (wholeShape), given the budget that bounds a
// narrowed or three-layer measurement: twice it, 512 MiB by default, so
// that the llama2.c 110M shape (440 MB in fp32) is timed whole too. From
// one and three layers its 12-layer step is 5.5 times the three-layer
// model's minus 4.5 times the one-layer's: in one process on the loaded
// 2-vCPU VM its plan ÷ run was 0.81-1.20 over six rounds (nf4 and fp32)
// that way and 0.92-1.06 timed whole, for 1.5-2.5 s more of calibration
// (runtime/bench/stepcal_vs_run.sh 110M:nf4 110M:fp32, 08:03 UTC).
func wholeBudget(budget int64) int64 { return 2 * budget }

// wholeShape returns the shape whose decode steps are timed for c, given
// stepShape's p for it: c with all its layers (and p's context) when that
// file fits budget bytes (wholeBudget), so that the step of the shape a run steps is
// measured rather than extrapolated, else p. From models of one and three
// layers a six-layer step is 2.5 times the three-layer model's minus 1.5
// times the one-layer's, and their noise grows with it: on this project's
// 2-vCPU VM two quiet calibrations of the same shape that way predicted
// rates 1.8× apart, and 15M's plan was 30-49% faster than its runs.
func wholeShape(c, p arch.Config, budget int64) arch.Config {
	if p.Dim != c.Dim || p.HiddenDim != c.HiddenDim || p.Vocab != c.Vocab || p.Heads != c.Heads || p.Layers >= c.Layers {
		return p
	}
	whole := p
	whole.Layers = c.Layers
	if stepFileBytes(whole) > budget {
		return p
	}
	return whole
}

// step returns the measured step of shape p, from the cache or measured
// now (and cached).
func (s *StepCalibrator) step(ctx context.Context, p arch.Config, late int, block cost.BlockFormats, headFormat cost.DType, mode compiler.CompileMode) (Step, error) {
	key := fmt.Sprintf("v%d|%s|%s|%d threads|%s/%s|%s|dim %d hidden %d layers %d heads %d/%d head %d vocab %d tied %t seq %d",
		stepVersion, s.Machine, binaryStamp(), max(s.Threads, 1), block, headFormat, mode,
		p.Dim, p.HiddenDim, p.Layers, p.Heads, p.KVHeads, p.HeadSize(), p.Vocab, p.Tied, p.MaxSeq)
	if st, ok := s.cached(key); ok {
		return st, nil
	}
	st, err := s.measureStep(ctx, p, late, block, headFormat, mode)
	if err != nil {
		return st, err
	}
	s.remember(key, st)
	return st, nil
}

// stepShape returns the shape measureStep measures for c, and the position
// of its later steps (0: none): c itself with at most three layers when
// its file fits budget bytes; else the same head size, grouping of query
// heads on key/value heads and feed-forward ratio with as many key/value
// heads as let three layers take at most three quarters of the budget,
// and as many vocabulary rows as the rest allows.
func stepShape(c arch.Config, budget int64) (arch.Config, int, error) {
	big := c
	big.Layers = min(c.Layers, 3)
	// The later steps' positions: as far as the shape's context allows,
	// up to 264, the middle of a 512-position generation.
	late := min(c.MaxSeq, 288) - 24
	if late < 2*cost.StepPosition {
		late = 0
	}
	big.MaxSeq = max(64, late+24)
	if stepFileBytes(big) <= budget {
		return big, late, nil
	}
	hd := c.HeadSize()
	kv := c.KVHeads
	if kv <= 0 {
		kv = c.Heads
	}
	if hd <= 0 || c.Heads%kv != 0 {
		return big, 0, fmt.Errorf("shape %+v cannot be narrowed to measure", c)
	}
	g := c.Heads / kv
	p := big
	for k := kv; k >= 1; k-- {
		p.KVHeads, p.Heads = k, k*g
		p.Dim = p.Heads * hd
		p.HeadDim = 0
		// The feed-forward width in whole 256s, as quantisation blocks
		// need.
		p.HiddenDim = max(256, (int(int64(c.HiddenDim)*int64(p.Dim)/int64(c.Dim))+128)/256*256)
		if 4*stepLayerParams(p)*int64(p.Layers) <= budget*3/4 {
			break
		}
	}
	if rows := 1 + btoi(!p.Tied); stepFileBytes(p) > budget {
		per := int64(4 * p.Dim * rows)
		p.Vocab = 0
		p.Vocab = int(min(int64(c.Vocab), (budget-stepFileBytes(p))/per) / 256 * 256)
	}
	if p.Vocab < 256 || stepFileBytes(p) > budget {
		return big, 0, fmt.Errorf("shape %+v is too wide to measure within %d MiB", c, budget>>20)
	}
	return p, late, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// stepLayerParams returns the parameters of one transformer layer of c
// (its linear weights and norms).
func stepLayerParams(c arch.Config) int64 {
	d, h := int64(c.Dim), int64(c.HiddenDim)
	kvd := int64(c.KVHeads) * int64(c.HeadSize())
	return 2*d*d + 2*d*kvd + 3*d*h + 2*d
}

// stepParams returns the parameters of c's linear weights, norms and
// embeddings (once when tied).
func stepParams(c arch.Config) int64 {
	emb := int64(c.Vocab) * int64(c.Dim) * int64(1+btoi(!c.Tied))
	return emb + int64(c.Layers)*stepLayerParams(c) + int64(c.Dim)
}

// stepFileBytes returns the bytes of c's llama2.c file as mappedRandom
// writes it: the header, the fp32 tensors and the legacy RoPE tables.
func stepFileBytes(c arch.Config) int64 {
	return 28 + 4*(stepParams(c)+int64(c.MaxSeq)*int64(c.HeadSize()))
}

// storedBytes returns the bytes of params weights stored as f.
func storedBytes(f cost.DType, params int64) float64 {
	return float64(params) * cost.Quant{Type: f, BlockSize: 64, Double: true}.BitsPerWeight() / 8
}

// scale returns the step of shape c measured as s on the narrower shape p
// (stepShape): a layer's and the classifier's time in proportion to their
// weights' bytes, charged at the calibrated streaming rate of c's working
// set instead of p's when rates are given, and a layer's growth per
// position in proportion to the query heads, which have the same size.
// What does not grow with the weights (norms, RoPE, sampling) is a few
// microseconds a step, against the milliseconds of streaming a layer of
// the shapes that are narrowed.
func (s Step) scale(p, c arch.Config, block cost.BlockFormats, headFormat cost.DType, rates *cost.CPURates) Step {
	lp, lc := block.Bytes(p), block.Bytes(c)
	hp := storedBytes(headFormat, int64(p.Vocab)*int64(p.Dim))
	hc := storedBytes(headFormat, int64(c.Vocab)*int64(c.Dim))
	wp, wc := float64(p.Layers)*lp+hp, float64(c.Layers)*lc+hc
	slower := func(f cost.DType) float64 {
		if rates == nil {
			return 1
		}
		a, b := rates.Rate(f, wp), rates.Rate(f, wc)
		if a <= 0 || b <= 0 {
			return 1
		}
		return a / b
	}
	return Step{
		Layer:    s.Layer * lc / lp * slower(block.Default),
		Head:     s.Head * hc / hp * slower(headFormat),
		Position: s.Position * float64(c.Heads) / float64(p.Heads),
		Layers:   s.Layers,
		Rounds:   s.Rounds,
		Spread:   s.Spread,
	}
}

// stepCacheFile is the calibrator's file in its CacheDir, and
// stepCacheEntries the most measurements it keeps.
const (
	stepCacheFile    = "decode-steps.json"
	stepCacheEntries = 512
)

// cached returns the measurement under key, from memory or the cache
// file.
func (s *StepCalibrator) cached(key string) (Step, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.mem[key]; ok {
		return st, true
	}
	st, ok := s.readCache()[key]
	return st, ok
}

// readCache returns the cache file's measurements (none when there is no
// usable file: a damaged cache only costs measuring again).
func (s *StepCalibrator) readCache() map[string]Step {
	var m map[string]Step
	if !readJSONCache(s.CacheDir, stepCacheFile, &m) {
		return nil
	}
	return m
}

// remember keeps st under key in memory and, when there is a cache
// directory, in its file (replaced atomically; when it holds too many
// measurements it starts again).
func (s *StepCalibrator) remember(key string, st Step) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mem == nil {
		s.mem = map[string]Step{}
	}
	s.mem[key] = st
	if s.CacheDir == "" {
		return
	}
	m := s.readCache()
	if m == nil || len(m) >= stepCacheEntries {
		m = map[string]Step{}
	}
	m[key] = st
	writeJSONCache(s.CacheDir, stepCacheFile, m)
}

// measuredShape checks that c and its formats can be measured and
// returns the shape to measure for it, the position of its later steps
// and the budget that chose them (stepShape).
func (s *StepCalibrator) measuredShape(c arch.Config, block cost.BlockFormats, headFormat cost.DType) (p arch.Config, late int, budget int64, err error) {
	if c.Layers < 1 || c.Dim <= 0 || c.Vocab <= 0 || c.Heads <= 0 {
		return p, 0, 0, fmt.Errorf("shape %+v cannot be measured", c)
	}
	if err := checkStepFormats(block, headFormat); err != nil {
		return p, 0, 0, err
	}
	budget = s.Budget
	if budget <= 0 {
		budget = StepBudget
	}
	p, late, err = stepShape(c, budget)
	return p, late, budget, err
}

// checkStepFormats refuses a weight format the CPU runtime has no kernel
// for, or one it cannot produce, before a decode or server step of it is
// measured: GGML's block formats other than q8_0 run only as a GGUF file
// stores them (block.Stored).
func checkStepFormats(block cost.BlockFormats, headFormat cost.DType) error {
	for _, f := range append(block.Formats(), headFormat) {
		switch {
		case f == cost.NF4, f == cost.FP4, f == cost.Q8_0, f == cost.FP32, f == cost.BF16:
		case f.GGML() && block.Stored:
		case f.GGML():
			return fmt.Errorf("the CPU runtime runs %s weights only as a GGUF file stores them, and quantises to fp32, bf16, nf4, fp4 and q8_0 alone", f)
		default:
			return fmt.Errorf("format %s has no CPU kernel", f)
		}
	}
	return nil
}
