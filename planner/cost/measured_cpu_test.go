package cost

import (
	"encoding/json"
	"os"
	"path/filepath"
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
// The committed table is the quiet re-measure of 2026-12-07 04:04 UTC
// (`QUIET=1 measure_cpu.sh` at 8d89b80, nothing else running, load 1.6),
// after the pool lost its back-off and splits every product the same way
// (3f06934), the calibration's models share one held pool (3f2f283) and
// step under the run's heap bound (8d58cb2), and each row became the
// median of three runs (0cd0ddd). Memory is within 5% on every row; speed
// misses on seven rows, all at two threads, every one of them the plan
// faster than the run. A second quiet run ten minutes later missed on
// seven rows too, but partly others (15M +40…+68%, 42M nf4 +28%, 110M
// q8_0 −34%, tiny-cpu +130%), and its calibrated steps for the same
// shapes differed by up to 1.8× (110M q8_0: 197 and 107 tok/s planned):
// both the calibration and a run at two threads still vary that much on
// this VM. The 15M and stories260K rows missed in both, always slower in
// the run than its calibrated steps.
//
// That table's steps came from models of one and three layers stepped in
// turn, the median step each: a six-layer step was extrapolated as 3.5×
// the three-layer model's minus 2.5× the one-layer's, so their noise
// grew 4-6× (the 1.8× moves), and the median left out the slow steps a
// run's mean pays. Since c945232 the calibration times the whole model
// when it fits 256 MiB (every row but 110M), in passes of a generation's
// steps whose mean counts. On the loaded VM under chrt -r 1 (05:15 UTC)
// the new plan ÷ a run's loop in the same process was 0.92-1.09 for 15M
// fp32 (runtime/bench/stepcal_vs_run.sh). This table predates the change:
// a quiet re-measure decides which entries stay.
// Expected to move (not yet re-measured quietly): since 413716f a waiting
// pool thread yields its CPU when the thread it waits for runs on the same
// one. Before, when the OS ran the caller's and the worker's threads on
// one CPU (a third thread on the other: the measurement's own VmHWM
// poller wakes every 5 ms), a two-thread step took about twice a
// one-thread step, and such spells outlast a 15-50 ms decode: the rows
// whose run was slower than their plan (15M q8_0, gguf:15M q8_0 and
// tiny-cpu above all) are the ones it hit. Loaded A/B at 07:46 UTC
// (`WHISPERC_MEASURE_ONLY=15M,example RUNS=5 measure_cpu.sh OUT`, each
// run at nice -20 in its own autogroup, load 5-7, 078e912 against
// 9f586a8): tiny-cpu plan +125% → +21% and +34%, story +48% → +16% and
// +10%, 15M q8_0 +11% → +14% and +22%, 15M fp32 −4% → +15% and +29%.
// Since c10232a the 110M shape is timed whole rather than extrapolated
// from one and three layers: `WHISPERC_MEASURE_ONLY=110M` (loaded, nice
// -20) gave plan ÷ run fp32 −20%, nf4 +20%, q8_0 −6% at 08:01 UTC before
// it and −0.1..+3.7%, +4.0..+7.4%, +4.1..+4.5% in two runs at 08:06
// after it, so 110M nf4 is expected to move too.
var knownSpeedMisses = map[string]string{
	// Quiet measurement of 2026-12-07 06:20 UTC (99e152c, the calibration
	// stepping the whole model, d134f44): 10 of 15 predicted rows within
	// 25%. The misses go both ways, which points at the two-thread step's
	// own variance on this VM rather than at a bias: in one process on the
	// quiet machine (runtime/bench/stepcal_vs_run.sh, 06:26) the plan's
	// step ÷ the run's was 0.91-1.10 for 15M, but a 42M nf4 step went
	// 1149-2327 µs from one round to the next, and the pool's worker still
	// misses 10-50% of 15M's quantised products (threads.sh "taken").
	"15M q8_0":              "two-thread decode: plan +29% (the worker missed 917 of 1775 15M q8_0 products in the same hour)",
	"42M fp32":              "two-thread decode: the run 28% faster than the calibrated steps (the calibration's rounds spread 30-70%)",
	"110M nf4":              "two-thread decode: plan +30%; 110M is calibrated from 3 layers and extrapolated",
	"gguf:15M q8_0":         "as 15M q8_0 (+44%)",
	"example:tiny-cpu fp32": "the run process's steps were ~50% slower than the same engine stepped in a test process (+50%); the loaded A/B above puts the run at +21..+34% since 413716f",
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
// recorded predictions like the examples'; their decode is predicted only
// for Q8_0 (the plan says so for the others, and that is reported).
func TestMeasuredCPU(t *testing.T) {
	files, _ := filepath.Glob("../testdata/measured/cpu-*.json")
	if len(files) == 0 {
		t.Fatal("no CPU measurements in planner/testdata/measured")
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
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
