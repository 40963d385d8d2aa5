package cost

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner/arch"
)

// serveMeasurement is one planner/testdata/measured/serve-cpu-*.json
// document (measure_serve.sh).
type serveMeasurement struct {
	Date  string    `json:"date"`
	Quiet bool      `json:"quiet"`
	Rates *CPURates `json:"rates"`
	Rows  []struct {
		Name         string               `json:"name"`
		Model        string               `json:"model"`
		Compile      compiler.CompileMode `json:"compile"`
		Format       string               `json:"format"`
		HeadFormat   string               `json:"head_format"`
		MaxBatch     int                  `json:"max_batch"`
		MaxTokens    int                  `json:"max_tokens"`
		Context      int                  `json:"context"`
		FileBytes    int64                `json:"file_bytes"`
		TokenizerB   int64                `json:"tokenizer_file_bytes"`
		PredictedRSS int64                `json:"predicted_peak_rss"`
		MeasuredRSS  int64                `json:"measured_peak_rss"`
		Filled       []int                `json:"filled_positions"`
		Serving      []struct {
			Sequences    int     `json:"sequences"`
			PredictedTPS float64 `json:"predicted_tokens_per_s"`
			MeasuredTPS  float64 `json:"measured_tokens_per_s"`
		} `json:"serving"`
		Steps        *MeasuredServe `json:"serve_steps"`
		Position     int            `json:"serve_position"`
		StepLayer    float64        `json:"decode_layer_seconds"`
		StepHead     float64        `json:"decode_head_seconds"`
		StepPosition float64        `json:"decode_position_seconds"`
	} `json:"rows"`
}

// serveModels are the architectures of the measured servers' models.
var serveModels = map[string]arch.Config{
	"15M":         cpuShapes["15M"],
	"stories260K": {Name: "llama2.c", Family: arch.Llama, Dim: 64, HiddenDim: 172, Layers: 5, Heads: 8, KVHeads: 4, Vocab: 512, MaxSeq: 512, Tied: true},
}

// knownServeMisses are the measured servers' predictions known to miss
// their bound, keyed "row RSS" for the peak memory and "row c=N" for the
// tokens/s at concurrency N, with the reason as far as it is understood.
// Such a prediction must still miss (speed: in a quiet measurement): when
// the model is fixed the test fails until the entry is removed, so the
// list cannot go stale.
var knownServeMisses = map[string]string{
	// Speed, quiet measurement of 2026-12-07 08:53 UTC (2489d5a: the
	// slots' caches resident from the server's start): 19 of 24 cells
	// within 25%, every miss the plan faster than the server. The quiet
	// measurement of 08:33, before the slots' caches were touched, missed
	// in 5 cells too, partly others (15M nf4 c=1 +46%, c=2 +49% then,
	// +21% and +19% after); the 15M q8_0 server's one- and two-sequence
	// rates missed in every quiet measurement so far.
	"15M-fp32-compile-default c=16": "plan +25.1%: at the bound; +18% in the quiet run of 08:33",
	"15M-q8_0 c=1":                  "plan +66%: the q8_0 steps the plan times run faster than the server's single sequence (+10% at 08:33, +39% and +55% earlier)",
	"15M-q8_0 c=2":                  "plan +68%, as c=1",
	"15M-q8_0 c=4":                  "plan +27%, as c=1",
	"example-serve-tiny c=1":        "plan +35% (+29% at 08:33): stories260K's step of about 100 us, where the server's per-pass work outside the model weighs most",
}

