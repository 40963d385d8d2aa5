package cost

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/stdlib/training"
)

// measurement is one line of planner/testdata/measured/*.jsonl.
type measurement struct {
	Name          string   `json:"name"`
	Shape         string   `json:"shape"`
	Mode          string   `json:"mode"`
	DType         string   `json:"dtype"`
	Batch         int      `json:"batch"`
	Seq           int      `json:"seq"`
	Ckpt          string   `json:"ckpt"`
	Attn          string   `json:"attn"`
	Rank          int      `json:"rank"`
	Dropout       float64  `json:"dropout"`
	Targets       []string `json:"targets"`
	Params        int64    `json:"params"`
	Trainable     int64    `json:"trainable_params"`
	WeightsBytes  int64    `json:"weights_bytes"`
	PeakAllocated int64    `json:"peak_allocated"`
	PeakReserved  int64    `json:"peak_reserved"`
	KVCacheBytes  int64    `json:"kv_cache_bytes"`
	StepSeconds   float64  `json:"step_s"`
}

func loadMeasurements(t *testing.T) []measurement {
	t.Helper()
	var ms []measurement
	for _, name := range []string{"h100-80gb-hbm3.jsonl", "h100-80gb-hbm3-more.jsonl"} {
		f, err := os.Open(filepath.Join("..", "testdata", "measured", name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var m measurement
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			ms = append(ms, m)
		}
		f.Close()
	}
	return ms
}

// workloadOf rebuilds the measured case as a Workload.
func workloadOf(t *testing.T, m measurement) Workload {
	a, ok := arch.Preset(m.Shape)
	if !ok {
		t.Fatalf("%s: no preset %q", m.Name, m.Shape)
	}
	w := Workload{Arch: a, Batch: m.Batch, Seq: m.Seq, Optimizer: AdamW, Devices: 1, Sharding: DDP,
		Checkpointing: CheckpointNone, Attention: SDPA}
	switch m.DType {
	case "bf16":
		w.Storage, w.Compute = BF16, BF16
	case "fp32-amp":
		w.Storage, w.Compute = FP32, BF16
	case "fp32":
		w.Storage, w.Compute = FP32, FP32
	}
	switch m.Mode {
	case "infer":
		w.Mode, w.KVCache = Inference, true
	case "lora":
		w.Mode, w.Method, w.LoRARank, w.LoRATargets, w.AdapterType = Train, training.LoRA, m.Rank, []string{"q_proj", "k_proj", "v_proj", "o_proj"}, FP32
		if len(m.Targets) > 0 {
			w.LoRATargets = m.Targets
		}
		w.LoRADropout = m.Dropout
	case "full":
		w.Mode, w.Method = Train, training.Full
	}
	if m.Ckpt == "full" {
		w.Checkpointing = CheckpointFull
	}
	if m.Attn == "eager" {
		w.Attention = Eager
	}
	if err := w.Validate(); err != nil {
		t.Fatalf("%s: %v", m.Name, err)
	}
	return w
}

func within(got, want, tol float64) bool { return math.Abs(got-want) <= tol*math.Abs(want) }

// TestMeasuredH100 checks the model against PyTorch's allocator peaks
// measured on an H100 (planner/testdata/measured/README.md).
func TestMeasuredH100(t *testing.T) {
	dev := Device{GPU: true, ContextBytes: DefaultGPUContext}
	for _, m := range loadMeasurements(t) {
		w := workloadOf(t, m)
		params := m.Params
		if w.Arch.Family == arch.BERT {
			params -= int64(2*w.Arch.Dim + 2) // the two-label classification head
		}
		if got := w.Arch.Params(); got != params {
			t.Errorf("%s: %d parameters, PyTorch counted %d", m.Name, got, m.Params)
		}
		if m.Trainable > 0 && w.TrainableParams() != m.Trainable {
			t.Errorf("%s: %d trainable, PyTorch counted %d", m.Name, w.TrainableParams(), m.Trainable)
		}
		mem := w.Memory(dev)
		if got := mem.Component("weights"); got != m.WeightsBytes {
			// PyTorch's allocator rounds each tensor up to 512 bytes.
			if !within(float64(got), float64(m.WeightsBytes), 0.001) {
				t.Errorf("%s: weights %d, measured %d", m.Name, got, m.WeightsBytes)
			}
		}
		want := float64(m.PeakAllocated)
		if m.Mode == "infer" {
			// The script runs the forward twice and keeps the first
			// result (cache and logits) alive during the second.
			want -= float64(m.KVCacheBytes) + float64(m.Batch*m.Seq*w.Arch.Vocab*2)
			if got := mem.Component("kv_cache"); got != m.KVCacheBytes {
				t.Errorf("%s: kv cache %d, measured %d", m.Name, got, m.KVCacheBytes)
			}
		}
		got := float64(mem.Allocated)
		t.Logf("%-24s predicted %6.2f GB, measured %6.2f GB (%+.1f%%), phase %s", m.Name, got/1e9, want/1e9, 100*(got-want)/want, mem.Phase)
		if !within(got, want, 0.05) {
			t.Errorf("%s: predicted peak %.2f GB, measured %.2f GB: off by more than 5%%", m.Name, got/1e9, want/1e9)
		}
	}
}

// h100 is the H100 SXM data sheet: 989.4 TFLOPS dense bf16, 3.35 TB/s.
var h100 = Device{Name: "h100", GPU: true, Bandwidth: 3.35e12, ContextBytes: DefaultGPUContext,
	Peak: map[DType]float64{BF16: 989.4e12, FP16: 989.4e12, FP32: 66.9e12}}

// TestMeasuredH100Time checks the roofline against the measured step
// times. The assumed training MFU (25%) is optimistic for these small
// single-GPU batches (measured 5–22%; 1.1B-parameter LoRA steps with
// adapters everywhere are overhead-bound), so training steps are checked
// within a factor of 4; prefill, whose MFU was set from the 7B
// measurement, within 15%.
func TestMeasuredH100Time(t *testing.T) {
	steps := map[string]float64{}
	for _, m := range loadMeasurements(t) {
		w := workloadOf(t, m)
		var tm Time
		if m.Mode == "infer" {
			tm = w.Prefill(h100)
		} else {
			tm = w.TrainStep(h100)
		}
		steps[m.Name] = tm.Seconds
		ratio := tm.Seconds / m.StepSeconds
		t.Logf("%-24s predicted %.3f s, measured %.3f s (×%.2f), MFU measured %.1f%%", m.Name, tm.Seconds, m.StepSeconds, ratio,
			100*(tm.FLOPs/m.StepSeconds)/989.4e12)
		tol := 4.0
		if m.Mode == "infer" {
			tol = 1.15
		}
		if ratio > tol || ratio < 1/tol {
			t.Errorf("%s: predicted %.3f s, measured %.3f s", m.Name, tm.Seconds, m.StepSeconds)
		}
	}
	if steps["lora-7b-bf16-full"] <= steps["lora-7b-bf16-nockpt"] {
		t.Error("checkpointing must cost time")
	}
}
