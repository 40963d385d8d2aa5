package runtime

import (
	"context"
	"fmt"
	"os"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/sample"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// TestStepVsRun is a benchmark, not a check: run by
// runtime/bench/stepcal_vs_run.sh (WHISPERC_STEPVSRUN="15M:fp32 story:fp32
// ..."), it compares, in one process and in turn, the decode step a plan
// predicts from a fresh calibration (StepCalibrator.Measure, at the
// generation's middle position) with the step of a run's generation loop
// on the same model (engine.Generate on an engine of the run's kind: its
// own pool, the KV cache reserved and touched, the heap bounded; 200 greedy tokens,
// or up to the context), and then times that loop's parts by hand:
// the forward pass (mean and median), sampling, and detokenising and
// writing the piece.
func TestStepVsRun(t *testing.T) {
	spec := os.Getenv("WHISPERC_STEPVSRUN")
	if spec == "" {
		t.Skip("a benchmark: set WHISPERC_STEPVSRUN to shapes and formats, e.g. \"15M:fp32 story:fp32\"")
	}
	threads := 2
	fmt.Sscan(os.Getenv("WHISPERC_STEPVSRUN_THREADS"), &threads)
	rounds := 3
	fmt.Sscan(os.Getenv("WHISPERC_STEPVSRUN_ROUNDS"), &rounds)
	ctx := context.Background()
	fmt.Printf("%-10s %5s %7s %9s %9s %9s %6s | %9s %9s %8s %8s %4s\n", "shape", "round", "cal s", "plan us", "run us", "plan/run", "spread",
		"fwd mean", "fwd med", "sample", "detok", "GCs")
	for _, item := range strings.Fields(spec) {
		name, fname, _ := strings.Cut(item, ":")
		format := cost.FP32
		switch fname {
		case "", "fp32":
		case "nf4":
			format = cost.NF4
		case "q8_0":
			format = cost.Q8_0
		default:
			t.Fatalf("%s: format %q is not fp32, nf4 or q8_0", item, fname)
		}
		head := format
		if format.Quantized() {
			head = cost.Q8_0 // the CPU plan's classifier
		}
		var c arch.Config
		var ws *weights.Set
		var tok tokenizer.Tokenizer
		var err error
		tmp := t.TempDir()
		if name == "story" {
			ws, err = llama2c.Open("../../shared/models/stories260K.bin")
			if err == nil {
				c = ws.Config
				tok, err = tokenizer.ReadLlama2CFile("../../shared/models/tok512.bin", c.Vocab)
			}
		} else {
			var ok bool
			if c, ok = stepVsRunShapes[name]; !ok {
				t.Fatalf("%s: unknown shape (15M, 42M, 110M or story)", item)
			}
			ws, err = (&StepCalibrator{TempDir: tmp}).mappedRandom(c, 42, cost.Uniform(cost.FP32), cost.FP32)
			if err == nil {
				tok, err = tokenizer.ReadLlama2CFile("../../shared/models/llama2c-tokenizer32k.bin", c.Vocab)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		n := min(200, c.MaxSeq-1)
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		for r := range rounds {
			s := &StepCalibrator{Threads: threads, TempDir: tmp}
			t0 := time.Now()
			m, err := s.Measure(ctx, c, cost.Uniform(format), head, compiler.CompileDefault)
			if err != nil {
				t.Fatal(err)
			}
			calT := time.Since(t0).Seconds()
			w := cost.Workload{Arch: c, Mode: cost.Inference, Storage: cost.FP32, Compute: cost.FP32, Batch: 1, Seq: 1, NewTokens: n, KVCache: true,
				Devices: 1, Sharding: cost.DDP, Attention: cost.Eager, CompileMode: compiler.CompileDefault,
				StepLayerSeconds: m.Layer, StepHeadSeconds: m.Head, StepPositionSeconds: m.Position, StepLayers: m.Layers}
			if format.Quantized() {
				w.Quant, w.HeadQuant = cost.Quant{Type: format, BlockSize: 64, Double: true}, cost.Quant{Type: cost.Q8_0}
			}
			plan := w.Decode(cost.Device{Name: "cpu", Memory: 1 << 40, CPU: &cost.CPURates{Threads: threads}}).Seconds / float64(n)

			// As the generate stage builds a run's engine: the cache's
			// pages touched at New (Options.Batch), not by the steps.
			opts := stepEngineOptions(c, cost.Uniform(format), head, compiler.CompileDefault, threads, c.MaxSeq, nil)
			opts.Batch = 1
			e, err := engine.New(ctx, ws, opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Reserve(); err != nil {
				t.Fatal(err)
			}
			restore := boundGeneration()
			smp, _ := sample.New(sample.Params{Temperature: 0})
			st, err := engine.Generate(ctx, e, tok, engine.GenerateOptions{Prompt: "", MaxTokens: n, IgnoreEOS: true, Sampler: smp, Out: null})
			if err != nil {
				t.Fatal(err)
			}
			run := (st.Elapsed - st.FirstToken).Seconds() / float64(st.Generated-1)

			// The same loop by hand, in parts.
			e.Reset()
			var fw, sm, dw []float64
			var ms0, ms1 goruntime.MemStats
			goruntime.ReadMemStats(&ms0)
			release := e.HoldWorkers()
			token := tok.BOS()
			for pos := range n {
				a := time.Now()
				logits, err := e.Forward(ctx, []int{token})
				if err != nil {
					t.Fatal(err)
				}
				b := time.Now()
				next := smp.Sample(logits)
				d := time.Now()
				if piece := tok.Decode(token, next); tokenizer.Printable(piece) {
					null.Write(piece)
				}
				token = next
				if pos > 0 {
					fw, sm, dw = append(fw, b.Sub(a).Seconds()), append(sm, d.Sub(b).Seconds()), append(dw, time.Since(d).Seconds())
				}
			}
			release()
			goruntime.ReadMemStats(&ms1)
			restore()
			med := slices.Clone(fw)
			slices.Sort(med)
			fmt.Printf("%-10s %5d %7.2f %9.1f %9.1f %9.2f %5.0f%% | %9.1f %9.1f %8.2f %8.2f %4d\n", item, r+1, calT, 1e6*plan, 1e6*run, plan/run, 100*m.Spread,
				1e6*mean(fw), 1e6*med[len(med)/2], 1e6*mean(sm), 1e6*mean(dw), ms1.NumGC-ms0.NumGC)
		}
		null.Close()
		ws.Close()
	}
}

var stepVsRunShapes = map[string]arch.Config{
	"15M":  {Name: "15M", Family: arch.Llama, Dim: 288, HiddenDim: 768, Layers: 6, Heads: 6, KVHeads: 6, Vocab: 32000, MaxSeq: 256, RopeTheta: 10000, NormEps: 1e-5, Tied: true},
	"42M":  {Name: "42M", Family: arch.Llama, Dim: 512, HiddenDim: 1376, Layers: 8, Heads: 8, KVHeads: 8, Vocab: 32000, MaxSeq: 1024, RopeTheta: 10000, NormEps: 1e-5, Tied: true},
	"110M": {Name: "110M", Family: arch.Llama, Dim: 768, HiddenDim: 2048, Layers: 12, Heads: 12, KVHeads: 12, Vocab: 32000, MaxSeq: 1024, RopeTheta: 10000, NormEps: 1e-5, Tied: true},
}
