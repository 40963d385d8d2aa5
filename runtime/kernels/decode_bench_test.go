package kernels_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// stories15M is the shape of llama2.c's stories15M.bin, the model its
// README times (about 370 tok/s single-threaded with -Ofast -march=native
// on this kind of machine).
var stories15M = arch.Config{Dim: 288, HiddenDim: 768, Layers: 6, Heads: 6, KVHeads: 6, Vocab: 32000, MaxSeq: 256, RopeTheta: 10000, Tied: true}

// randomRef builds a model of shape c with random weights: decode speed
// does not depend on the values, and the real 15M checkpoint is not in
// ../shared/models.
func randomRef(b *testing.B, c arch.Config, method kernels.Method, quantHead bool) *refModel {
	r := rand.New(rand.NewPCG(1, 2))
	hs := c.HeadSize()
	shape := func(name string) int {
		switch {
		case strings.HasSuffix(name, "norm.weight"):
			return c.Dim
		case name == "tok_embeddings.weight":
			return c.Vocab * c.Dim
		case strings.Contains(name, "attention.w"):
			return c.Heads * hs * c.Dim
		default:
			return c.HiddenDim * c.Dim
		}
	}
	return buildRef(b, c, method, quantHead, func(name string) []float32 {
		w := make([]float32, shape(name))
		for i := range w {
			w[i] = float32(r.NormFloat64() * 0.02)
		}
		if strings.HasSuffix(name, "norm.weight") {
			for i := range w {
				w[i] += 1
			}
		}
		return w
	})
}

// BenchmarkDecode15M times one decode step (one token against the KV
// cache, all 256 positions in turn) of a 15M-shaped model and reports
// tokens per second, to compare with llama2.c's run.c on the same machine.
// The -head variants quantise the tied classifier too, which is 37 MB of
// the model's 61 MB.
func BenchmarkDecode15M(b *testing.B) {
	for _, c := range []struct {
		name      string
		method    kernels.Method
		quantHead bool
		exec      kernels.Exec
	}{
		{"f32", kernels.MethodInvalid, false, kernels.Exec{}},
		{"f32-2threads", kernels.MethodInvalid, false, kernels.Exec{Threads: 2}},
		{"f32-go", kernels.MethodInvalid, false, kernels.Exec{NoAsm: true}},
		{"nf4", kernels.NF4, false, kernels.Exec{}},
		{"nf4-head", kernels.NF4, true, kernels.Exec{}},
		{"q8_0", kernels.Q8_0, false, kernels.Exec{}},
		{"q8_0-head", kernels.Q8_0, true, kernels.Exec{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			m := randomRef(b, stories15M, c.method, c.quantHead)
			m.exec = c.exec
			pos, tok := 0, 1
			cpu0 := processCPU()
			for b.Loop() {
				logits, err := m.forward([]int{tok}, pos)
				if err != nil {
					b.Fatal(err)
				}
				tok = argmax(logits)
				pos = (pos + 1) % stories15M.MaxSeq
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
			b.ReportMetric(float64(b.N)/(processCPU()-cpu0).Seconds(), "tok/cpu-s")
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

// BenchmarkPrefill15M times a 256-token prefill with each attention kernel.
func BenchmarkPrefill15M(b *testing.B) {
	tokens := make([]int, 256)
	for i := range tokens {
		tokens[i] = (i * 7919) % stories15M.Vocab
	}
	m := randomRef(b, stories15M, kernels.MethodInvalid, false)
	for _, kind := range []kernels.AttnKernel{kernels.AttnEager, kernels.AttnFlash2} {
		b.Run(fmt.Sprint(kind), func(b *testing.B) {
			m.attn = kind
			cpu0 := processCPU()
			for b.Loop() {
				if _, err := m.forward(tokens, 0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(tokens)*b.N)/b.Elapsed().Seconds(), "tok/s")
			b.ReportMetric(float64(len(tokens)*b.N)/(processCPU()-cpu0).Seconds(), "tok/cpu-s")
		})
	}
}
