package train

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/data"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

var (
	benchBatch      = flag.Int("train.batch", 8, "BenchmarkTrainStep: sequences per step")
	benchSeq        = flag.Int("train.seq", 256, "BenchmarkTrainStep: tokens per sequence")
	benchShapesFlag = flag.String("train.shapes", "15M,42M", "BenchmarkTrainStep: shapes, comma-separated")
	benchThreads    = flag.String("train.threads", "1,2", "BenchmarkTrainStep: thread counts, comma-separated")
)

func benchThreadList(b *testing.B) []int {
	var out []int
	for _, f := range strings.Split(*benchThreads, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("-train.threads: %q is not a thread count", f)
		}
		out = append(out, n)
	}
	return out
}

// benchShapes are the TinyStories 15M and 42M Llama shapes (llama2.c's
// stories15M and stories42M), with random weights.
var benchShapes = []arch.Config{
	{Name: "15M", Family: arch.Llama, Dim: 288, HiddenDim: 768, Layers: 6, Heads: 6, KVHeads: 6, Vocab: 32000, MaxSeq: 256, RopeTheta: 10000, NormEps: 1e-5, Tied: true},
	{Name: "42M", Family: arch.Llama, Dim: 512, HiddenDim: 1376, Layers: 8, Heads: 8, KVHeads: 8, Vocab: 32000, MaxSeq: 1024, RopeTheta: 10000, NormEps: 1e-5, Tied: true},
}

// randomWeights returns a Llama of shape c with N(0, 0.02) weights and unit
// norms.
func randomWeights(c arch.Config, seed uint64) *weights.Set {
	r := rand.New(rand.NewPCG(seed, 1))
	s := &weights.Set{Config: c, Tensors: map[string]*weights.Tensor{}, Source: "random:" + c.Name}
	add := func(name string, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		b := make([]byte, 4*n)
		for i := range n {
			v := float32(r.NormFloat64() * 0.02)
			if len(shape) == 1 {
				v = 1
			}
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		s.Tensors[name] = &weights.Tensor{Name: name, Shape: shape, DType: weights.F32, Data: b}
	}
	hs := c.Dim / c.Heads
	add("tok_embeddings.weight", c.Vocab, c.Dim)
	add("norm.weight", c.Dim)
	for l := range c.Layers {
		p := fmt.Sprintf("layers.%d.", l)
		add(p+"attention_norm.weight", c.Dim)
		add(p+"ffn_norm.weight", c.Dim)
		add(p+"attention.wq.weight", c.Heads*hs, c.Dim)
		add(p+"attention.wk.weight", c.KVHeads*hs, c.Dim)
		add(p+"attention.wv.weight", c.KVHeads*hs, c.Dim)
		add(p+"attention.wo.weight", c.Dim, c.Heads*hs)
		add(p+"feed_forward.w1.weight", c.HiddenDim, c.Dim)
		add(p+"feed_forward.w2.weight", c.Dim, c.HiddenDim)
		add(p+"feed_forward.w3.weight", c.HiddenDim, c.Dim)
	}
	return s
}

// BenchmarkTrainStep measures training throughput (tokens per second of
// one optimizer step over a batch of 8 sequences of 256 tokens) for LoRA
// (rank 16 on the attention projections) and full fine-tuning on the 15M
// and 42M shapes, at 1 and 2 threads. testdata/bench_torch.py measures
// PyTorch on the same shapes; run both in one session to compare.
//
// -train.batch, -train.seq, -train.shapes and -train.threads shrink the work
// (runtime/bench/train.sh runs both sides within minutes).
func BenchmarkTrainStep(b *testing.B) {
	batch, seq := *benchBatch, *benchSeq
	for _, c := range benchShapes {
		if !strings.Contains(","+*benchShapesFlag+",", ","+c.Name+",") {
			continue
		}
		for _, method := range []Method{LoRA, Full} {
			for _, threads := range benchThreadList(b) {
				b.Run(fmt.Sprintf("%s/%s/threads=%d", c.Name, method, threads), func(b *testing.B) {
					e, err := engine.New(context.Background(), randomWeights(c, 1), engine.Options{Attention: engine.AttentionFlash2, Compile: engine.CompileDefault, Quantize: engine.QuantizeNone, Threads: threads})
					if err != nil {
						b.Fatal(err)
					}
					r := rand.New(rand.NewPCG(2, 3))
					ds := &data.Set{}
					for range batch {
						s := data.Sequence{Inputs: make([]int32, seq), Targets: make([]int32, seq), Weights: make([]float32, seq)}
						for i := range seq {
							s.Inputs[i], s.Targets[i], s.Weights[i] = int32(r.IntN(c.Vocab)), int32(r.IntN(c.Vocab)), 1
						}
						ds.Train = append(ds.Train, s)
					}
					cfg := Config{Method: method, LoRA: LoRAConfig{Rank: 16, Alpha: 32, Modules: []string{"q_proj", "k_proj", "v_proj", "o_proj"}},
						Optimizer: Optimizer{Kind: AdamW, LR: 1e-4}, Schedule: Constant, MaxGradNorm: 1, Batch: batch, GradAccum: 1, MaxSteps: b.N + 1, Seed: 1}
					tr, err := New(e, ds, cfg)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := tr.Step(context.Background()); err != nil { // warm up
						b.Fatal(err)
					}
					b.ResetTimer()
					start, cpu0 := time.Now(), processCPU()
					for range b.N {
						if _, err := tr.Step(context.Background()); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*batch*seq)/time.Since(start).Seconds(), "tok/s")
					// The process's CPU time per step: on a loaded machine a
					// fairer comparison than the wall clock.
					b.ReportMetric((processCPU()-cpu0).Seconds()/float64(b.N), "cpu-s/step")
				})
			}
		}
	}
}

// processCPU returns the user and system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
