package runtime

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// TestCalibrate checks that the calibration measures every format the
// CPU runtime stores and every compile mode, with plausible values.
func TestCalibrate(t *testing.T) {
	if testing.Short() {
		t.Skip("calibration takes a few seconds")
	}
	r, err := Calibrate(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"fp32", "nf4", "fp4", "q8_0"} {
		pts := r.Stream[f]
		if len(pts) < 3 {
			t.Fatalf("%s: %d points", f, len(pts))
		}
		for _, p := range pts {
			if p.BytesPerSecond < 1e8 || p.BytesPerSecond > 1e12 {
				t.Errorf("%s at %d bytes: %.3g B/s", f, p.Bytes, p.BytesPerSecond)
			}
		}
	}
	for _, m := range []string{"none", "default", "reduce_overhead", "max_autotune"} {
		if r.LayerSeconds[m] <= 0 || r.LayerSeconds[m] > 0.1 || r.TokenSeconds[m] < 0 {
			t.Errorf("%s: layer %.3g s, token %.3g s", m, r.LayerSeconds[m], r.TokenSeconds[m])
		}
	}
	if r.BaseBytes <= 0 {
		t.Errorf("base %d bytes", r.BaseBytes)
	}
	// The test binary's own pages: some of it runs, and it is part of the
	// base.
	if r.ExecutableBytes <= 0 || r.ExecutableBytes >= r.BaseBytes {
		t.Errorf("executable %d bytes of a base of %d", r.ExecutableBytes, r.BaseBytes)
	}
	// The base is measured after the startup pages were released, the
	// startup peak before: the peak cannot be below it.
	if r.StartupBytes < r.BaseBytes-r.ExecutableBytes {
		t.Errorf("startup peak %d bytes below the base without the executable, %d", r.StartupBytes, r.BaseBytes-r.ExecutableBytes)
	}
	t.Logf("%+v", r)
}

// TestDecodeStep checks that the decode step is measured for every
// weight format the CPU runtime stores, on weights mapped from a
// temporary file that is gone afterwards.
func TestDecodeStep(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	c := arch.Config{Name: "step", Family: arch.Llama, Dim: 64, HiddenDim: 172, Layers: 5, Heads: 8, KVHeads: 4, Vocab: 512, MaxSeq: 512, Tied: true}
	for _, f := range []cost.DType{cost.FP32, cost.Q8_0, cost.NF4, cost.FP4, cost.BF16} {
		s := &StepCalibrator{Threads: 1}
		var timed arch.Config
		var got settled
		s.onSettle = func(p arch.Config, g settled) { timed, got = p, g }
		m, err := s.Measure(context.Background(), c, cost.Uniform(f), cost.FP32, compiler.CompileDefault)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		layer, head, pos := m.Layer, m.Head, m.Position
		// A position of context costs a layer less than its whole step.
		if layer <= 0 || layer > 0.1 || head < 0 || head > 0.1 || pos < 0 || pos > layer {
			t.Errorf("%s: layer %.3g s, head %.3g s, %.3g s a position", f, layer, head, pos)
		}
		// The shape fits the budget: its whole model is timed, and the
		// step predicted at the measured position is its measured step.
		if timed.Layers != c.Layers || m.Layers != c.Layers {
			t.Errorf("%s: timed a model of %d layers (reported %d), want the shape's %d", f, timed.Layers, m.Layers, c.Layers)
		}
		if whole := float64(c.Layers)*layer + head; math.Abs(whole-got.T[1]) > 1e-9*got.T[1] {
			t.Errorf("%s: %d layers and the rest make %.4g s, but the whole model's step measured %.4g s", f, c.Layers, whole, got.T[1])
		}
		t.Logf("%s: layer %.1f us, head %.1f us, %.3f us a position", f, 1e6*layer, 1e6*head, 1e6*pos)
	}
	short := c
	short.MaxSeq = 64
	if _, _, pos, err := DecodeStep(context.Background(), short, cost.FP32, cost.FP32, compiler.CompileDefault, 1); err != nil || pos != 0 {
		t.Errorf("a 64-position shape: %v, %.3g s a position, want none measured", err, pos)
	}
	if _, _, _, err := DecodeStep(context.Background(), c, cost.FP16, cost.FP32, compiler.CompileDefault, 1); err == nil {
		t.Error("fp16 has no CPU kernel, yet its step was measured")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the step model's temporary files are left behind: %v", left)
	}
}

