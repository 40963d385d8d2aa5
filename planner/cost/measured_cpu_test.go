package cost

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner/arch"
)

// cpuMeasurement is one planner/testdata/measured/cpu-*.json document.
type cpuMeasurement struct {
	Machine map[string]any `json:"machine"`
	Quiet   bool           `json:"quiet"`
	Rates   *CPURates      `json:"rates"`
	Rows    []struct {
		Model        string  `json:"model"`
		Format       string  `json:"format"`
		Tokens       int     `json:"tokens"`
		PredictedRSS int64   `json:"predicted_peak_rss"`
		MeasuredRSS  int64   `json:"measured_peak_rss"`
		PredictedTPS float64 `json:"predicted_tokens_per_s"`
		MeasuredTPS  float64 `json:"measured_tokens_per_s"`
		FileBytes    int64   `json:"file_bytes"`
		StepLayer    float64 `json:"decode_layer_seconds"`
		StepHead     float64 `json:"decode_head_seconds"`
		StepPos      float64 `json:"decode_position_seconds"`
		StepLayers   int     `json:"decode_layers"`
		Note         string  `json:"note"`
	} `json:"rows"`
}

// knownSpeedMisses are the rows of a quiet measurement whose predicted
// decode speed is known to miss the 25% bound, with the reason as far as
// it is understood. Such a row must still miss: when the model is fixed
// the test fails until its entry is removed, so the list cannot go stale.
//
// The committed table is the quiet measurement of 2026-12-07 09:28-09:33
// UTC (1fb9d72, plans and runs in turn, nothing else running on the
// 2-vCPU VM). Memory is within -7.4..+3.9% on every row; speed is within
// 25% on 13 of 20 rows, and 19 of the 20 plans are faster than their
// runs: plan ÷ run +8..+16% for fp32 15M and 42M, -3.5% for 110M fp32,
// +8..+41% for the quantised rows (most near +20%), +25% and +67% for the
// stories260K examples. The same measurement half an hour earlier (at
// 2489d5a, before the pool could tell its CPU) missed on 4 rows, partly
// others (gguf:42M q8_0 +48.5% then, +8.6% now): the rows near the
// bound cross it from run to run. That bias is not understood:
//   - it is there at one thread: under taskset -c 1 (no pool) the plan
//     was +12..+22% over the runs of every 15M and GGUF row at 09:36;
//   - in one process (runtime/bench/stepcal_vs_run.sh, 08:47) the plan's
//     step ÷ a run's was 0.86-0.95 on the same shapes, the first
//     generation on a fresh engine ~10% slower than the engine's later
//     ones, which match the calibration;
//   - `whisperc plan` and `whisperc run` of gguf 15M Q8_0 by hand, pair by
//     pair (09:30), gave 0.92-1.33, about 1.1 on average, and a VmHWM
//     poller beside the run (as measureRun's) changed nothing;
//   - the machine's own speed drifts by a third within a minute (six
//     plan/run pairs at 09:10: plans 1470-2055 tok/s), which the
//     alternation keeps out of the medians but not out of single pairs.
//
// Two causes found today are fixed: a generation from BOS faulted its
// KV cache in during its decode steps (7a427d7; the 08:27 quiet table
// had every row +20..+48%), and the plan and its runs were minutes apart.
var knownSpeedMisses = map[string]string{
	"15M nf4":               "plan +27.3% (pairs 1.25-1.31): the ~+20% bias above",
	"15M q8_0":              "plan +27.6% (pairs 1.23-1.32): the ~+20% bias above",
	"gguf:15M q4_k_m":       "plan +41.1% (pairs 1.15-1.60): the bias, and the widest spread of runs",
	"gguf:42M q4_0":         "plan +26.8%: the ~+20% bias above",
	"gguf:110M q4_k_m":      "plan +28.4%: the ~+20% bias above",
	"example:story fp32":    "plan +25.5%: stories260K's 100-150 us step, where the bias weighs most",
	"example:tiny-cpu fp32": "plan +67.2% (+46.9% at 09:02): as story, and its runs spread most",
}

// knownRSSMisses are the rows whose predicted peak RSS is known to miss
// the 10% bound; like knownSpeedMisses, such a row must still miss. None
// since 99e152c: the 110M GGUF rows had been under-predicted by 13-22%
// because the norms' vectors, read in place every step, brought 2 MiB
// page-cache folios of the released file back in (now copied at load).
var knownRSSMisses = map[string]string{}

var cpuShapes = map[string]arch.Config{
	"15M":  {Name: "llama2.c", Family: arch.Llama, Dim: 288, HiddenDim: 768, Layers: 6, Heads: 6, KVHeads: 6, Vocab: 32000, MaxSeq: 256, Tied: true},
	"42M":  {Name: "llama2.c", Family: arch.Llama, Dim: 512, HiddenDim: 1376, Layers: 8, Heads: 8, KVHeads: 8, Vocab: 32000, MaxSeq: 1024, Tied: true},
	"110M": {Name: "llama2.c", Family: arch.Llama, Dim: 768, HiddenDim: 2048, Layers: 12, Heads: 12, KVHeads: 12, Vocab: 32000, MaxSeq: 1024, Tied: true},
}

