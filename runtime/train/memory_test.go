package train

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/runtime/data"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/weights"
	"github.com/modelwhisperer/whisperc/stdlib/training"
)

// TestPlannedGraphBytes compares the planner's CPU training graph (the
// activations, logits and gradient_nodes components of the plan) with the
// values the runtime's training graph holds after a sequence
// (TrainStep.HeldBytes, plus the dropout masks), for full fine-tuning and
// LoRA on a few target sets, with and without dropout, full fine-tuning of
// bf16 block linears (their gradients computed by the recomputation graphs
// under checkpointing), under every
// checkpointing setting the runtime runs (every(k) and selective included). They agree exactly for full
// fine-tuning; for LoRA, whose first block computes no input gradient and
// whose dropout shares some tensors by target set, the planner counts to
// within three [seq, dim] tensors.
func TestPlannedGraphBytes(t *testing.T) {
	const seq = 40
	c := arch.Config{Name: "test", Family: arch.Llama, Dim: 64, HiddenDim: 172, Layers: 3, Heads: 8, KVHeads: 4, Vocab: 512, MaxSeq: 64, RopeTheta: 10000, NormEps: 1e-5, Tied: true}
	all := []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
	type method struct {
		m       Method
		targets []string
		dropout float64
		bf16    bool // a full fine-tune training the block linears in bf16
	}
	dev := cost.Device{Name: "cpu", Memory: 1 << 34, CPU: &cost.CPURates{}}
	for _, me := range []method{{Full, nil, 0, false}, {Full, nil, 0, true}, {LoRA, []string{"q_proj"}, 0, false}, {LoRA, all, 0, false}, {LoRA, []string{"v_proj", "down_proj"}, 0.1, false}} {
		for _, every := range []int{0, 1, 2, -1} { // -1: selective
			name := fmt.Sprintf("%s%v/dropout=%g/bf16=%t/every=%d", me.m, me.targets, me.dropout, me.bf16, every)
			q := engine.QuantizeNone
			if me.bf16 {
				q = engine.QuantizeBF16
			}
			e, err := engine.New(context.Background(), weights.Random(c, 1), engine.Options{Attention: engine.AttentionFlash2, Compile: engine.CompileDefault, Quantize: q, Threads: 1, Context: seq})
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(2, 3))
			s := data.Sequence{Inputs: make([]int32, seq), Targets: make([]int32, seq), Weights: make([]float32, seq)}
			for i := range seq {
				s.Inputs[i], s.Targets[i], s.Weights[i] = int32(r.IntN(c.Vocab)), int32(r.IntN(c.Vocab)), 1
			}
			var ck, sel []bool
			w := cost.Workload{Arch: c, Storage: cost.FP32, Compute: cost.FP32, Batch: 1, Seq: seq, Optimizer: cost.AdamW, Devices: 1,
				Sharding: cost.DDP, Attention: cost.Flash2, Checkpointing: cost.CheckpointNone, Mode: cost.Train, Method: training.Full}
			if every > 0 {
				ck = make([]bool, c.Layers)
				for l := range ck {
					ck[l] = l%every == 0
				}
				w.Checkpointing, w.CheckpointEvery = cost.CheckpointEvery, every
			}
			if every < 0 {
				sel = make([]bool, c.Layers)
				for l := range sel {
					sel[l] = true
				}
				w.Checkpointing = cost.CheckpointSelective
			}
			if me.m == LoRA {
				w.Mode, w.Method, w.LoRARank, w.LoRATargets, w.LoRADropout, w.AdapterType = cost.Train, training.LoRA, 8, me.targets, me.dropout, cost.FP32
			}
			tr, err := New(e, &data.Set{Train: []data.Sequence{s}}, Config{Method: me.m, LoRA: LoRAConfig{Rank: 8, Alpha: 16, Modules: me.targets, Dropout: me.dropout},
				Optimizer: Optimizer{Kind: AdamW, LR: 1e-4}, Schedule: Constant, Batch: 1, GradAccum: 1, MaxSteps: 2, Seed: 1, Checkpoint: ck, RecomputeAttention: sel, BF16: me.bf16})
			if err != nil {
				t.Fatal(name, err)
			}
			if me.bf16 {
				w.Quant.Type = cost.BF16
			}
			if _, err := tr.Step(context.Background()); err != nil {
				t.Fatal(name, err)
			}
			got := tr.ts.HeldBytes()
			for n := range tr.Adapters() {
				got += 4 * int64(len(tr.ts.Mask(n)))
			}
			m := w.Memory(dev)
			want := m.Component("activations") + m.Component("logits") + m.Component("gradient_nodes")
			slack := int64(0)
			if me.m == LoRA {
				slack = 3 * seq * int64(c.Dim) * 4
			}
			if d := want - got; d < -slack || d > slack {
				t.Errorf("%s: the plan counts %d bytes of graph values, the runtime holds %d (%+d)", name, want, got, d)
			}
		}
	}
}