// TestSplitStep checks how a layer's and the rest's shares are taken
// from the steps of models of one and of several layers.
func TestSplitStep(t *testing.T) {
	for _, c := range []struct {
		t           [2]float64
		layers      int
		layer, head float64
	}{
		{[2]float64{100, 300}, 5, 50, 50},
		{[2]float64{100, 100}, 3, 0, 100},
		{[2]float64{100, 90}, 3, 0, 90},  // noise: the larger model measured faster
		{[2]float64{10, 300}, 3, 100, 0}, // noise: a layer would cost more than the one-layer model
		{[2]float64{80, 80}, 1, 40, 40},  // one layer: shared in halves
	} {
		layer, head := splitStep(c.t, c.layers)
		if math.Abs(layer-c.layer) > 1e-9 || math.Abs(head-c.head) > 1e-9 {
			t.Errorf("splitStep(%v, %d) = %g, %g; want %g, %g", c.t, c.layers, layer, head, c.layer, c.head)
		}
	}
}

// TestStepShape checks which shape a decode step is measured on: the
// llama2.c shapes as they are, larger ones narrowed to the budget with
// the same head size and grouping.
func TestStepShape(t *testing.T) {
	for _, name := range []string{"llama-2-7b", "llama-2-70b", "llama-3.1-8b", "llama-3.1-70b"} {
		c, ok := arch.Preset(name)
		if !ok {
			t.Fatalf("no preset %s", name)
		}
		p, late, err := stepShape(c, StepBudget)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := stepFileBytes(p); b > StepBudget || b < StepBudget/2 {
			t.Errorf("%s: measured on %d MiB, want within (%d, %d] MiB", name, b>>20, StepBudget>>21, StepBudget>>20)
		}
		if p.HeadSize() != c.HeadSize() || p.Heads*c.KVHeads != c.Heads*p.KVHeads || p.Layers != 3 || late != 264 {
			t.Errorf("%s: measured on %+v (late %d)", name, p, late)
		}
		// Three layers must stream from memory, not from the 32 MiB L3.
		if b := 4 * 3 * stepLayerParams(p); b < 128<<20 {
			t.Errorf("%s: three layers are only %d MiB", name, b>>20)
		}
		t.Logf("%s: dim %d hidden %d heads %d/%d vocab %d: %d MiB", name, p.Dim, p.HiddenDim, p.Heads, p.KVHeads, p.Vocab, stepFileBytes(p)>>20)
	}
	c := arch.Config{Dim: 768, HiddenDim: 2048, Layers: 12, Heads: 12, KVHeads: 12, Vocab: 32000, MaxSeq: 1024, Tied: true}
	p, _, err := stepShape(c, StepBudget)
	if err != nil || p.Dim != c.Dim || p.Vocab != c.Vocab || p.Layers != 3 {
		t.Errorf("the 110M shape's three-layer measurement is %+v (%v), want itself with 3 layers", p, err)
	}
	// And it is timed whole (12 layers, 440 MB), not extrapolated from
	// three; the 7B shapes are not (wholeBudget).
	if w := wholeShape(c, p, wholeBudget(StepBudget)); w.Layers != 12 || w.Dim != c.Dim {
		t.Errorf("the 110M shape is timed as %+v, want all 12 layers", w)
	}
	big, _ := arch.Preset("llama-2-7b")
	if bp, _, err := stepShape(big, StepBudget); err != nil {
		t.Fatal(err)
	} else if w := wholeShape(big, bp, wholeBudget(StepBudget)); w.Layers != bp.Layers || stepFileBytes(w) > StepBudget {
		t.Errorf("llama-2-7b is timed as %+v, want the narrowed three layers %+v", w, bp)
	}
}

