package train

import (
	"context"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// TestLoRAOverBF16Base trains LoRA adapters over a base whose block
// linear weights are stored in bf16 (2 bytes each) and computed in fp32.
// Storage is the only difference from fp32, so the run must equal an fp32
// run whose weights were rounded to bf16 beforehand, to fp32 rounding of
// the different summation orders: the losses and the first step's
// gradients to 1e-5 relative, as against PyTorch, and the adapters after
// three AdamW steps to 1e-4 (Adam's normalised step turns the gradients'
// rounding differences on near-zero entries into larger ones, measured
// 4e-5);
// against the unrounded fp32 model the loss may differ only by what
// rounding each weight by at most 2⁻⁹ relative does (measured about 1e-3
// relative; the bound is 1e-2), and the base takes half the bytes.
func TestLoRAOverBF16Base(t *testing.T) {
	open := func(round bool) *weights.Set {
		ws, err := llama2c.Open(testmodels.Path(t, "stories260K.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if !round {
			return ws
		}
		c := &weights.Set{Config: ws.Config, Tensors: map[string]*weights.Tensor{}, Source: ws.Source + " (bf16-rounded)"}
		for n, x := range ws.Tensors {
			y := *x
			if strings.HasPrefix(n, "layers.") && len(x.Shape) == 2 {
				y.Data = append([]byte(nil), x.Data...)
				for i := 0; i+4 <= len(y.Data); i += 4 {
					b := binary.LittleEndian.Uint32(y.Data[i:])
					b += 0x7FFF + (b>>16)&1
					binary.LittleEndian.PutUint32(y.Data[i:], b&0xFFFF0000)
				}
			}
			c.Tensors[n] = &y
		}
		return c
	}
	_, ds := stories(t, 32, engine.QuantizeNone)
	ds.Train = ds.Train[:8]
	run := func(ws *weights.Set, q engine.Quantize) ([]float64, [][]float32, [][]float32, int64) {
		e, err := engine.New(context.Background(), ws, engine.Options{Attention: engine.AttentionFlash2, Compile: engine.CompileDefault, Quantize: q, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{Method: LoRA, LoRA: LoRAConfig{Rank: 4, Alpha: 8, Modules: []string{"q_proj", "v_proj", "down_proj"}},
			Optimizer: Optimizer{Kind: AdamW, LR: 1e-2, Eps: 1e-4}, Schedule: Constant, MaxGradNorm: 1, Batch: 2, GradAccum: 1, MaxSteps: 3, Seed: 5}
		tr, err := New(e, ds, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var losses []float64
		var grads [][]float32
		for s := range 3 {
			ev, err := tr.Step(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, ev.Loss)
			for _, p := range tr.Params() {
				if s == 0 {
					grads = append(grads, append([]float32(nil), p.Grad...))
				}
			}
		}
		var ps [][]float32
		for _, p := range tr.Params() {
			ps = append(ps, p.Value)
		}
		return losses, grads, ps, e.WeightBytes()
	}
	bfLoss, bfGrads, bfParams, bfBytes := run(open(false), engine.QuantizeBF16)
	rLoss, rGrads, rParams, _ := run(open(true), engine.QuantizeNone)
	fLoss, _, _, fBytes := run(open(false), engine.QuantizeNone)
	for i := range bfGrads {
		if e := relErr(bfGrads[i], rGrads[i]); e > 1e-5 {
			t.Errorf("gradient %d of the first step: bf16 storage and fp32 on rounded weights differ by %.3g", i, e)
		}
	}
	for i := range bfParams {
		if e := relErr(bfParams[i], rParams[i]); e > 1e-4 {
			t.Errorf("adapter tensor %d after 3 steps: bf16 storage and fp32 on rounded weights differ by %.3g", i, e)
		}
	}
	for i := range bfLoss {
		if d := math.Abs(bfLoss[i]-rLoss[i]) / rLoss[i]; d > 1e-5 {
			t.Errorf("step %d: loss %v over bf16, %v over rounded fp32", i+1, bfLoss[i], rLoss[i])
		}
		if d := math.Abs(bfLoss[i]-fLoss[i]) / fLoss[i]; d > 1e-2 {
			t.Errorf("step %d: loss %v over bf16, %v over fp32: beyond what the rounding explains", i+1, bfLoss[i], fLoss[i])
		} else {
			t.Logf("step %d: loss %.6f over bf16, %.6f over fp32 (%.2g relative)", i+1, bfLoss[i], fLoss[i], d)
		}
	}
	// The block linears are 2 bytes instead of 4; the embeddings (tied to
	// the classifier) and the norms stay fp32.
	linears := int64(0)
	ws := open(false)
	for n, x := range ws.Tensors {
		if strings.HasPrefix(n, "layers.") && len(x.Shape) == 2 {
			linears += int64(x.Elements())
		}
	}
	if fBytes-bfBytes != 2*linears {
		t.Errorf("the engine holds %d bytes over a bf16 base and %d over fp32: %d saved, want 2 per block weight (%d)", bfBytes, fBytes, fBytes-bfBytes, 2*linears)
	}
}
