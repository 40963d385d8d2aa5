package engine

import (
	"bytes"
	"context"
	"math"
	goruntime "runtime"
	"testing"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/sample"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// TestKVCacheEquivalence checks ML004's two paths against each other: the
// cached decode reuses keys and values (one new row per step) while the
// uncached one recomputes the whole prefix (pos+1 rows per step), and both
// give the same logits at every position.
func TestKVCacheEquivalence(t *testing.T) {
	ws, _ := loadStories(t)
	ctx := context.Background()
	cached, err := New(ctx, ws, Options{Attention: AttentionEager, KVCache: true, Compile: CompileReduceOverhead, Quantize: QuantizeNone})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := New(ctx, ws, Options{Attention: AttentionEager, KVCache: false, Compile: CompileReduceOverhead, Quantize: QuantizeNone})
	if err != nil {
		t.Fatal(err)
	}
	tokens := []int{1, 403, 306, 261, 378, 395, 269, 412, 261, 497, 11, 30}
	for i, tok := range tokens {
		a, err := cached.Forward(ctx, []int{tok})
		if err != nil {
			t.Fatal(err)
		}
		a = append([]float32(nil), a...)
		b, err := plain.Forward(ctx, []int{tok})
		if err != nil {
			t.Fatal(err)
		}
		for j := range a {
			if d := math.Abs(float64(a[j] - b[j])); d > 1e-4*math.Max(1, math.Abs(float64(a[j]))) {
				t.Fatalf("position %d, logit %d: cached %v, recomputed %v", i, j, a[j], b[j])
			}
		}
	}
	n := len(tokens)
	if cached.rows != n || plain.rows != n*(n+1)/2 {
		t.Errorf("rows computed: cached %d (want %d), recomputed %d (want %d)", cached.rows, n, plain.rows, n*(n+1)/2)
	}
	// A prompt processed in one call equals the same tokens one by one.
	cached.Reset()
	a, err := cached.Forward(ctx, tokens)
	if err != nil {
		t.Fatal(err)
	}
	var b []float32
	plain.Reset()
	for _, tok := range tokens {
		if b, err = plain.Forward(ctx, []int{tok}); err != nil {
			t.Fatal(err)
		}
	}
	for j := range a {
		if d := math.Abs(float64(a[j] - b[j])); d > 1e-4*math.Max(1, math.Abs(float64(a[j]))) {
			t.Fatalf("batched prompt, logit %d: %v vs %v step by step", j, a[j], b[j])
		}
	}
}

// TestIgnoreEOSAndSampling checks that ignore_eos yields exactly
// max_tokens tokens where greedy decoding would stop at BOS, and that
// seeded sampling repeats itself and changes with the seed.
func TestIgnoreEOSAndSampling(t *testing.T) {
	ws, tok := loadStories(t)
	ctx := context.Background()
	gen := func(p sample.Params, maxTokens int, ignore bool) (string, Stats) {
		t.Helper()
		e, err := New(ctx, ws, Options{Attention: AttentionFlash2, KVCache: true, Compile: CompileReduceOverhead, Quantize: QuantizeNone})
		if err != nil {
			t.Fatal(err)
		}
		s, err := sample.New(p)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		st, err := Generate(ctx, e, tok, GenerateOptions{Prompt: "Lily", MaxTokens: maxTokens, IgnoreEOS: ignore, Sampler: s, Out: &out})
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), st
	}
	_, stopped := gen(sample.Params{}, 500, false)
	if stopped.Generated >= 500 {
		t.Skipf("greedy decoding did not reach BOS within 500 tokens; cannot test ignore_eos here")
	}
	if _, st := gen(sample.Params{}, 500, true); st.Generated != 500 {
		t.Errorf("ignore_eos generated %d tokens, want exactly 500 (without it: %d)", st.Generated, stopped.Generated)
	}
	p := sample.Params{Temperature: 0.8, TopP: 0.9, Seed: 7}
	a, _ := gen(p, 60, false)
	b, _ := gen(p, 60, false)
	if a != b {
		t.Errorf("seed 7 gave two different texts:\n%q\n%q", a, b)
	}
	p.Seed = 8
	if c, _ := gen(p, 60, false); c == a {
		t.Errorf("seeds 7 and 8 gave the same text %q", a)
	}
	if len(a) < 5 || a[:4] != "Lily" {
		t.Errorf("the prompt is not echoed first: %q", a)
	}
}