// TestMeasuredCPU re-predicts, with the calibration recorded beside each
// measurement, the peak resident memory of every measured whisperc run
// of the 15M/42M/110M shapes and requires it within 10% of the measured
// VmHWM; for the examples' rows it requires the plan's recorded
// prediction within 10%. Decode speed is re-predicted from the decode
// step the plan measured (recorded in the row) and required within 25%
// of the run's when the file was measured on a quiet machine ("quiet":
// true, WHISPERC_MEASURE_QUIET=1); on the shared 2-vCPU machine the same
// run varies by 2× between runs, so there it is only reported. Rows of
// GGUF files ("gguf:SHAPE", when measured with GGUF=DIR) are held to their
// recorded predictions like the examples'; their decode is predicted for
// Q8_0, Q4_0 and Q4_K_M alike (the calibration times each stored block
// mix, cost.BlockFormats), and a row the plan does not predict is
// reported.
func TestMeasuredCPU(t *testing.T) {
	for _, f := range readMeasured(t, "cpu-*.json", "no CPU measurements in planner/testdata/measured") {
		name, data := f.name, f.data
		var m cpuMeasurement
		if err := json.Unmarshal(data, &m); err != nil || m.Rates == nil || len(m.Rows) < 9 {
			t.Fatalf("%s: %v (%d rows)", name, err, len(m.Rows))
		}
		dev := Device{Name: "cpu", Memory: 24 << 30, CPU: m.Rates}
		shapes := 0
		for _, r := range m.Rows {
			speed := r.PredictedTPS
			ratio := float64(r.PredictedRSS) / float64(r.MeasuredRSS)
			if c, ok := cpuShapes[r.Model]; ok {
				shapes++
				w := Workload{Arch: c, Mode: Inference, Storage: FP32, Compute: FP32, Batch: 1, Seq: 1, NewTokens: r.Tokens, KVCache: true,
					Devices: 1, Sharding: DDP, Attention: Eager, FileBytes: r.FileBytes, TokenizerFileBytes: 433_869, CompileMode: compiler.CompileDefault,
					StepLayerSeconds: r.StepLayer, StepHeadSeconds: r.StepHead, StepPositionSeconds: r.StepPos, StepLayers: r.StepLayers}
				switch r.Format {
				case "nf4":
					w.Quant = Quant{Type: NF4, BlockSize: 64, Double: true}
				case "q8_0":
					w.Quant = Quant{Type: Q8_0}
				}
				if w.Quant.Type.Quantized() {
					w.HeadQuant = Quant{Type: Q8_0} // the CPU plan's classifier
				}
				ratio = float64(w.Memory(dev).Total) / float64(r.MeasuredRSS)
				if r.StepLayer > 0 {
					speed = w.Decode(dev).TokensPerSecond()
				}
			} else if !strings.HasPrefix(r.Model, "example:") && !strings.HasPrefix(r.Model, "gguf:") {
				t.Fatalf("%s: unknown shape %s", name, r.Model)
			}
			rssMiss := ratio < 0.9 || ratio > 1.1
			rssWhy, rssKnown := knownRSSMisses[r.Model+" "+r.Format]
			switch {
			case rssMiss && rssKnown:
				t.Logf("%s %s %s: known peak RSS miss, %+.1f%% (%s)", name, r.Model, r.Format, 100*(ratio-1), rssWhy)
			case rssMiss:
				t.Errorf("%s %s %s: predicted peak RSS %+.1f%% off the measured %d bytes", name, r.Model, r.Format, 100*(ratio-1), r.MeasuredRSS)
			case rssKnown:
				t.Errorf("%s %s %s: listed as a known peak RSS miss but now within 10%%: remove it from knownRSSMisses", name, r.Model, r.Format)
			}
			if speed == 0 && strings.HasPrefix(r.Model, "gguf:") {
				// Measured before the calibration timed GGUF block
				// formats as stored, or its step could not be measured:
				// the plan says it does not predict the decode (Note).
				t.Logf("%-16s %-6s RSS %+5.1f%%  tok/s not predicted (run %.1f): %s", r.Model, r.Format, 100*(ratio-1), r.MeasuredTPS, r.Note)
				continue
			}
			sr := speed / r.MeasuredTPS
			miss := sr < 0.75 || sr > 1.25
			why, known := knownSpeedMisses[r.Model+" "+r.Format]
			switch {
			case m.Quiet && miss && known:
				t.Logf("%s %s %s: known speed miss (%s)", name, r.Model, r.Format, why)
			case m.Quiet && miss:
				t.Errorf("%s %s %s: predicted %.1f tok/s, measured %.1f (%+.1f%%)", name, r.Model, r.Format, speed, r.MeasuredTPS, 100*(sr-1))
			case m.Quiet && known:
				t.Errorf("%s %s %s: listed as a known speed miss but now within 25%%: remove it from knownSpeedMisses", name, r.Model, r.Format)
			}
			t.Logf("%-16s %-4s RSS %+5.1f%%  tok/s %+6.1f%% (plan %.1f, run %.1f)", r.Model, r.Format, 100*(ratio-1), 100*(sr-1), speed, r.MeasuredTPS)
		}
		if shapes != 9 {
			t.Errorf("%s: %d rows of the 15M/42M/110M shapes, want 9 (three formats each)", name, shapes)
		}
		if !m.Quiet {
			t.Logf("%s was measured on a loaded machine: decode speed reported, not asserted", name)
		}
	}
}
