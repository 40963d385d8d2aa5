package engine

import (
	"context"
	"flag"
	"fmt"
	"os"
	goruntime "runtime"
	"syscall"
	"testing"
	"time"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

var writeRandom = flag.String("write15m", "", "write the seeded random stories15M-shaped model as a llama2.c file to this path (for timing llama2.c's run on the same weights)")

// Model shapes of the TinyStories checkpoints, for benchmarks with seeded
// random weights.
var (
	shape15M  = arch.Config{Name: "15M", Family: arch.Llama, Dim: 288, HiddenDim: 768, Layers: 6, Heads: 6, KVHeads: 6, Vocab: 32000, MaxSeq: 256, RopeTheta: 10000, NormEps: 1e-5, Tied: true}
	shape42M  = arch.Config{Name: "42M", Family: arch.Llama, Dim: 512, HiddenDim: 1376, Layers: 8, Heads: 8, KVHeads: 8, Vocab: 32000, MaxSeq: 1024, RopeTheta: 10000, NormEps: 1e-5, Tied: true}
	shape110M = arch.Config{Name: "110M", Family: arch.Llama, Dim: 768, HiddenDim: 2048, Layers: 12, Heads: 12, KVHeads: 12, Vocab: 32000, MaxSeq: 1024, RopeTheta: 10000, NormEps: 1e-5, Tied: true}
)

// TestWriteRandom15M writes the benchmark's 15M model for llama2.c when
// -write15m is given: go test ./runtime/engine -run WriteRandom15M
// -write15m /tmp/r15m.bin, then /tmp/llama2c-run /tmp/r15m.bin -z
// tokenizer32k.bin -t 0 -n 256.
func TestWriteRandom15M(t *testing.T) {
	if *writeRandom == "" {
		t.Skip("only with -write15m PATH")
	}
	f, err := os.Create(*writeRandom)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := llama2c.Write(f, weights.Random(shape15M, 1), 0); err != nil {
		t.Fatal(err)
	}
}

func benchEngine(b *testing.B, c arch.Config, o Options) *Engine {
	b.Helper()
	e, err := New(context.Background(), weights.Random(c, 1), o)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

var compileModes = []Compile{CompileNone, CompileDefault, CompileReduceOverhead, CompileMaxAutotune}

// decodeLoop runs b.N decode steps with the KV cache, positions cycling
// through the first 128, and reports tok/s and the weights' bytes.
func decodeLoop(b *testing.B, e *Engine) {
	ctx := context.Background()
	vocab := e.Config().Vocab
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if e.Pos() == 128 {
			e.Reset()
		}
		if _, err := e.Forward(ctx, []int{i % vocab}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
	b.ReportMetric(float64(e.WeightBytes()), "weight-bytes")
}

// BenchmarkDecode measures single-threaded decode of each model shape
// (reduce_overhead, eager attention, KV cache), in fp32 (the number to
// compare with llama2.c's run on the same weights) and with every linear
// weight, the classifier included, in NF4 or Q8_0.
func BenchmarkDecode(b *testing.B) {
	for _, c := range []arch.Config{shape15M, shape42M, shape110M} {
		for _, q := range []Quantize{QuantizeNone, QuantizeNF4, QuantizeQ8_0} {
			name := q.String()
			if q == QuantizeNone {
				name = "fp32"
			}
			b.Run(c.Name+"/"+name, func(b *testing.B) {
				decodeLoop(b, benchEngine(b, c, Options{Attention: AttentionEager, KVCache: true, Compile: CompileReduceOverhead, Quantize: q, QuantizeHead: true, Threads: 1}))
			})
		}
	}
}

// BenchmarkCompileModes measures 15M decode under each compile mode with
// the same thread budget, every CPU up to 8 (the runtime gives the engine
// every CPU), for ML005.
func BenchmarkCompileModes(b *testing.B) {
	threads := min(goruntime.NumCPU(), 8)
	for _, mode := range compileModes {
		b.Run(fmt.Sprintf("%s/threads=%d", mode, threads), func(b *testing.B) {
			decodeLoop(b, benchEngine(b, shape15M, Options{Attention: AttentionEager, KVCache: true, Compile: mode, Quantize: QuantizeNone, Threads: threads, CacheDir: b.TempDir()}))
		})
	}
}

// BenchmarkCompileModesPrefill measures a 64-token prompt of the 15M shape
// under each compile mode with the same thread budget as
// BenchmarkCompileModes; max_autotune's tile-size search shows here.
func BenchmarkCompileModesPrefill(b *testing.B) {
	ctx := context.Background()
	threads := min(goruntime.NumCPU(), 8)
	prompt := make([]int, 64)
	for i := range prompt {
		prompt[i] = (i * 7919) % shape15M.Vocab
	}
	for _, mode := range compileModes {
		b.Run(fmt.Sprintf("%s/threads=%d", mode, threads), func(b *testing.B) {
			e := benchEngine(b, shape15M, Options{Attention: AttentionFlash2, KVCache: true, Compile: mode, Quantize: QuantizeNone, Threads: threads, CacheDir: b.TempDir()})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e.Reset()
				if _, err := e.Forward(ctx, prompt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(prompt))/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

// BenchmarkPrefill measures processing a 64-token prompt in one call.
func BenchmarkPrefill(b *testing.B) {
	ctx := context.Background()
	for _, c := range []arch.Config{shape15M, shape42M, shape110M} {
		b.Run(c.Name+"/fp32", func(b *testing.B) {
			e := benchEngine(b, c, Options{Attention: AttentionFlash2, KVCache: true, Compile: CompileReduceOverhead, Quantize: QuantizeNone, Threads: 1})
			prompt := make([]int, 64)
			for i := range prompt {
				prompt[i] = (i * 7919) % c.Vocab
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e.Reset()
				if _, err := e.Forward(ctx, prompt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(prompt))/b.Elapsed().Seconds(), "tok/s")
			b.ReportMetric(float64(e.WeightBytes()), "weight-bytes")
		})
	}
}

// BenchmarkKVCache measures the cost of one decode step at positions 16,
// 64 and 256 of the 15M shape (context raised to 512), with the cache
// (flat) and without (the prefix is recomputed, so it grows).
func BenchmarkKVCache(b *testing.B) {
	ctx := context.Background()
	c := shape15M
	c.MaxSeq = 512
	for _, cached := range []bool{true, false} {
		for _, pos := range []int{16, 64, 256} {
			name := fmt.Sprintf("cache=%v/pos=%d", cached, pos)
			b.Run(name, func(b *testing.B) {
				e := benchEngine(b, c, Options{Attention: AttentionEager, KVCache: cached, Compile: CompileReduceOverhead, Quantize: QuantizeNone, Threads: 1})
				prefix := make([]int, pos)
				for i := range prefix {
					prefix[i] = (i * 31) % c.Vocab
				}
				if _, err := e.Forward(ctx, prefix); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := e.Forward(ctx, []int{i % c.Vocab}); err != nil {
						b.Fatal(err)
					}
					e.pos = pos // step back: the next call is at pos again
					e.history = e.history[:min(len(e.history), pos)]
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/token")
			})
		}
	}
}

// BenchmarkForwardBatch measures one decode step of 1, 4, 8 and 16
// sequences in one ForwardBatch call on the 15M shape (fp32, one thread),
// reporting the tokens per second the step gives: batching reads each
// weight once for every sequence of the step.
func BenchmarkForwardBatch(b *testing.B) {
	for _, n := range []int{1, 4, 8, 16} {
		b.Run(fmt.Sprintf("15M/batch%d", n), func(b *testing.B) {
			e := benchEngine(b, shape15M, Options{Attention: AttentionEager, KVCache: true, Compile: CompileReduceOverhead, Quantize: QuantizeNone, Threads: 1})
			ctx := context.Background()
			seqs := make([]Seq, n)
			for i := range seqs {
				seqs[i] = Seq{KV: e.NewKVCache(), Tokens: []int{i + 1}, Logits: make([]float32, shape15M.Vocab)}
			}
			goruntime.GC() // the random weights' garbage is not the step's
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			for i := 0; i < b.N; i++ {
				for k := range seqs {
					seqs[k].Pos = i % 128
				}
				if err := e.ForwardBatch(ctx, seqs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "tok/s")
			// CPU time is the steadier number on a shared machine.
			b.ReportMetric(float64(b.N*n)/(processCPU()-cpu0).Seconds(), "tok/cpu-s")
		})
	}
}

// processCPU returns the CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBuildPrefill measures building (not running) the 128-row
// prefill graph of the 15M shape with Q8_0 weights, as the first prefill
// of a process pays it.
func BenchmarkBuildPrefill(b *testing.B) {
	e := benchEngine(b, shape15M, Options{Attention: AttentionEager, KVCache: true, Compile: CompileReduceOverhead, Quantize: QuantizeQ8_0, QuantizeHead: true, Threads: 1, Context: 161})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.build(128, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoPE measures the rotary embedding of a 15M prefill's queries
// (128 rows of 6 heads of 48).
func BenchmarkRoPE(b *testing.B) {
	st := newState(256, 1, 6, 6, 48, 10000, false)
	if err := st.ensure(128); err != nil {
		b.Fatal(err)
	}
	x := make([]float32, 128*288)
	for i := range x {
		x[i] = float32(i%97) / 97
	}
	y := make([]float32, len(x))
	for i := 0; i < b.N; i++ {
		if err := rotate(st, y, x, 128, 288, false); err != nil {
			b.Fatal(err)
		}
	}
}
