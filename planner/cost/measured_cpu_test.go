package cost

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelwhisperer/whisperc/planner/arch"
)

// cpuMeasurement is one planner/testdata/measured/cpu-*.json document.
type cpuMeasurement struct {
	Machine map[string]any `json:"machine"`
	Rates   *CPURates      `json:"rates"`
	Rows    []struct {
		Model        string  `json:"model"`
		Format       string  `json:"format"`
		Tokens       int     `json:"tokens"`
		MeasuredRSS  int64   `json:"measured_peak_rss"`
		PredictedTPS float64 `json:"predicted_tokens_per_s"`
		MeasuredTPS  float64 `json:"measured_tokens_per_s"`
		FileBytes    int64   `json:"file_bytes"`
	} `json:"rows"`
}

var cpuShapes = map[string]arch.Config{
	"15M":  {Name: "llama2.c", Family: arch.Llama, Dim: 288, HiddenDim: 768, Layers: 6, Heads: 6, KVHeads: 6, Vocab: 32000, MaxSeq: 256, Tied: true},
	"42M":  {Name: "llama2.c", Family: arch.Llama, Dim: 512, HiddenDim: 1376, Layers: 8, Heads: 8, KVHeads: 8, Vocab: 32000, MaxSeq: 1024, Tied: true},
	"110M": {Name: "llama2.c", Family: arch.Llama, Dim: 768, HiddenDim: 2048, Layers: 12, Heads: 12, KVHeads: 12, Vocab: 32000, MaxSeq: 1024, Tied: true},
}

// TestMeasuredCPU re-predicts, with the calibration recorded beside each
// measurement, the peak resident memory of every measured whisperc run
// and requires it within 10% of the measured VmHWM. Decode speed is
// reported, not asserted: the recorded runs on a shared 2-vCPU machine
// vary by up to 2× between runs (see the README).
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
		if err := json.Unmarshal(data, &m); err != nil || m.Rates == nil || len(m.Rows) != 9 {
			t.Fatalf("%s: %v (%d rows)", name, err, len(m.Rows))
		}
		dev := Device{Name: "cpu", Memory: 24 << 30, CPU: m.Rates}
		for _, r := range m.Rows {
			c, ok := cpuShapes[r.Model]
			if !ok {
				t.Fatalf("%s: unknown shape %s", name, r.Model)
			}
			w := Workload{Arch: c, Mode: Inference, Storage: FP32, Compute: FP32, Batch: 1, Seq: 1, NewTokens: r.Tokens, KVCache: true,
				Devices: 1, Sharding: DDP, Attention: Eager, FileBytes: r.FileBytes, TokenizerFileBytes: 433_869, CompileMode: "default"}
			switch r.Format {
			case "nf4":
				w.Quant = Quant{Type: NF4, BlockSize: 64, Double: true}
			case "q8_0":
				w.Quant = Quant{Type: Q8_0}
			}
			got := w.Memory(dev).Total
			ratio := float64(got) / float64(r.MeasuredRSS)
			if ratio < 0.9 || ratio > 1.1 {
				t.Errorf("%s %s %s: predicted %d bytes, measured %d (%+.1f%%)", name, r.Model, r.Format, got, r.MeasuredRSS, 100*(ratio-1))
			}
			t.Logf("%-4s %-4s RSS %+5.1f%%  tok/s %+5.1f%% (plan %.1f, run %.1f)", r.Model, r.Format, 100*(ratio-1),
				100*(r.PredictedTPS/r.MeasuredTPS-1), r.PredictedTPS, r.MeasuredTPS)
		}
	}
}
