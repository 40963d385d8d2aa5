package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/sample"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// modelPath returns the path of a file in the shared models folder
// (../shared/models from the repository root), skipping when absent.

func loadStories(t testing.TB) (*weights.Set, *tokenizer.BPE) {
	t.Helper()
	ws, err := llama2c.Open(testmodels.Path(t, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	tok, err := tokenizer.ReadLlama2CFile(testmodels.Path(t, "tok512.bin"), ws.Config.Vocab)
	if err != nil {
		t.Fatal(err)
	}
	return ws, tok
}

// TestConformanceStories260K checks that greedy generation reproduces, byte
// for byte, what llama2.c's `run stories260K.bin -z tok512.bin -t 0.0 -n 200`
// prints (testdata/stories260K.golden holds that output), in every
// combination of compile mode, attention kernel and cache.
func TestConformanceStories260K(t *testing.T) {
	ws, tok := loadStories(t)
	want, err := os.ReadFile("testdata/stories260K.golden")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{
		{Attention: AttentionEager, KVCache: true, Compile: CompileNone, Quantize: QuantizeNone},
		{Attention: AttentionEager, KVCache: true, Compile: CompileDefault, Quantize: QuantizeNone},
		{Attention: AttentionEager, KVCache: true, Compile: CompileReduceOverhead, Quantize: QuantizeNone},
		{Attention: AttentionFlash2, KVCache: true, Compile: CompileReduceOverhead, Quantize: QuantizeNone, Threads: 2},
		{Attention: AttentionFlash2, KVCache: true, Compile: CompileMaxAutotune, Quantize: QuantizeNone, Threads: 2, CacheDir: t.TempDir()},
		{Attention: AttentionFlash2, KVCache: false, Compile: CompileDefault, Quantize: QuantizeNone},
	} {
		name := o.Compile.String() + "/" + o.Attention.String()
		if !o.KVCache {
			name += "/nocache"
		}
		t.Run(name, func(t *testing.T) {
			if !o.KVCache && testing.Short() {
				t.Skip("recomputing the prefix is slow; covered in the long run")
			}
			e, err := New(context.Background(), ws, o)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := sample.New(sample.Params{})
			var out bytes.Buffer
			st, err := Generate(context.Background(), e, tok, GenerateOptions{MaxTokens: 200, Sampler: s, Out: &out})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("output differs from llama2.c's\n got: %q\nwant: %q", out.String(), want)
			}
			if st.Generated != 200 {
				t.Errorf("generated %d tokens, want 200", st.Generated)
			}
		})
	}
}

// TestConformanceLlama2CRuns checks more of llama2.c's runs byte for
// byte: a prompt (echoed, then continued greedily) and seeded sampling
// with temperature and top-p, whose xorshift generator and nucleus walk
// package sample reproduces. The goldens are llama2.c's output:
//
//	run stories260K.bin -z tok512.bin -t 0.0 -n 104 -i "Once upon a time"
//	run stories260K.bin -z tok512.bin -t 0.8 -p 0.9 -s 42 -n 200
//	run stories260K.bin -z tok512.bin -t 1.0 -p 0 -s 7 -n 200
func TestConformanceLlama2CRuns(t *testing.T) {
	ws, tok := loadStories(t)
	for _, c := range []struct {
		golden    string
		prompt    string
		maxTokens int
		p         sample.Params
	}{
		{"stories260K-once.golden", "Once upon a time", 100, sample.Params{}},
		{"stories260K-t0.8-p0.9-s42.golden", "", 200, sample.Params{Temperature: 0.8, TopP: 0.9, Seed: 42}},
		{"stories260K-t1-s7.golden", "", 200, sample.Params{Temperature: 1, Seed: 7}},
	} {
		t.Run(c.golden, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", c.golden))
			if err != nil {
				t.Fatal(err)
			}
			e, err := New(context.Background(), ws, Options{Attention: AttentionEager, KVCache: true, Compile: CompileReduceOverhead, Quantize: QuantizeNone})
			if err != nil {
				t.Fatal(err)
			}
			s, err := sample.New(c.p)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if _, err := Generate(context.Background(), e, tok, GenerateOptions{Prompt: c.prompt, MaxTokens: c.maxTokens, Sampler: s, Out: &out}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("output differs from llama2.c's\n got: %q\nwant: %q", out.String(), want)
			}
		})
	}
}

