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
// The committed table is the quiet measurement of 2026-12-07 13:13-13:22
// UTC (b11b68e, five plan/run pairs a row in turn, nothing else running
// on the 2-vCPU VM). Memory is within -6.4..+1.1% on every row and speed
// within 25% on all 20: -17.3..+6.1% on the 18 shape and GGUF rows,
// +18.9% for story and +9.8% for tiny-cpu. Until that morning the plans
// had been ~20% faster than their runs on most rows (7 misses at 09:28);
// the causes found and fixed:
//   - the measurement's own poller (VmHWM read from /proc every 5 ms
//     beside the run) took CPU from a two-thread decode: 2-13% (6d3864a;
//     the peak now comes from the run's manifest);
//   - a decode step's 20-30 KB of garbage landed on pages never touched
//     until the heap had grown by its headroom once: ~1,000 faults of
//     10-15 us in a 255-token 15M run (713b188, prefaultHeap);
//   - stories260K's generation got 2 MiB of headroom where the plan
//     counts 4, and collected every ~60 tokens (eeaadf0);
//   - story (+36% at 11:40) still collected once near the end of its 200
//     tokens, the pacer starting at 45/64 of the headroom, and its steps
//     from about position 130 paid the hypervisor's first write to pages
//     the kernel had populated (b11b68e).
var knownSpeedMisses = map[string]string{}

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