// TestPlanLargeCPUModelBounded plans Llama-2-70B in q8_0 for a CPU with
// the decode step measured: the measurement writes at most StepBudget
// bytes of temporary file (and a small one) and forwards a bounded amount of work (counted,
// not timed), leaves no file behind, and a second plan reads it from the
// cache without measuring.
func TestPlanLargeCPUModelBounded(t *testing.T) {
	src := filepath.Join(t.TempDir(), "big.whisper")
	if err := os.WriteFile(src, []byte("model m {\n  source = \"hf:meta-llama/Llama-2-70b-hf\"\n  quantize { method = q8_0 }\n}\n"+
		"generate g {\n  model = m\n  prompt = \"\"\n  max_tokens = 100\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, ds := compiler.Check(src, compiler.Options{})
	if ds.HasErrors() {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	target := machine(256 << 30)
	target.CPU = &cost.CPURates{Threads: 1, BaseBytes: 40 << 20, Stream: map[string][]cost.StreamPoint{
		"q8_0": {{Bytes: 16 << 20, BytesPerSecond: 20e9}, {Bytes: 128 << 20, BytesPerSecond: 10e9}}}}
	tmp, cache := t.TempDir(), t.TempDir()
	plan := func() (*planner.Stage, *StepCalibrator) {
		s := &StepCalibrator{Threads: 1, Rates: target.CPU, TempDir: tmp, CacheDir: cache}
		p, ds := planner.Build(prog, target, planner.Options{DecodeStep: func(c arch.Config, f cost.BlockFormats, head cost.DType, mode compiler.CompileMode) (cost.MeasuredStep, error) {
			return s.Measure(context.Background(), c, f, head, mode)
		}})
		if ds.HasErrors() {
			t.Fatal(diag.Text(prog.Files, ds))
		}
		st := p.Stage("generate.g")
		if st == nil || st.Time == nil {
			t.Fatal("no generate stage time")
		}
		return st, s
	}
	st, s := plan()
	// Two models stepped 56 times a round (at most stepMaxRounds rounds),
	// prefilled to position 263 and stepped 25 times more,
	// none larger than the budget's parameters.
	const tokens = 4 * stepMaxRounds * (56 + 25 + 264 - 57) // and again on a narrow model for the attention
	// The narrowed model's file, then the narrow attention model's (a
	// few tens of MiB), each unmapped before the next.
	if s.TempBytes() <= 0 || s.TempBytes() > StepBudget*5/4 {
		t.Errorf("the measurement wrote %d MiB of temporary files, want at most %d MiB", s.TempBytes()>>20, StepBudget*5/4>>20)
	}
	if s.Work() <= 0 || s.Work() > tokens*(StepBudget/4) {
		t.Errorf("the measurement forwarded %.3g token-parameters, want at most %.3g", float64(s.Work()), float64(tokens*(StepBudget/4)))
	}
	// The plan's step is the narrowed shape's measured one (in the cache),
	// scaled by the weights' bytes and the calibrated rates, about 50×
	// for a layer: the measurement's speed depends on the machine's load
	// (0.6 GB/s under a full test suite on 2 cores, 10 GB/s quiet), the
	// scaling does not.
	c, _ := arch.Preset("llama-2-70b")
	p, _, err := stepShape(c, StepBudget)
	if err != nil {
		t.Fatal(err)
	}
	var measured Step
	for k, v := range s.readCache() {
		if strings.Contains(k, fmt.Sprintf("dim %d hidden %d ", p.Dim, p.HiddenDim)) {
			measured = v
		}
	}
	big := c
	big.Layers = p.Layers
	want := measured.scale(p, big, cost.Uniform(cost.Q8_0), cost.Q8_0, target.CPU)
	if l := st.Time.DecodeLayerSeconds; measured.Layer <= 0 || math.Abs(l-want.Layer) > 1e-9*want.Layer || l < 40*measured.Layer {
		t.Errorf("a layer's step is %.3g s, want %.3g s scaled from the narrowed shape's %.3g s", l, want.Layer, measured.Layer)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
	again, s2 := plan()
	if s2.TempBytes() != 0 || s2.Work() != 0 {
		t.Errorf("the second plan measured again (%d bytes written) instead of reading the cache", s2.TempBytes())
	}
	if again.Time.DecodeLayerSeconds != st.Time.DecodeLayerSeconds || again.Time.DecodeHeadSeconds != st.Time.DecodeHeadSeconds {
		t.Errorf("the cached step differs: %+v, then %+v", st.Time, again.Time)
	}
	t.Logf("70B q8_0: layer %.1f ms, head %.1f ms, %.2f us a position; %d MiB written, %.3g token-parameters",
		1e3*st.Time.DecodeLayerSeconds, 1e3*st.Time.DecodeHeadSeconds, 1e6*st.Time.DecodePositionSeconds, s.TempBytes()>>20, float64(s.Work()))
}

// TestStepCalibratorCacheUnusable checks that an unusable user cache
// directory is said, and the calibrator still works from memory.
func TestStepCalibratorCacheUnusable(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "relative/cache")
	t.Setenv("HOME", "")
	s, err := NewStepCalibrator(nil, 1, nil)
	if err == nil || s == nil || s.CacheDir != "" {
		t.Fatalf("calibrator %+v, error %v; want a memory-only calibrator and an error", s, err)
	}
	s.TempDir = t.TempDir()
	c := arch.Config{Name: "step", Family: arch.Llama, Dim: 64, HiddenDim: 172, Layers: 5, Heads: 8, KVHeads: 4, Vocab: 512, MaxSeq: 64, Tied: true}
	if _, _, _, err := s.DecodeStep(context.Background(), c, cost.FP32, cost.FP32, compiler.CompileDefault); err != nil {
		t.Fatal(err)
	}
	written := s.TempBytes()
	if _, _, _, err := s.DecodeStep(context.Background(), c, cost.FP32, cost.FP32, compiler.CompileDefault); err != nil || s.TempBytes() != written {
		t.Errorf("measured again (%v): %d then %d bytes written", err, written, s.TempBytes())
	}
}

// TestPlanSaysNoisy: a decode step whose rounds of measurement spread
// more than cost.StepNoisy apart makes the plan say that the machine
// looked noisy; a steady one does not.
func TestPlanSaysNoisy(t *testing.T) {
	src := filepath.Join(t.TempDir(), "g.whisper")
	if err := os.WriteFile(src, []byte("model m {\n  source = \"hf:meta-llama/Llama-2-7b-hf\"\n  quantize { method = q8_0 }\n}\n"+
		"generate g {\n  model = m\n  prompt = \"\"\n  max_tokens = 100\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, ds := compiler.Check(src, compiler.Options{})
	if ds.HasErrors() {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	target := machine(256 << 30)
	target.CPU = &cost.CPURates{Threads: 1, BaseBytes: 40 << 20, Stream: map[string][]cost.StreamPoint{
		"q8_0": {{Bytes: 16 << 20, BytesPerSecond: 20e9}, {Bytes: 128 << 20, BytesPerSecond: 10e9}}}}
	for _, c := range []struct {
		spread float64
		rounds int
		noisy  bool
	}{{0.02, 2, false}, {0.3, 6, true}} {
		p, ds := planner.Build(prog, target, planner.Options{DecodeStep: func(arch.Config, cost.BlockFormats, cost.DType, compiler.CompileMode) (cost.MeasuredStep, error) {
			return cost.MeasuredStep{Layer: 0.004, Head: 0.002, Position: 1e-6, Rounds: c.rounds, Spread: c.spread}, nil
		}})
		if ds.HasErrors() {
			t.Fatal(diag.Text(prog.Files, ds))
		}
		st := p.Stage("generate.g")
		if st == nil || st.Time == nil || st.Time.Bound != "measured" {
			t.Fatalf("no measured generate stage time: %+v", st)
		}
		if st.Time.DecodeRounds != c.rounds || st.Time.DecodeSpread != c.spread {
			t.Errorf("the plan records %d rounds spread %g, want %d and %g", st.Time.DecodeRounds, st.Time.DecodeSpread, c.rounds, c.spread)
		}
		if got := strings.Contains(st.Time.Assumption, "looked noisy"); got != c.noisy {
			t.Errorf("spread %g: the assumption %q says noisy = %t, want %t", c.spread, st.Time.Assumption, got, c.noisy)
		}
		if c.noisy && !strings.Contains(st.Time.Assumption, "6 rounds of steps spread 30% apart") {
			t.Errorf("the assumption does not give the rounds and spread: %q", st.Time.Assumption)
		}
	}
}

// TestPlanUnmeasuredDecode: when the decode step of the formats the graph
// runs cannot be measured, the plan predicts no decode rate and says why,
// rather than one from the streaming rates, which have none for a GGUF
// block format.
func TestPlanUnmeasuredDecode(t *testing.T) {
	src := filepath.Join(t.TempDir(), "g.whisper")
	if err := os.WriteFile(src, []byte("model m {\n  source = \"hf:meta-llama/Llama-2-7b-hf\"\n  quantize { method = q8_0 }\n}\n"+
		"generate g {\n  model = m\n  prompt = \"\"\n  max_tokens = 100\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, ds := compiler.Check(src, compiler.Options{})
	if ds.HasErrors() {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	target := machine(256 << 30)
	target.CPU = &cost.CPURates{Threads: 1, BaseBytes: 40 << 20, Stream: map[string][]cost.StreamPoint{
		"q8_0": {{Bytes: 16 << 20, BytesPerSecond: 20e9}, {Bytes: 128 << 20, BytesPerSecond: 10e9}}}}
	var asked []cost.DType
	p, ds := planner.Build(prog, target, planner.Options{DecodeStep: func(_ arch.Config, f cost.BlockFormats, head cost.DType, _ compiler.CompileMode) (cost.MeasuredStep, error) {
		if !f.Uniform() || f.Stored {
			t.Errorf("the step was asked for blocks %s, want q8_0 blocks quantised at load", f)
		}
		asked = append(asked, f.Default, head)
		return cost.MeasuredStep{}, fmt.Errorf("cannot time %s", f)
	}})
	if ds.HasErrors() {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	st := p.Stage("generate.g")
	if st == nil || st.Time == nil {
		t.Fatal("no generate stage time")
	}
	if len(asked) != 2 || asked[0] != cost.Q8_0 || asked[1] != cost.Q8_0 {
		t.Errorf("the step was asked for %v, want the graph's q8_0 layers and head", asked)
	}
	if st.Time.Bound != "unknown" || st.Time.TokensPerSecond != 0 || !strings.Contains(st.Time.Assumption, "decode not predicted") ||
		!strings.Contains(st.Time.Assumption, "cannot time q8_0") {
		t.Errorf("unmeasured decode: %+v", st.Time)
	}
}

// TestStepCalibrationPoolLikeRun checks that the decode-step calibration
// at two threads runs as a two-thread run does: its two models share one
// worker pool, held while they step (engine.Generate holds a run's pool
// through its loop), and every product they share goes to that pool in
// the fixed split, as many as the same steps make on an engine of the
// run's kind: none runs alone and none on another pool.
func TestStepCalibrationPoolLikeRun(t *testing.T) {
	c := arch.Config{Name: "pool", Family: arch.Llama, Dim: 256, HiddenDim: 768, Layers: 3, Heads: 8, KVHeads: 8, Vocab: 512, MaxSeq: 128, Tied: true}
	s := &StepCalibrator{Threads: 2, TempDir: t.TempDir()}
	var pool *kernels.Pool
	var rounds int
	s.onPool = func(p *kernels.Pool) {
		pool = p
		if !p.Held() {
			t.Error("the calibration's pool is not held while its models step")
		}
	}
	s.onSettle = func(_ arch.Config, g settled) { rounds = g.Rounds }
	if _, err := s.Measure(context.Background(), c, cost.Uniform(cost.Q8_0), cost.Q8_0, compiler.CompileDefault); err != nil {
		t.Fatal(err)
	}
	if pool == nil || pool.Threads() != 2 || rounds < 2 {
		t.Fatalf("pool %v, %d rounds", pool, rounds)
	}
	if pool.Held() {
		t.Error("the calibration's pool is still held after measuring")
	}
	got := pool.Stats()
	// The same passes on engines of the run's kind, each with its own
	// pool: per round, 56 steps from position 0 at each of the two
	// depths, a prefill to just before the later steps' position and 25
	// steps there
	// (how many products a step shares depends on its position:
	// attention is shared from some length of context on).
	_, late, err := stepShape(c, StepBudget)
	if err != nil || late == 0 {
		t.Fatalf("stepShape: late %d, %v", late, err)
	}
	// (Building an engine shares work of its own.)
	var first, round uint64
	for _, layers := range []int{1, c.Layers} {
		m := c
		m.Layers = layers
		opts := engine.Options{Attention: engine.AttentionEager, KVCache: true, Compile: compiler.CompileDefault, Threads: 2, Context: c.MaxSeq,
			Weights: map[string]engine.Weight{}}
		for _, n := range engine.LinearNames(m) {
			opts.Weights[n] = engine.Weight{Format: cost.Q8_0}
		}
		e, err := engine.New(context.Background(), weights.Random(m, 3), opts)
		if err != nil {
			t.Fatal(err)
		}
		pass := func() uint64 {
			a := e.PoolStats().Products
			e.Reset()
			for range 56 {
				if _, err := e.Forward(context.Background(), []int{1}); err != nil {
					t.Fatal(err)
				}
			}
			prompt := make([]int, late-57)
			for i := range prompt {
				prompt[i] = 1 + i%(c.Vocab-1)
			}
			if _, err := e.Forward(context.Background(), prompt); err != nil {
				t.Fatal(err)
			}
			for range 25 {
				if _, err := e.Forward(context.Background(), []int{1}); err != nil {
					t.Fatal(err)
				}
			}
			return e.PoolStats().Products - a
		}
		built := e.PoolStats().Products // what building it shared
		first += built + pass()
		round += pass()
	}
	if round == 0 {
		t.Fatal("the shape's decode steps share no product: the test measures nothing")
	}
	want := first + uint64(rounds-1)*round
	if got.Products != want || got.Alone != 0 || got.Joined+got.Taken != got.Products {
		t.Errorf("calibration pool %+v: want %d products (%d rounds of passes sharing %d, the first %d), none alone, each worker range joined or taken",
			got, want, rounds, round, first)
	}
}

// TestDecodeStepAsStored checks that a GGUF model's block formats are
// measured as a run reads them: the step model is a GGUF file holding each
// linear weight in the format its block gives it (and a tied classifier's
// embedding in the head's), mapped back, and the block formats the engine
// cannot produce are refused when they are not stored.
func TestDecodeStepAsStored(t *testing.T) {
	tmp := t.TempDir()
	c := arch.Config{Name: "stored", Family: arch.Llama, Dim: 256, HiddenDim: 512, Layers: 3, Heads: 4, KVHeads: 4, Vocab: 512, MaxSeq: 128, Tied: true}
	q4km := cost.NewBlockFormats(map[string]cost.DType{"q_proj": cost.Q4K, "k_proj": cost.Q4K, "v_proj": cost.Q6K, "o_proj": cost.Q4K,
		"gate_proj": cost.Q4K, "up_proj": cost.Q4K, "down_proj": cost.Q6K}, []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"})
	q4km.Stored = true
	s := &StepCalibrator{Threads: 1, TempDir: tmp}
	ws, err := s.mappedRandom(c, 3, q4km, cost.Q6K)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]weights.DType{"layers.2.attention.wq.weight": weights.Q4_K, "layers.2.attention.wv.weight": weights.Q6_K,
		"layers.0.feed_forward.w2.weight": weights.Q6_K, "layers.0.feed_forward.w3.weight": weights.Q4_K,
		"tok_embeddings.weight": weights.Q6_K, "norm.weight": weights.F32}
	for name, d := range want {
		if tn, err := ws.Get(name); err != nil || tn.DType != d {
			t.Errorf("%s: %v, %v; want %s", name, tn, err, d)
		}
	}
	ws.Close()
	for _, tc := range []struct {
		block cost.BlockFormats
		head  cost.DType
	}{{q4km, cost.Q6K}, {cost.BlockFormats{Default: cost.Q4_0, Stored: true}, cost.Q4_0}, {cost.BlockFormats{Default: cost.Q8_0, Stored: true}, cost.Q8_0}} {
		m, err := s.Measure(context.Background(), c, tc.block, tc.head, compiler.CompileDefault)
		if err != nil {
			t.Fatalf("%s: %v", tc.block, err)
		}
		if m.Layer <= 0 || m.Head < 0 || m.Layers != c.Layers {
			t.Errorf("%s: %+v", tc.block, m)
		}
		t.Logf("%s, head %s: layer %.1f us, head %.1f us", tc.block, tc.head, 1e6*m.Layer, 1e6*m.Head)
	}
	if _, err := s.Measure(context.Background(), c, cost.Uniform(cost.Q4_0), cost.Q4_0, compiler.CompileDefault); err == nil || !strings.Contains(err.Error(), "only as a GGUF file stores them") {
		t.Errorf("q4_0 quantised at load: %v, want a refusal", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the step models' temporary files are left behind: %v", left)
	}
}