// TestMeasuredServe re-predicts, with the calibration recorded beside
// each measurement (the machine's rates, and the server's batched steps
// and the decode step that the plan measured for that shape, kept in the
// plan as time.serve_steps), the peak resident memory and the aggregate
// tokens/s by concurrency of every server measured by measure_serve.sh,
// and requires the memory within 10% of the server's VmHWM after its
// contexts were filled and, when the file was measured on a quiet
// machine ("quiet": true), the tokens/s within 25% of what the official
// OpenAI client measured. On a loaded machine the speed is reported only.
func TestMeasuredServe(t *testing.T) {
	for _, f := range readMeasured(t, "serve-cpu-*.json", "no CPU serving measurements in planner/testdata/measured (measure_serve.sh writes them)") {
		name, data := f.name, f.data
		var m serveMeasurement
		if err := json.Unmarshal(data, &m); err != nil || m.Rates == nil || len(m.Rows) < 3 {
			t.Fatalf("%s: %v (%d rows)", name, err, len(m.Rows))
		}
		dev := Device{Name: "cpu", Memory: 24 << 30, CPU: m.Rates}
		seen := map[string]bool{}
		formats := map[string]bool{}
		checked := map[string]bool{}
		for _, r := range m.Rows {
			c, ok := serveModels[r.Model]
			if !ok {
				t.Fatalf("%s %s: unknown model %q", name, r.Name, r.Model)
			}
			if r.Steps == nil || len(r.Steps.Batches) == 0 || r.MaxBatch < 1 || r.MeasuredRSS <= 0 {
				t.Fatalf("%s %s: the row lacks the plan's serving steps, its max_batch or its peak", name, r.Name)
			}
			seen[r.Name] = true
			formats[r.Format] = true
			ctx := c.MaxSeq
			// The plan's peak is that of every slot's full context: the
			// measurement must have filled them.
			if len(r.Filled) != r.MaxBatch || r.Context != ctx {
				t.Errorf("%s %s: %d slots filled to a context of %d, want %d of %d", name, r.Name, len(r.Filled), r.Context, r.MaxBatch, ctx)
			}
			for _, p := range r.Filled {
				if p < ctx*9/10 {
					t.Errorf("%s %s: a slot reached only %d of %d positions: the peak is not that of full contexts", name, r.Name, p, ctx)
				}
			}
			// The serve stage's workloads (planner.builder.serve): memory
			// for one prompt chunk with max_batch slots' caches, speed for
			// max_batch sequences.
			w := Workload{Arch: c, Mode: Inference, Storage: FP32, Compute: FP32, Batch: r.MaxBatch, Seq: ctx / 2, NewTokens: ctx - ctx/2, KVCache: true,
				Devices: 1, Sharding: DDP, Attention: Eager, FileBytes: r.FileBytes, TokenizerFileBytes: r.TokenizerB, CompileMode: r.Compile,
				StepLayerSeconds: r.StepLayer, StepHeadSeconds: r.StepHead, StepPositionSeconds: r.StepPosition}
			switch r.Format {
			case "fp32":
			case "nf4":
				w.Quant = Quant{Type: NF4, BlockSize: 64, Double: true}
			case "q8_0":
				w.Quant = Quant{Type: Q8_0}
			default:
				t.Fatalf("%s %s: format %q is not one this test reconstructs", name, r.Name, r.Format)
			}
			if w.Quant.Type.Quantized() {
				w.HeadQuant = Quant{Type: Q8_0} // the CPU plan's classifier
			}
			chunk := w
			chunk.Batch, chunk.CacheBatch = 1, w.Batch
			chunk.Seq = min(ctx, 2048) // planner.ServeChunk
			chunk.NewTokens = ctx - chunk.Seq
			mem := chunk.Memory(dev).Total
			if mem != r.PredictedRSS {
				t.Logf("%s %s: the plan recorded %d bytes, the planner now predicts %d", name, r.Name, r.PredictedRSS, mem)
			}
			key := r.Name + " RSS"
			ratio := float64(mem) / float64(r.MeasuredRSS)
			miss := ratio < 0.9 || ratio > 1.1
			checkMiss(t, name, key, miss, true, fmt.Sprintf("predicted peak RSS %d MiB, measured %d MiB (%+.1f%%)", mem>>20, r.MeasuredRSS>>20, 100*(ratio-1)))
			checked[key] = true
			line := fmt.Sprintf("%-28s RSS %4d/%4d MiB %+5.1f%%  tok/s", r.Name, mem>>20, r.MeasuredRSS>>20, 100*(ratio-1))
			for _, s := range r.Serving {
				got := w.ServeRequestTokensPerSecond(m.Rates, *r.Steps, s.Sequences, r.Position, r.MaxTokens, ServePromptTokens)
				if math.Abs(got-s.PredictedTPS) > 1e-6*s.PredictedTPS {
					t.Logf("%s %s c=%d: the plan recorded %.1f tok/s, the planner now predicts %.1f", name, r.Name, s.Sequences, s.PredictedTPS, got)
				}
				key := fmt.Sprintf("%s c=%d", r.Name, s.Sequences)
				sr := got / s.MeasuredTPS
				checkMiss(t, name, key, sr < 0.75 || sr > 1.25, m.Quiet,
					fmt.Sprintf("predicted %.1f tok/s, measured %.1f (%+.1f%%)", got, s.MeasuredTPS, 100*(sr-1)))
				checked[key] = true
				line += fmt.Sprintf("  c=%d %.0f/%.0f %+.0f%%", s.Sequences, got, s.MeasuredTPS, 100*(sr-1))
			}
			t.Log(line)
		}
		for key := range knownServeMisses {
			if !checked[key] {
				t.Errorf("%s: knownServeMisses lists %q, which the file does not measure: remove it", name, key)
			}
		}
		for _, want := range []string{"15M-fp32", "15M-fp32-compile-default", "example-serve-tiny"} {
			if !seen[want] {
				t.Errorf("%s: no row %s", name, want)
			}
		}
		if !formats["q8_0"] && !formats["nf4"] {
			t.Errorf("%s: no quantised row", name)
		}
		if !m.Quiet {
			t.Logf("%s was measured on a LOADED machine (%s): serving speed reported, not asserted", name, m.Date)
		}
	}
}

// checkMiss fails a prediction that misses its bound and is not listed in
// knownServeMisses, and one that is listed but no longer misses; assert
// false only reports (a loaded machine's speed).
func checkMiss(t *testing.T, file, key string, miss, assert bool, what string) {
	t.Helper()
	why, known := knownServeMisses[key]
	switch {
	case !assert:
	case miss && known:
		t.Logf("%s %s: known miss (%s): %s", file, key, why, what)
	case miss:
		t.Errorf("%s %s: %s", file, key, what)
	case known:
		t.Errorf("%s %s: listed in knownServeMisses but now within its bound (%s): remove it", file, key, what)
	}
}