// TestContextOption checks that Options.Context bounds the positions: the
// engine refuses more, and generation stops there.
func TestContextOption(t *testing.T) {
	ws, tok := loadStories(t)
	ctx := context.Background()
	e, err := New(ctx, ws, Options{Attention: AttentionEager, KVCache: true, Compile: CompileDefault, Quantize: QuantizeNone, Context: 10})
	if err != nil {
		t.Fatal(err)
	}
	if e.Context() != 10 || len(e.st.keys[0]) != 0 {
		t.Fatalf("context %d, cache %d floats before any token; want 10 and an empty cache", e.Context(), len(e.st.keys[0]))
	}
	s, _ := sample.New(sample.Params{})
	var out bytes.Buffer
	st, err := Generate(ctx, e, tok, GenerateOptions{MaxTokens: 50, IgnoreEOS: true, Sampler: s, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if st.Generated != 10 || e.Pos() != 10 {
		t.Errorf("generated %d tokens at position %d, want 10 at 10", st.Generated, e.Pos())
	}
	if kvd := ws.Config.KVHeads * ws.Config.HeadSize(); len(e.st.keys[0]) != 10*kvd {
		t.Errorf("cache holds %d floats, want the 10 positions' %d", len(e.st.keys[0]), 10*kvd)
	}
	if _, err := e.Forward(ctx, []int{5}); err == nil {
		t.Errorf("Forward past the context succeeded")
	}
	if _, err := New(ctx, ws, Options{Attention: AttentionEager, Compile: CompileDefault, Quantize: QuantizeNone, Context: -1}); err == nil {
		t.Errorf("a negative context was accepted")
	}
}

// TestChosenContextAllocatedOnce checks that the first token allocates
// the cache for the whole of a chosen context, so that no smaller cache is
// left behind as garbage (Reserve does the same before any token), and
// that the model's own context still grows from 64 positions. An engine
// used only through ForwardBatch (the server's, whose slots hold their
// own caches) allocates none.
func TestChosenContextAllocatedOnce(t *testing.T) {
	ws, _ := loadStories(t)
	ctx := context.Background()
	kvd := ws.Config.KVHeads * ws.Config.HeadSize()
	for _, c := range []struct{ context, want int }{{100, 100}, {0, 64}} {
		e, err := New(ctx, ws, Options{Attention: AttentionEager, KVCache: true, Compile: CompileDefault, Quantize: QuantizeNone, Context: c.context})
		if err != nil {
			t.Fatal(err)
		}
		if len(e.st.keys[0]) != 0 {
			t.Errorf("context %d: %d floats cached before any token", c.context, len(e.st.keys[0]))
		}
		if err := e.Reserve(); err != nil {
			t.Fatal(err)
		}
		if reserved := map[int]int{100: 100 * kvd, 0: 0}[c.context]; len(e.st.keys[0]) != reserved {
			t.Errorf("context %d: Reserve cached %d floats, want %d", c.context, len(e.st.keys[0]), reserved)
		}
		if _, err := e.Forward(ctx, []int{1}); err != nil {
			t.Fatal(err)
		}
		k0 := &e.st.keys[0][0]
		if len(e.st.keys[0]) != c.want*kvd {
			t.Errorf("context %d: the first token cached %d positions, want %d", c.context, len(e.st.keys[0])/kvd, c.want)
		}
		for tok := range 69 {
			if _, err := e.Forward(ctx, []int{tok + 5}); err != nil {
				t.Fatal(err)
			}
		}
		if grew := &e.st.keys[0][0] != k0; grew != (c.context == 0) {
			t.Errorf("context %d: the cache was reallocated at 70 positions: %v", c.context, grew)
		}
	}
}

// TestHugeContextCostsNothingUpFront checks that a header claiming an
// enormous context allocates nothing for it until positions are used.
func TestHugeContextCostsNothingUpFront(t *testing.T) {
	c := arch.Config{Name: "tiny", Family: arch.Llama, Dim: 16, HiddenDim: 24, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 20, MaxSeq: 1 << 30, RopeTheta: 10000, NormEps: 1e-5}
	for _, cached := range []bool{true, false} {
		e, err := New(context.Background(), weights.Random(c, 1), Options{Attention: AttentionFlash2, KVCache: cached, Compile: CompileReduceOverhead, Quantize: QuantizeNone})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 70 {
			if _, err := e.Forward(context.Background(), []int{i % c.Vocab}); err != nil {
				t.Fatal(err)
			}
		}
		if n := e.st.positions(); n != 128 {
			t.Errorf("cache %v: tables cover %d positions after 70 tokens, want 128 (64 doubled)", cached, n)
		}
	}
}

// buildsWriter records the engine's graph builds at every write.
type buildsWriter struct {
	e      *Engine
	builds []int
}

func (w *buildsWriter) Write(p []byte) (int, error) {
	w.builds = append(w.builds, w.e.builds)
	return len(p), nil
}

// TestDecodeGraphPreparedBeforeFirstToken checks that after a prompt of
// several tokens the one-row decode graph is built before the first token
// is sampled (its building is time to the first token, not decode time),
// and that no decode step builds a graph.
func TestDecodeGraphPreparedBeforeFirstToken(t *testing.T) {
	ws, tok := loadStories(t)
	ctx := context.Background()
	for _, mode := range []Compile{CompileDefault, CompileReduceOverhead} {
		e, err := New(ctx, ws, Options{Attention: AttentionEager, KVCache: true, Compile: mode, Quantize: QuantizeNone})
		if err != nil {
			t.Fatal(err)
		}
		s, err := sample.New(sample.Params{})
		if err != nil {
			t.Fatal(err)
		}
		const prompt = "Once upon a time"
		n := len(tok.Encode(prompt, true, false))
		w := &buildsWriter{e: e}
		st, err := Generate(ctx, e, tok, GenerateOptions{Prompt: prompt, MaxTokens: 20, IgnoreEOS: true, Sampler: s, Out: w})
		if err != nil || st.Generated != 20 || n < 3 {
			t.Fatalf("%s: %v, %d tokens generated, %d prompt tokens", mode, err, st.Generated, n)
		}
		early := 0 // writes before the decode graph was built: the prompt's echo only
		for _, b := range w.builds {
			if b < 2 {
				early++
			}
		}
		if early > n-1 || e.builds != 2 {
			t.Errorf("%s: %d writes before the decode graph was built (the prompt echoes %d pieces), %d graphs built in all (want 2)", mode, early, n-1, e.builds)
		}
	}
}

// TestDecodeStepGarbage checks what a kept graph's decode step leaves for
// the collector: its ops reuse their buffers and attention its
// probabilities, so the bytes a step allocates (Gorgonia's TapeMachine's
// own bookkeeping, about 20-30 KB on this shape) do not grow with the
// position; before, a step at position 900 left 4 times what one at 30
// did.
func TestDecodeStepGarbage(t *testing.T) {
	c := arch.Config{Name: "a", Family: arch.Llama, Dim: 64, HiddenDim: 172, Layers: 5, Heads: 8, KVHeads: 4, Vocab: 512, MaxSeq: 1024, Tied: true, RopeTheta: 10000, NormEps: 1e-5}
	ctx := context.Background()
	for _, mode := range []Compile{CompileDefault, CompileReduceOverhead, CompileMaxAutotune} {
		e, err := New(ctx, weights.Random(c, 1), Options{Attention: AttentionEager, KVCache: true, Compile: mode, Quantize: QuantizeNone, Threads: 1, Context: 1024, CacheDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		perStep := func() float64 {
			var a, b goruntime.MemStats
			goruntime.ReadMemStats(&a)
			for range 32 {
				if _, err := e.Forward(ctx, []int{1}); err != nil {
					t.Fatal(err)
				}
			}
			goruntime.ReadMemStats(&b)
			return float64(b.TotalAlloc-a.TotalAlloc) / 32
		}
		for range 16 {
			e.Forward(ctx, []int{1})
		}
		early := perStep()
		for e.pos < 900 {
			e.Forward(ctx, []int{1})
		}
		late := perStep()
		if early > 48<<10 || late > early*1.25+1024 {
			t.Errorf("%s: a decode step allocates %.0f bytes at position 30 and %.0f at 900", mode, early, late)
		}
		t.Logf("%s: %.0f bytes a step at position 30, %.0f at 900", mode, early, late)
	}
}
