package planner

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
)

// TestServeCPUMeasured: a server planned for this machine predicts its
// throughput from the server's own batched steps (Options.ServeStep),
// measured for its shape, max_batch and prefill chunk: the rate at each
// concurrency is the sequences over the measured step of that batch, so
// a batch that costs 1.5× one sequence's step decodes 8/1.5 times as
// fast, and the plan says how it was derived, not a GPU's MFU and
// bandwidth. Without the measurements it predicts nothing and says why.
func TestServeCPUMeasured(t *testing.T) {
	cpu := calibratedCPU(2)
	src := "model m { source = \"hf:meta-llama/Llama-2-7b-hf\" }\nserve api {\n  model = m\n  max_batch = 8\n  max_tokens = 200\n}\n"
	prog := check(t, map[string]string{"main.whisper": src}, "main.whisper")
	var asked []int
	opts := Options{
		DecodeStep: func(c arch.Config, f cost.BlockFormats, head cost.DType, mode compiler.CompileMode) (cost.MeasuredStep, error) {
			return cost.MeasuredStep{Layer: 0.01, Head: 0.02, Rounds: 2, Spread: 0.01}, nil
		},
		ServeStep: func(c arch.Config, f cost.BlockFormats, head cost.DType, mode compiler.CompileMode, maxBatch, chunk int) (cost.MeasuredServe, error) {
			asked = append(asked, maxBatch, chunk)
			return cost.MeasuredServe{Batches: []cost.MeasuredBatch{{Sequences: 1, Layer: 0.01, Head: 0.02}, {Sequences: 8, Layer: 0.015, Head: 0.03}},
				PrefillTokens: 256, PrefillLayer: 0.5, PrefillHead: 0.02, Rounds: 4, Spread: 0.02}, nil
		},
	}
	p, ds := Build(prog, cpu, opts)
	if ds.HasErrors() {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	tm := p.Stage("serve.api").Time
	if len(asked) != 2 || asked[0] != 8 || asked[1] != ServeChunk {
		t.Errorf("measured for max_batch and chunk %v, want [8 %d]", asked, ServeChunk)
	}
	// A reply of max_tokens = 200: its first token from the prefill of
	// the concurrent prompts (8 tokens each, at the measured 256-token
	// chunk's rate), the other 199 from decode steps.
	prefill := func(n int) float64 { return 32*0.5*float64(8*n)/256 + 0.02 }
	one, eight := 200/(199*(32*0.01+0.02)+prefill(1)), 8*200/(199*(32*0.015+0.03)+prefill(8))
	if tm.Bound != "measured" || len(tm.Serving) != 4 || tm.Serving[0].Sequences != 1 || tm.Serving[3].Sequences != 8 ||
		math.Abs(tm.Serving[0].TokensPerSecond-one) > 1e-6*one || math.Abs(tm.TokensPerSecond-eight) > 1e-6*eight || tm.Serving[3].TokensPerSecond != tm.TokensPerSecond {
		t.Errorf("time %+v; want %.4g tokens/s with one sequence and %.4g with eight", tm, one, eight)
	}
	if want := 32*0.5*ServeChunk/256 + 0.02; tm.StepSeconds < want {
		t.Errorf("a %d-token chunk prefills in %.3g s, want at least %.3g s from a measured 256-token chunk", ServeChunk, tm.StepSeconds, want)
	}
	for _, s := range []string{"measured on this machine (2 threads)", "advancing 1, 8 sequences", "about position 100", "measured on 256 tokens and extrapolated", "8-token prompt prefilled"} {
		if !strings.Contains(tm.Assumption, s) {
			t.Errorf("the assumption %q does not say %q", tm.Assumption, s)
		}
	}
	if strings.Contains(tm.Assumption, "MFU") || strings.Contains(tm.Assumption, "bandwidth") {
		t.Errorf("the assumption %q describes a GPU model", tm.Assumption)
	}
	var out bytes.Buffer
	if err := p.WriteReport(&out, &out, prog.Files, diag.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "tokens/s by concurrent sequences: 1: ") {
		t.Errorf("the report does not list the rates by concurrency:\n%s", out.String())
	}

	opts.ServeStep = nil
	p, ds = Build(prog, cpu, opts)
	if ds.HasErrors() {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	if tm := p.Stage("serve.api").Time; tm.Bound != "unknown" || tm.TokensPerSecond != 0 || !strings.Contains(tm.Assumption, "not predicted") {
		t.Errorf("without the server's steps measured: %+v", tm)
	}
}
