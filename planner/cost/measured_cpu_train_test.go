package cost

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/stdlib/attention"
	"github.com/modelwhisperer/whisperc/stdlib/training"
)

// cpuTrainMeasurement is one planner/testdata/measured/train-cpu-*.json
// document, written by `go run ./runtime/bench trainmem`.
type cpuTrainMeasurement struct {
	BaseBytes int64 `json:"base_bytes"`
	Rows      []struct {
		Model          string   `json:"model"`
		Method         string   `json:"method"`
		Quant          string   `json:"quant"`
		Precision      string   `json:"precision"`
		Checkpointing  string   `json:"checkpointing"`
		Optimizer      string   `json:"optimizer"`
		Seq            int      `json:"seq_len"`
		Batch          int      `json:"batch"`
		Rank           int      `json:"rank"`
		Targets        []string `json:"targets"`
		Dropout        float64  `json:"dropout"`
		Attention      string   `json:"attention"`
		FileBytes      int64    `json:"file_bytes"`
		TokenizerBytes int64    `json:"tokenizer_file_bytes"`
		DataBytes      int64    `json:"data_file_bytes"`
		Measured       []int64  `json:"measured_peak_rss"`
	} `json:"rows"`
}

// trainShapes are the measured models: the real stories260K and the
// TinyStories 15M and 42M shapes.
var trainShapes = map[string]arch.Config{
	"260K": {Name: "llama2.c", Family: arch.Llama, Dim: 64, HiddenDim: 172, Layers: 5, Heads: 8, KVHeads: 4, Vocab: 512, MaxSeq: 512, Tied: true},
	"15M":  cpuShapes["15M"],
	"42M":  cpuShapes["42M"],
}

// TestMeasuredCPUTrain re-predicts the peak resident memory of every
// measured CPU training run (whisperc run: LoRA, full and QLoRA, with and
// without checkpointing, each optimizer) and requires it within 10% of the
// measured VmHWM (the median of the recorded runs).
func TestMeasuredCPUTrain(t *testing.T) {
	for _, f := range readMeasured(t, "train-cpu-*.json", "no CPU training measurements in planner/testdata/measured") {
		name, data := f.name, f.data
		var m cpuTrainMeasurement
		if err := json.Unmarshal(data, &m); err != nil || m.BaseBytes <= 0 || len(m.Rows) < 12 {
			t.Fatalf("%s: %v (%d rows, base %d)", name, err, len(m.Rows), m.BaseBytes)
		}
		dev := Device{Name: "cpu", Memory: 24 << 30, CPU: &CPURates{BaseBytes: m.BaseBytes}}
		for _, r := range m.Rows {
			c, ok := trainShapes[r.Model]
			if !ok || len(r.Measured) == 0 {
				t.Fatalf("%s: unknown shape %s or no measurement", name, r.Model)
			}
			w := Workload{Arch: c, Mode: Train, Method: training.Full, Storage: FP32, Compute: FP32, Batch: r.Batch, Seq: r.Seq, Devices: 1, Sharding: DDP,
				FileBytes: r.FileBytes, TokenizerFileBytes: r.TokenizerBytes, DataFileBytes: r.DataBytes}
			var err error
			if w.Attention, err = attention.Parse(r.Attention); err != nil {
				t.Fatal(err)
			}
			if r.Method != "full" {
				w.Mode, w.Method, w.LoRARank, w.LoRATargets, w.LoRADropout, w.AdapterType = Train, training.LoRA, r.Rank, r.Targets, r.Dropout, FP32
			}
			if r.Quant == "nf4" {
				w.Quant = Quant{Type: NF4, BlockSize: 64, Double: true}
			}
			if r.Precision == "bf16" {
				w.Quant = Quant{Type: BF16} // the frozen block linears, as the planner sets it for the CPU
			}
			switch r.Checkpointing {
			case "none":
				w.Checkpointing = CheckpointNone
			case "full":
				w.Checkpointing = CheckpointFull
			case "selective":
				w.Checkpointing = CheckpointSelective
			default:
				t.Fatalf("%s: checkpointing %q", name, r.Checkpointing)
			}
			for o := AdamW; o <= Lion; o++ {
				if o.String() == r.Optimizer {
					w.Optimizer = o
				}
			}
			if err := w.Validate(); err != nil {
				t.Fatal(err)
			}
			ms := append([]int64(nil), r.Measured...)
			sort.Slice(ms, func(i, j int) bool { return ms[i] < ms[j] })
			got, want := w.Memory(dev).Total, ms[len(ms)/2]
			ratio := float64(got) / float64(want)
			if ratio < 0.9 || ratio > 1.1 {
				t.Errorf("%s %s %s ckpt %s %s: predicted %d bytes, measured %d (%+.1f%%)", r.Model, r.Method, r.Quant, r.Checkpointing, r.Optimizer, got, want, 100*(ratio-1))
			}
			t.Logf("%-4s %-5s %-4s ckpt %-9s %-10s plan %6.1f MiB, run %6.1f MiB (%+5.1f%%)", r.Model, r.Method, r.Precision, r.Checkpointing, r.Optimizer,
				float64(got)/(1<<20), float64(want)/(1<<20), 100*(ratio-1))
		}
	}
}
