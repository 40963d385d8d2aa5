package cost

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/stdlib/training"
)

// ttPublished is one row of planner/testdata/measured/torchtune-published.json.
type ttPublished struct {
	Name       string   `json:"name"`
	Shape      string   `json:"shape"`
	Method     string   `json:"method"`
	Rank       int      `json:"rank"`
	Targets    []string `json:"targets"`
	Batch      int      `json:"batch"`
	Seq        int      `json:"seq"`
	Optimizer  string   `json:"optimizer"`
	Compile    bool     `json:"compile"`
	LossChunks int      `json:"loss_chunks"`
	Ckpt       string   `json:"ckpt"`
	Offload    bool     `json:"offload"`
	InBwd      bool     `json:"in_bwd"`
	GiB        float64  `json:"gib"`
}

// ttKnownMisses are the published rows the model does not reach within
// 10%, each with the error it has and why. The test fails when one of them
// moves by more than 3 points (better or worse), so that the list is kept
// true.
var ttKnownMisses = map[string]struct {
	err    float64
	reason string
}{
	"3b-full-8bit": {-0.19, "8-bit AdamW saves 4.2 GiB in the README against the 6 GiB of moments it drops; the rest is unexplained (bitsandbytes' per-parameter optimizers under optimizer_in_bwd)"},
}

// TestTorchtunePublished checks the torchtune model against torchtune's own
// published peaks (its v0.6.1 README): every row within 10% of the
// allocated peak, except the known misses above.
func TestTorchtunePublished(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "measured", "torchtune-published.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Rows []ttPublished `json:"rows"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Rows) < 10 {
		t.Fatalf("%d rows; the file has twelve", len(doc.Rows))
	}
	dev := Device{GPU: true, ContextBytes: DefaultGPUContext}
	var b strings.Builder
	fmt.Fprintf(&b, "%-18s %9s %9s %7s\n", "case", "model GiB", "published", "err")
	for _, r := range doc.Rows {
		a, ok := arch.Preset(r.Shape)
		if !ok {
			t.Fatalf("%s: no preset %q", r.Name, r.Shape)
		}
		w := Workload{Arch: a, Mode: Train, Method: training.Full, Storage: BF16, Compute: BF16, Attention: SDPA, Batch: r.Batch, Seq: r.Seq,
			Devices: 1, Sharding: DDP, Checkpointing: CheckpointNone, LossChunks: r.LossChunks,
			ActivationOffload: r.Offload, OptimizerInBackward: r.InBwd && r.Method == "full"}
		switch r.Optimizer {
		case "adamw":
			w.Optimizer = AdamW
		case "adamw_8bit":
			w.Optimizer = AdamW8bit
		case "paged_adamw_8bit":
			w.Optimizer = PagedAdamW8bit
		default:
			t.Fatalf("%s: optimizer %q", r.Name, r.Optimizer)
		}
		if r.Ckpt == "full" {
			w.Checkpointing = CheckpointFull
		}
		if r.Method != "full" {
			w.Mode, w.Method, w.LoRARank, w.LoRATargets = Train, training.LoRA, r.Rank, r.Targets
		}
		if r.Method == "qlora" {
			w.Quant = Quant{Type: NF4, BlockSize: 64, Double: true}
		}
		w = w.OnEngine(EngineTorchtune)
		w.CompiledLoss, w.Compiled = r.Compile, r.Compile
		if err := w.Validate(); err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		got := float64(w.Memory(dev).Allocated) / (1 << 30)
		e := (got - r.GiB) / r.GiB
		fmt.Fprintf(&b, "%-18s %9.1f %9.1f %+6.1f%%\n", r.Name, got, r.GiB, 100*e)
		if miss, ok := ttKnownMisses[r.Name]; ok {
			if e < miss.err-0.03 || e > miss.err+0.03 {
				t.Errorf("%s: %+.1f%%, the known miss was %+.1f%% (%s); update ttKnownMisses", r.Name, 100*e, 100*miss.err, miss.reason)
			}
			continue
		}
		if e > 0.10 || e < -0.10 {
			t.Errorf("%s: predicted %.1f GiB, torchtune published %.1f GiB (%+.1f%%): more than 10%% off", r.Name, got, r.GiB, 100*e)
		}
	}
	t.Log("\n" + b.String())
}
