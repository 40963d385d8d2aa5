package cost

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
)

// knownPrefillMisses are the rows of the prefill table whose predicted
// peak RSS is known to miss the 10% bound, keyed "model format compile
// prompt-tokens", with the reason; such a row must still miss.
var knownPrefillMisses = map[string]string{
	// Under compile = none every decode step builds a graph afresh and
	// leaves it as garbage, which piles up to the heap goal that the
	// prompt's pass raised (twice its live activations) before anything
	// is collected: 14 MiB more than under default after 20 tokens on
	// 15M, 23 MiB on 42M (still within 10% there). The plan counts the
	// pass, not that garbage.
	"15M fp32 none 230": "per-step graphs' garbage under the goal the prompt's pass raised (-10.5 to -12% in three measurements)",
	// A quantised model's embedding rows are read from the mapped fp32
	// file, each lookup faulting in a readahead window of it: the plan
	// charges 32 KiB per position (EmbeddingFaultBytes, fitted to decode
	// steps, whose tokens repeat), but these made-up words' 230 mostly
	// distinct tokens brought back about 89 KiB each; a prompt of
	// English words (200 words from Python's docs) was within 3%. The
	// plan does not know how many distinct tokens a prompt has.
	"15M q8_0 default 230": "the prompt's distinct tokens fault more of the mapped embedding than 32 KiB each (-14%)",
	"15M nf4 default 230":  "as q8_0 (-14%)",
}

// TestMeasuredCPUPrefill re-predicts, with the calibration recorded
// beside the measurement, the peak resident memory of generations after
// long prompts (planner/testdata/measured/prefill-cpu-*.json, written by
// cmd/whisperc's TestMeasurePrefill) and requires it within 10% of the
// measured VmHWM. The prompt's one multi-row pass holds every op's output
// under compile = none and default (15M, 229 tokens: 35 MiB over the
// decode steps' peak), so a plan that ignored it predicted a third too
// little; the test also requires that the long prompts' rows measured
// more than the short one's, so that the table keeps exercising the
// prefill.
func TestMeasuredCPUPrefill(t *testing.T) {
	for _, f := range readMeasured(t, "prefill-cpu-*.json", "no prefill measurements in planner/testdata/measured") {
		name, data := f.name, f.data
		var m struct {
			Rates *CPURates `json:"rates"`
			Rows  []struct {
				Model        string `json:"model"`
				Format       string `json:"format"`
				Compile      string `json:"compile"`
				PromptTokens int    `json:"prompt_tokens"`
				Tokens       int    `json:"tokens"`
				FileBytes    int64  `json:"file_bytes"`
				MeasuredRSS  int64  `json:"measured_peak_rss"`
			} `json:"rows"`
		}
		if err := json.Unmarshal(data, &m); err != nil || m.Rates == nil || len(m.Rows) < 4 {
			t.Fatalf("%s: %v (%d rows)", name, err, len(m.Rows))
		}
		dev := Device{Name: "cpu", Memory: 24 << 30, CPU: m.Rates}
		var short, long int64
		for _, r := range m.Rows {
			c, ok := cpuShapes[r.Model]
			mode := compiler.ParseCompileMode(r.Compile)
			if !ok || mode == compiler.CompileInvalid || r.PromptTokens < 1 {
				t.Fatalf("%s: row %+v", name, r)
			}
			w := Workload{Arch: c, Mode: Inference, Storage: FP32, Compute: FP32, Batch: 1, Seq: r.PromptTokens, NewTokens: r.Tokens, KVCache: true,
				Devices: 1, Sharding: DDP, Attention: Eager, FileBytes: r.FileBytes, TokenizerFileBytes: 433_869, CompileMode: mode}
			switch r.Format {
			case "nf4":
				w.Quant = Quant{Type: NF4, BlockSize: 64, Double: true}
			case "q8_0":
				w.Quant = Quant{Type: Q8_0}
			}
			if w.Quant.Type.Quantized() {
				w.HeadQuant = Quant{Type: Q8_0}
			}
			pred := w.Memory(dev)
			ratio := float64(pred.Total) / float64(r.MeasuredRSS)
			key := fmt.Sprintf("%s %s %s %d", r.Model, r.Format, r.Compile, r.PromptTokens)
			why, known := knownPrefillMisses[key]
			switch miss := ratio < 0.9 || ratio > 1.1; {
			case miss && known:
				t.Logf("%s %s: known peak RSS miss, %+.1f%% (%s)", name, key, 100*(ratio-1), why)
			case miss:
				t.Errorf("%s %s: predicted peak RSS %d MiB, measured %d MiB (%+.1f%%)", name, key, pred.Total>>20, r.MeasuredRSS>>20, 100*(ratio-1))
			case known:
				t.Errorf("%s %s: listed as a known peak RSS miss but now within 10%%: remove it from knownPrefillMisses", name, key)
			}
			t.Logf("%-5s %-5s %-16s %4d prompt tokens: RSS %4d/%4d MiB %+5.1f%% (prefill %d MiB)", r.Model, r.Format, r.Compile, r.PromptTokens,
				pred.Total>>20, r.MeasuredRSS>>20, 100*(ratio-1), pred.Component("prefill")>>20)
			if r.Model == "15M" && r.Format == "fp32" && mode == compiler.CompileDefault {
				if r.PromptTokens <= 2 {
					short = r.MeasuredRSS
				} else {
					long = max(long, r.MeasuredRSS)
				}
			}
		}
		if short == 0 || long < short+16<<20 {
			t.Errorf("%s: the 15M fp32 rows measured %d MiB after a short prompt and at most %d after long ones: no long prompt's pass in the table", name, short>>20, long>>20)
		}
	}
}
