package train

import (
	"context"
	"math"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/data"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// TestCheckpointingRecomputes trains with every block, every second
// block and no block checkpointed, and with every block's attention core
// recomputed (selective): recomputation must give bit-identical losses
// and weights (the same ops run in the same order), while the activations
// the training graph holds shrink: under selective by exactly the rotated
// q and k and their gradients, 2·T·(q width + k width) fp32 values per
// block.
func TestCheckpointingRecomputes(t *testing.T) {
	for _, method := range []Method{LoRA, Full} {
		for _, v := range []struct {
			q   engine.Quantize
			att engine.Attention
		}{{engine.QuantizeNone, engine.AttentionEager}, {engine.QuantizeNF4, engine.AttentionEager}, {engine.QuantizeNone, engine.AttentionFlash2},
			{engine.QuantizeBF16, engine.AttentionEager}, {engine.QuantizeBF16, engine.AttentionFlash2}} {
			q := v.q
			if method == Full && q == engine.QuantizeNF4 || method == LoRA && q == engine.QuantizeBF16 && v.att == engine.AttentionFlash2 {
				continue
			}
			t.Run(method.String()+"/"+q.String()+"/"+v.att.String(), func(t *testing.T) {
				var want [][]float32
				var wantLoss []float64
				var held []int64
				var tr0 *Trainer
				all := []bool{true, true, true, true, true}
				for i, ck := range [][]bool{nil, {true, false, true, false, true}, all, nil} {
					var sel []bool
					if i == 3 {
						sel = all
					}
					var e *engine.Engine
					var ds *data.Set
					if v.att == engine.AttentionFlash2 {
						_, ds = stories(t, 64, engine.QuantizeNone)
						if q == engine.QuantizeBF16 {
							e = rebuildBF16(t, engine.AttentionFlash2)
						} else {
							e = rebuild(t, engine.AttentionFlash2) // the tiled backward pass (engine/flash2.go)
						}
					} else {
						e, ds = stories(t, 64, q)
					}
					ds.Train = ds.Train[:8]
					cfg := Config{Method: method, LoRA: LoRAConfig{Rank: 4, Alpha: 8, Dropout: 0.1, Modules: []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}},
						Optimizer: Optimizer{Kind: AdamW, LR: 1e-2}, Schedule: Constant, MaxGradNorm: 1, Batch: 2, GradAccum: 1, MaxSteps: 3, Seed: 2, Checkpoint: ck, RecomputeAttention: sel}
					// Full over a bf16 model trains the block linears in
					// bf16 (bf16train.go): the recomputation graphs must
					// give their fp32 gradients, hence the same bf16 bits.
					cfg.BF16 = method == Full && q == engine.QuantizeBF16
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
					tr0 = tr
					// Each parameter's values (a bf16 one's bits, widened)
					// and its gradient of the last step.
					var got [][]float32
					bf16 := 0
					for _, p := range tr.Params() {
						v := p.Value
						if p.BF16 != nil {
							bf16++
							v = make([]float32, p.Len())
							kernels.WidenBF16(v, p.BF16)
						}
						got = append(got, v, append([]float32(nil), p.Grad...))
					}
					if cfg.BF16 && bf16 != 7*e.Config().Layers {
						t.Fatalf("%d parameters trained in bf16, want the %d block linears", bf16, 7*e.Config().Layers)
					}
					if want == nil {
						want, wantLoss = got, losses
						continue
					}
					for i := range losses {
						if losses[i] != wantLoss[i] {
							t.Fatalf("checkpointing %v, selective %v: loss of step %d is %v, without %v", ck, sel != nil, i+1, losses[i], wantLoss[i])
						}
					}
					for i := range want {
						for j := range want[i] {
							if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
								t.Fatalf("checkpointing %v, selective %v: %s %s[%d] = %g, without %g", ck, sel != nil, [2]string{"value", "gradient"}[i%2], tr.Params()[i/2].Name, j, got[i][j], want[i][j])
							}
						}
					}
				}
				t.Logf("bytes held after a step: none %d, every(2) %d, full %d, selective %d", held[0], held[1], held[2], held[3])
				c := tr0.e.Config()
				qd, kvd := c.Heads*c.HeadSize(), c.KVHeads*c.HeadSize()
				if want := int64(c.Layers * 2 * 64 * (qd + kvd) * 4); held[0]-held[3] != want {
					t.Errorf("selective holds %d bytes less than none; want %d (rotated q, k and their gradients)", held[0]-held[3], want)
				}
				if !(held[2] < held[1] && held[1] < held[0]) || float64(held[2]) > 0.6*float64(held[0]) {
					t.Errorf("checkpointing does not shrink the held activations: none %d, every(2) %d, full %d", held[0], held[1], held[2])
				}
			})
		}
	}
}