// TestAutotuneCache checks that max_autotune stores its choice and that a
// stored choice is used without searching again.
func TestAutotuneCache(t *testing.T) {
	ws, _ := loadStories(t)
	dir := t.TempDir()
	o := Options{Attention: AttentionEager, KVCache: true, Compile: CompileMaxAutotune, Quantize: QuantizeNone, Threads: 3, CacheDir: dir}
	e, err := New(context.Background(), ws, o)
	if err != nil {
		t.Fatal(err)
	}
	if th := e.exec.Threads; th < 1 || th > 3 || e.exec.TileRows <= 0 || e.Pos() != 0 || len(e.graphs) != 0 {
		t.Errorf("after tuning: exec %+v, position %d, %d graphs; want 1..3 threads, a tile, a fresh engine", e.exec, e.Pos(), len(e.graphs))
	}
	data, err := os.ReadFile(filepath.Join(dir, "autotune.json"))
	if err != nil {
		t.Fatal(err)
	}
	cache := map[string]tuning{}
	if err := json.Unmarshal(data, &cache); err != nil {
		t.Fatal(err)
	}
	key := e.autotuneKey()
	if _, ok := cache[key]; !ok {
		t.Fatalf("cache %s lacks key %q", data, key)
	}
	// A planted result is used as is.
	cache[key] = tuning{Threads: 2, TileRows: 12}
	data, _ = json.Marshal(cache)
	if err := os.WriteFile(filepath.Join(dir, "autotune.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	e, err = New(context.Background(), ws, o)
	if err != nil {
		t.Fatal(err)
	}
	if e.exec.Threads != 2 || e.exec.TileRows != 12 || e.st.exec != e.exec {
		t.Errorf("exec = %+v (attention %+v), want the cached threads 2, tile 12", e.exec, e.st.exec)
	}
	// A corrupt cache costs a search, not an error; so does quantisation.
	if err := os.WriteFile(filepath.Join(dir, "autotune.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), ws, o); err != nil {
		t.Fatal(err)
	}
	o.Quantize = QuantizeNF4
	if _, err := New(context.Background(), ws, o); err != nil {
		t.Fatal(err)
	}
}

// TestQuantizedLogits checks that each quantisation runs and stays close to
// fp32: the logits' cosine similarity after a short prompt, and fewer
// weight bytes.
func TestQuantizedLogits(t *testing.T) {
	ws, _ := loadStories(t)
	ctx := context.Background()
	prompt := []int{1, 400, 30, 260, 7}
	run := func(q Quantize) ([]float32, int64) {
		t.Helper()
		e, err := New(ctx, ws, Options{Attention: AttentionFlash2, KVCache: true, Compile: CompileReduceOverhead, Quantize: q, QuantizeHead: true})
		if err != nil {
			t.Fatal(err)
		}
		var l []float32
		for _, tok := range prompt {
			if l, err = e.Forward(ctx, []int{tok}); err != nil {
				t.Fatal(err)
			}
		}
		return append([]float32(nil), l...), e.WeightBytes()
	}
	ref, refBytes := run(QuantizeNone)
	for _, c := range []struct {
		q      Quantize
		minCos float64
	}{{QuantizeQ8_0, 0.9999}, {QuantizeNF4, 0.995}, {QuantizeFP4, 0.99}} {
		got, n := run(c.q)
		var dot, a, b float64
		for i := range ref {
			dot += float64(ref[i]) * float64(got[i])
			a += float64(ref[i]) * float64(ref[i])
			b += float64(got[i]) * float64(got[i])
		}
		cos := dot / math.Sqrt(a*b)
		if cos < c.minCos {
			t.Errorf("%s: logits cosine similarity to fp32 = %.4f, want ≥ %.3f", c.q, cos, c.minCos)
		}
		if n >= refBytes {
			t.Errorf("%s: %d weight bytes, not fewer than fp32's %d", c.q, n, refBytes)
		}
		t.Logf("%s: cosine %.4f, %d bytes (fp32 %d)", c.q, cos, n, refBytes)
	}
}
