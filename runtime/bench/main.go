//go:build unix

// Command bench measures whisperc's CPU inference on llama2.c-shaped models
// with seeded random weights, for the side-by-side comparison with
// llama.cpp that bench.sh runs (see README.md in this folder). It reads
// the process's CPU time and memory the Unix way, and builds on Unix only.
//
//	go run ./runtime/bench gen -shape 42M -tokenizer TOK -dir DIR
//	go run ./runtime/bench run -model gguf:DIR/42M-q4_0.gguf -quantize none -threads 1
//
// gen writes DIR/SHAPE.bin (llama2.c, fp32) and DIR/SHAPE-{f32,q8_0,q4_0}.gguf
// (the same weights through the GGUF writer, with the tokenizer's
// vocabulary). run loads one model, prefills a prompt of -prompt random
// tokens as one batch, decodes -gen tokens greedily and prints one JSON line:
// load seconds, prefill and decode tok/s, peak RSS and the model file's size.
// load drives a running server (serve-load.sh) and prints the serving
// benchmark.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"syscall"
	"time"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// shapes are the TinyStories checkpoints' architectures.
var shapes = map[string]arch.Config{
	"15M":  {Name: "15M", Family: arch.Llama, Dim: 288, HiddenDim: 768, Layers: 6, Heads: 6, KVHeads: 6, Vocab: 32000, MaxSeq: 256, RopeTheta: 10000, NormEps: 1e-5, Tied: true},
	"42M":  {Name: "42M", Family: arch.Llama, Dim: 512, HiddenDim: 1376, Layers: 8, Heads: 8, KVHeads: 8, Vocab: 32000, MaxSeq: 1024, RopeTheta: 10000, NormEps: 1e-5, Tied: true},
	"110M": {Name: "110M", Family: arch.Llama, Dim: 768, HiddenDim: 2048, Layers: 12, Heads: 12, KVHeads: 12, Vocab: 32000, MaxSeq: 1024, RopeTheta: 10000, NormEps: 1e-5, Tied: true},
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench gen|run|load|trainmem [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "run":
		err = run(os.Args[2:])
	case "load":
		err = load(os.Args[2:])
	case "trainmem":
		err = trainMem(os.Args[2:])
	case "cold":
		err = cold(os.Args[2:])
	case "ceiling":
		err = ceiling(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (gen, run, load, trainmem or ceiling)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	shape := fs.String("shape", "15M", "model shape: 15M, 42M or 110M")
	tokPath := fs.String("tokenizer", "", "llama2.c tokenizer.bin with the 32,000-token vocabulary")
	dir := fs.String("dir", ".", "output folder")
	fs.Parse(args)
	c, ok := shapes[*shape]
	if !ok {
		return fmt.Errorf("unknown shape %q (15M, 42M or 110M)", *shape)
	}
	tok, err := tokenizer.ReadLlama2CFile(*tokPath, c.Vocab)
	if err != nil {
		return err
	}
	vocab := tokenizer.GGUFVocab(tok)
	ws := weights.Random(c, 1)
	write := func(name string, f func(*os.File) error) error {
		out, err := os.Create(filepath.Join(*dir, name))
		if err != nil {
			return err
		}
		if err := f(out); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
	if err := write(*shape+".bin", func(f *os.File) error { return llama2c.Write(f, ws, 0) }); err != nil {
		return err
	}
	// The file names are bench.sh's, fixed here rather than taken from the
	// dtypes' names, which are for messages.
	for _, f := range []struct {
		d    weights.DType
		name string
	}{{weights.F32, "f32"}, {weights.Q8_0, "q8_0"}, {weights.Q4_0, "q4_0"}} {
		s, err := gguf.ConvertSet(ws, f.d)
		if err != nil {
			return err
		}
		if err := write(fmt.Sprintf("%s-%s.gguf", *shape, f.name), func(f *os.File) error { return gguf.WriteSet(f, s, vocab) }); err != nil {
			return err
		}
	}
	return nil
}

// result is what run prints.
type result struct {
	Model         string  `json:"model"`
	Quantize      string  `json:"quantize"`
	Threads       int     `json:"threads"`
	LoadSeconds   float64 `json:"load_s"`
	PrefillTokens int     `json:"prefill_tokens"`
	PrefillTokS   float64 `json:"prefill_tok_s"`
	DecodeTokens  int     `json:"decode_tokens"`
	DecodeTokS    float64 `json:"decode_tok_s"`
	LoadCPU       float64 `json:"load_cpu_s"`
	PrefillCPU    float64 `json:"prefill_cpu_s"`
	DecodeCPU     float64 `json:"decode_cpu_s"`
	PeakRSSBytes  int64   `json:"peak_rss_bytes"`
	FileBytes     int64   `json:"file_bytes"`
	WeightBytes   int64   `json:"weight_bytes"`
	KVBytes       int64   `json:"kv_bytes"`
	GoHeapBytes   uint64  `json:"go_heap_sys_bytes"`
	// The collector's cycles during decode and the bytes decode
	// allocated: a cycle's mark workers take a P from the two that a
	// two-thread decode keeps busy.
	DecodeGCs        uint32 `json:"decode_gcs"`
	DecodeAllocBytes uint64 `json:"decode_alloc_bytes"`
	// The worker pool's counts over prefill and decode (two threads and
	// up), kernels.PoolStats.
	Pool *kernels.PoolStats `json:"pool,omitempty"`
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	model := fs.String("model", "", "model spec (llama2c:PATH or gguf:PATH)")
	q := fs.String("quantize", "none", "none, nf4, fp4, q8_0")
	threads := fs.Int("threads", 1, "threads for the matrix products")
	promptN := fs.Int("prompt", 128, "prompt tokens, prefilled as one batch")
	genN := fs.Int("gen", 128, "tokens to decode")
	tokenwise := fs.Bool("tokenwise", false, "prefill one token at a time instead of as one batch")
	reprefill := fs.Int("reprefill", 0, "after the timed prefill, prefill the same prompt this many more times from position 0, untimed (for a profile of warm prefill)")
	profile := fs.String("cpuprofile", "", "write a CPU profile of prefill and decode to this file")
	reserve := fs.Bool("reserve", true, "build the engine for the prompt as one batch (engine.Options.Batch: KV cache touched, the prompt's graph and buffers made at load), as node-llama-cpp's context is created for a batch of the prompt's size")
	printIDs := fs.Bool("ids", false, "print the greedy token ids to stderr, to compare with llama.cpp's")
	traceOut := fs.String("trace", "", "write a Go execution trace of decode to this file (go tool trace)")
	poolTrace := fs.String("pooltrace", "", "write each shared product's hand-off times during decode to this file (a build with -tags pooltrace; runtime/bench/pooltrace.py reads it)")
	fs.Parse(args)
	quant := map[string]engine.Quantize{"none": engine.QuantizeNone, "nf4": engine.QuantizeNF4, "fp4": engine.QuantizeFP4, "q8_0": engine.QuantizeQ8_0}[*q]
	if quant == engine.QuantizeInvalid {
		return fmt.Errorf("unknown -quantize %q", *q)
	}
	ctx := context.Background()
	c0 := cpuSeconds()
	t0 := time.Now()
	ws, err := format.OpenWeights(*model)
	if err != nil {
		return err
	}
	batch := 0
	if *reserve && !*tokenwise {
		batch = *promptN
	}
	e, err := engine.New(ctx, ws, runOptions(quant, *threads, *promptN+*genN+1, batch))
	if err != nil {
		return err
	}
	load := time.Since(t0)
	c := e.Config()
	prompt := make([]int, *promptN)
	prompt[0] = 1
	for i := 1; i < len(prompt); i++ {
		prompt[i] = 259 + (i*7919)%(c.Vocab-259)
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	c1 := cpuSeconds()
	t1 := time.Now()
	var logits []float32
	if *tokenwise {
		for _, tok := range prompt {
			if logits, err = e.Forward(ctx, []int{tok}); err != nil {
				return err
			}
		}
	} else if logits, err = e.Forward(ctx, prompt); err != nil {
		return err
	}
	prefill := time.Since(t1)
	c2 := cpuSeconds()
	for range *reprefill {
		e.Reset()
		if logits, err = e.Forward(ctx, prompt); err != nil {
			return err
		}
	}
	t2 := time.Now()
	var ms0 goruntime.MemStats
	goruntime.ReadMemStats(&ms0)
	kernels.ResetPoolTrace()
	if *traceOut != "" {
		f, err := os.Create(*traceOut)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return err
		}
	}
	c2, t2 = cpuSeconds(), time.Now()
	release := e.HoldWorkers() // as engine.Generate does
	for range *genN {
		next := 0
		for i, v := range logits {
			if v > logits[next] {
				next = i
			}
		}
		if *printIDs {
			fmt.Fprint(os.Stderr, next, " ")
		}
		if logits, err = e.Forward(ctx, []int{next}); err != nil {
			return err
		}
	}
	if *printIDs {
		fmt.Fprintln(os.Stderr)
	}
	decode := time.Since(t2)
	release()
	c3 := cpuSeconds()
	var ms1 goruntime.MemStats
	goruntime.ReadMemStats(&ms1)
	if *traceOut != "" {
		trace.Stop()
	}
	if *poolTrace != "" {
		f, err := os.Create(*poolTrace)
		if err != nil {
			return err
		}
		kernels.WritePoolTrace(f)
		if err := f.Close(); err != nil {
			return err
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return err
	}
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	path := *model
	if _, p, ok := strings.Cut(path, ":"); ok {
		path = p
	}
	var size int64
	if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	r := result{
		Model: filepath.Base(path), Quantize: *q, Threads: *threads,
		LoadSeconds: load.Seconds(),
		LoadCPU:     c1 - c0, PrefillCPU: c2 - c1, DecodeCPU: c3 - c2,
		PrefillTokens: *promptN, PrefillTokS: float64(*promptN) / prefill.Seconds(),
		DecodeTokens: *genN, DecodeTokS: float64(*genN) / decode.Seconds(),
		PeakRSSBytes: ru.Maxrss * 1024, FileBytes: size, WeightBytes: e.WeightBytes(),
		GoHeapBytes: ms.HeapSys,
		DecodeGCs:   ms1.NumGC - ms0.NumGC, DecodeAllocBytes: ms1.TotalAlloc - ms0.TotalAlloc,
		KVBytes: int64(2 * c.Layers * c.KVHeads * c.HeadSize() * 4 * (*promptN + *genN)),
	}
	if *threads > 1 {
		ps := e.PoolStats()
		r.Pool = &ps
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// cpuSeconds returns the user and system CPU time of the process so far:
// on a machine shared with other work, tokens per CPU second compare
// single-threaded runs better than wall time does.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// runOptions are the engine options of the driver's runs (run and cold):
// kept graphs with shared buffers (reduce_overhead), weights in quant
// (the head too, when quantised), threads, a context for the prompt
// and the generated tokens, and the prompt chunk New reserves for (0:
// none).
func runOptions(quant engine.Quantize, threads, context, batch int) engine.Options {
	o := engine.DefaultOptions()
	o.Compile = engine.CompileReduceOverhead
	o.Quantize = quant
	o.QuantizeHead = quant != engine.QuantizeNone
	o.Threads = threads
	o.Context = context
	o.Batch = batch
	return o
}
