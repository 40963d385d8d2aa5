package train

import (
	"context"
	"math"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/engine"
)

// TestCheckpointingRecomputes trains with every block, every second
// block and no block checkpointed: recomputation must give bit-identical
// losses and weights (the same ops run in the same order), while the
// activations the training graph holds shrink.
func TestCheckpointingRecomputes(t *testing.T) {
	for _, method := range []Method{LoRA, Full} {
		for _, q := range []engine.Quantize{engine.QuantizeNone, engine.QuantizeNF4} {
			if method == Full && q != engine.QuantizeNone {
				continue
			}
			t.Run(method.String()+"/"+q.String(), func(t *testing.T) {
				var want [][]float32
				var wantLoss []float64
				var held []int64
				for _, ck := range [][]bool{nil, {true, false, true, false, true}, {true, true, true, true, true}} {
					e, ds := stories(t, 64, q)
					ds.Train = ds.Train[:8]
					cfg := Config{Method: method, LoRA: LoRAConfig{Rank: 4, Alpha: 8, Dropout: 0.1, Modules: []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}},
						Optimizer: Optimizer{Kind: AdamW, LR: 1e-2}, Schedule: Constant, MaxGradNorm: 1, Batch: 2, GradAccum: 1, MaxSteps: 3, Seed: 2, Checkpoint: ck}
					tr, err := New(e, ds, cfg)
					if err != nil {
						t.Fatal(err)
					}
					var losses []float64
					for range 3 {
						ev, err := tr.Step(context.Background())
						if err != nil {
							t.Fatal(err)
						}
						losses = append(losses, ev.Loss)
					}
					held = append(held, tr.ts.HeldBytes())
					var got [][]float32
					for _, p := range tr.Params() {
						got = append(got, append([]float32(nil), p.Value...))
					}
					if want == nil {
						want, wantLoss = got, losses
						continue
					}
					for i := range losses {
						if losses[i] != wantLoss[i] {
							t.Fatalf("checkpointing %v: loss of step %d is %v, without %v", ck, i+1, losses[i], wantLoss[i])
						}
					}
					for i := range want {
						for j := range want[i] {
							if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
								t.Fatalf("checkpointing %v: %s[%d] = %g, without %g", ck, tr.Params()[i].Name, j, got[i][j], want[i][j])
							}
						}
					}
				}
				t.Logf("bytes held after a step: none %d, every(2) %d, full %d", held[0], held[1], held[2])
				if !(held[2] < held[1] && held[1] < held[0]) || float64(held[2]) > 0.6*float64(held[0]) {
					t.Errorf("checkpointing does not shrink the held activations: none %d, every(2) %d, full %d", held[0], held[1], held[2])
				}
			})
		}
	}
}
