package train

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/runtime/data"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/format/safetensors"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// bf16Full returns a trainer of a bf16 full fine-tune of stories260K
// over the given training sequences: the block linears stored in bf16.
func bf16Full(t *testing.T, att engine.Attention, ds *data.Set, cfg Config) *Trainer {
	t.Helper()
	e, _ := stories(t, len(ds.Train[0].Inputs), engine.QuantizeBF16)
	if att != engine.AttentionEager {
		e = rebuildBF16(t, att)
	}
	cfg.Method, cfg.BF16 = Full, true
	tr, err := New(e, ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestBF16FullMatchesPyTorch holds a bf16 full fine-tune to PyTorch
// running the same semantics (testdata/reference.py with "bf16"): each
// block linear weight is a bfloat16 tensor, every step computes with its
// exact fp32 widening, the gradients, AdamW's moments and its update are
// fp32, and the updated weight is rounded to bf16 to nearest even. The
// logits, the loss and every gradient of the first step are compared as
// TestMatchesPyTorch compares them (1e-5, or no farther from float64 than
// PyTorch fp32): they are fp32 computations on the same weights.
//
// The bf16 weights after three AdamW steps (warmup, cosine, clipping)
// are compared element by element: bit-identical, or apart by at most one
// bf16 ulp at the magnitude of the last update's operands, |w| + lr (Adam's
// step is at most about lr). Each update is the fp32 update of
// TestMatchesPyTorch, equal to about 1e-5 relative, so rounding it to 8
// bits of mantissa gives the same bf16 value unless the fp32 result lies
// within that noise of a midpoint between two bf16 values, where the two
// sides round to neighbours. Later steps start from those neighbours; a
// weight that an update brings near zero (w − step cancelling) keeps that
// one-ulp difference at the operands' magnitude, which is many ulps of its
// own small value (measured: up to 17), hence the bound at |w| + lr rather
// than one ulp of the result. A wrong update (a missed decay or bias
// correction, rounding by truncation) moves most weights, which the
// bit-identical share catches: at least 99% must be bit-identical
// (measured 99.87%; truncation instead of rounding fails it).
//
// The variant with checkpointing = full recomputes every block in the
// backward pass (engine/checkpoint.go), its products widening the bf16
// weights again; recomputation changes no arithmetic, so the same
// reference holds.
func TestBF16FullMatchesPyTorch(t *testing.T) {
	needTorch(t)
	for _, v := range []struct {
		att  engine.Attention
		ckpt bool
	}{{engine.AttentionEager, false}, {engine.AttentionFlash2, false}, {engine.AttentionEager, true}} {
		att := v.att
		name := att.String()
		if v.ckpt {
			name += "/checkpointing=full"
		}
		t.Run(name, func(t *testing.T) {
			_, all := stories(t, 24, engine.QuantizeNone)
			ds := &data.Set{Train: all.Train[:6]}
			cfg := Config{Optimizer: Optimizer{Kind: AdamW, LR: 5e-3, WeightDecay: 0.1, Eps: 1e-4}, Schedule: Cosine, WarmupSteps: 2, MaxGradNorm: 0.5,
				Batch: 2, GradAccum: 1, MaxSteps: 3, Seed: 11}
			if v.ckpt {
				cfg.Checkpoint = []bool{true, true, true, true, true}
			}
			tr := bf16Full(t, att, ds, cfg)
			bf16 := 0
			for _, p := range tr.params {
				if p.BF16 != nil {
					bf16++
				}
			}
			if bf16 != 7*tr.e.Config().Layers {
				t.Fatalf("%d params stored in bf16, want the %d block linears", bf16, 7*tr.e.Config().Layers)
			}
			steps := [][]int{tr.batchOf(0), tr.batchOf(1), tr.batchOf(2)}
			want := reference(t, tr, steps, map[string]any{"method": "full", "lr": cfg.Optimizer.LR, "weight_decay": cfg.Optimizer.WeightDecay, "eps": cfg.Optimizer.Eps,
				"schedule": "cosine", "max_grad_norm": cfg.MaxGradNorm})
			logits, loss := firstStep(t, tr, ds, steps[0])
			check, worst := torchCheck(t, want)
			check("logits", "logits", logits)
			check("loss", "loss", []float32{float32(loss)})
			if clipGlobalNorm(tr.params, 0) <= cfg.MaxGradNorm {
				t.Fatalf("the gradient norm is below the clipping threshold; the test would not check clipping")
			}
			for _, p := range tr.params {
				check("grad "+p.Name, "grad."+p.Name, p.Grad)
			}
			before := map[string][]byte{}
			for _, p := range tr.params {
				if p.BF16 != nil {
					before[p.Name] = append([]byte(nil), p.BF16...)
				}
			}
			for range 3 {
				if _, err := tr.Step(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			same, total, moved, ulps := 0, 0, 0, 0
			for _, p := range tr.params {
				if p.BF16 == nil {
					check("weights "+p.Name, "final."+p.Name, p.Value)
					continue
				}
				w32 := want["final."+p.Name]
				if len(w32) != p.Len() {
					t.Fatalf("%s: %d values from PyTorch, %d here", p.Name, len(w32), p.Len())
				}
				for j, x := range w32 {
					theirs := math.Float32bits(x)
					if theirs&0xFFFF != 0 {
						t.Fatalf("%s[%d]: PyTorch's weight %v is not a bf16 value", p.Name, j, x)
					}
					ours := binary.LittleEndian.Uint16(p.BF16[2*j:])
					if ours != binary.LittleEndian.Uint16(before[p.Name][2*j:]) {
						moved++
					}
					total++
					if d := bf16Ulps(ours, uint16(theirs>>16)); d == 0 {
						same++
					} else {
						ulps = max(ulps, d)
						o := float64(widen1(ours))
						if diff, u := math.Abs(o-float64(x)), bf16Ulp(math.Max(math.Abs(o), math.Abs(float64(x)))+cfg.Optimizer.LR); diff > u {
							t.Errorf("%s[%d]: %v here, %v in PyTorch: %.3g apart, more than one bf16 ulp (%.3g) of the update's operands", p.Name, j, o, x, diff, u)
						}
					}
				}
			}
			t.Logf("bf16 weights after 3 steps: %d of %d bit-identical to PyTorch (%.4f%%), the others at most %d ulps of their own value apart; %d moved from their start; largest relative errors: %v",
				same, total, 100*float64(same)/float64(total), ulps, moved, worst)
			if moved < total/2 {
				t.Errorf("only %d of %d bf16 weights changed in 3 steps: the test would not check the update", moved, total)
			}
			if float64(same) < 0.99*float64(total) {
				t.Errorf("only %d of %d bf16 weights are bit-identical to PyTorch's", same, total)
			}
		})
	}
}

// bf16Ulps returns how many bf16 values lie between a and b (0 when
// equal), for finite values of either sign.
func bf16Ulps(a, b uint16) int {
	ord := func(x uint16) int {
		if x&0x8000 != 0 {
			return -int(x & 0x7FFF)
		}
		return int(x)
	}
	d := ord(a) - ord(b)
	if d < 0 {
		d = -d
	}
	return d
}

// bf16Ulp returns the spacing of bf16 values at magnitude x > 0: 2⁻⁷ of
// the power of two at or below x.
func bf16Ulp(x float64) float64 {
	_, e := math.Frexp(x) // x = f·2^e, f in [0.5, 1)
	return math.Ldexp(1, e-1-7)
}

func widen1(b uint16) float32 {
	v := make([]float32, 1)
	kernels.WidenBF16(v, []byte{byte(b), byte(b >> 8)})
	return v[0]
}

// rebuildBF16 is rebuild with the block linears stored in bf16.
func rebuildBF16(t testing.TB, att engine.Attention) *engine.Engine {
	t.Helper()
	ws, err := llama2c.Open(testmodels.Path(t, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(context.Background(), ws, engine.Options{Attention: att, Compile: engine.CompileDefault, Quantize: engine.QuantizeBF16, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestBF16Checkpoint saves a bf16 full fine-tune and reads it back: the
// block linears are BF16 tensors holding the trained bits, the embeddings
// and norms F32, config.json says torch_dtype bfloat16, and an engine
// loaded from the checkpoint (which keeps BF16 tensors in bf16) gives the
// trained engine's logits bit for bit.
func TestBF16Checkpoint(t *testing.T) {
	_, all := stories(t, 24, engine.QuantizeNone)
	ds := &data.Set{Train: all.Train[:8]}
	out := t.TempDir()
	tr := bf16Full(t, engine.AttentionEager, ds, Config{Optimizer: Optimizer{Kind: AdamW, LR: 1e-2}, Schedule: Constant,
		Batch: 2, GradAccum: 1, MaxSteps: 2, Seed: 3, Output: out})
	if _, err := tr.Run(context.Background(), "bf16-ckpt"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(out, checkpointPrefix+"2")
	cfg, err := os.ReadFile(filepath.Join(dir, safetensors.ConfigName))
	if err != nil {
		t.Fatal(err)
	}
	var hf struct {
		DType string `json:"torch_dtype"`
	}
	if err := json.Unmarshal(cfg, &hf); err != nil || hf.DType != "bfloat16" {
		t.Errorf("config.json: torch_dtype %q (%v), want bfloat16", hf.DType, err)
	}
	ws, err := safetensors.OpenHF(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ws.Close != nil {
		defer ws.Close()
	}
	for _, p := range tr.params {
		x, ok := ws.Tensors[p.Name]
		if !ok {
			t.Fatalf("the checkpoint has no %s", p.Name)
		}
		switch {
		case p.BF16 != nil && (x.DType != weights.BF16 || !bytes.Equal(x.Data, p.BF16)):
			t.Errorf("%s: %v in the checkpoint, want the trained BF16 bits", p.Name, x.DType)
		case p.BF16 == nil && x.DType != weights.F32:
			t.Errorf("%s: %v in the checkpoint, want F32", p.Name, x.DType)
		}
	}
	back, err := engine.New(context.Background(), ws, engine.Options{Attention: engine.AttentionEager, Compile: engine.CompileDefault, Quantize: engine.QuantizeNone, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := back.NewTrainStep(engine.TrainSpec{SeqLen: 24, Trained: map[string]bool{"norm.weight": true}})
	if err != nil {
		t.Fatal(err)
	}
	seq := ds.Train[0]
	got, want := make([]float32, 24*back.Config().Vocab), make([]float32, 24*back.Config().Vocab)
	if _, err := ts.Evaluate(context.Background(), seq.Inputs, seq.Targets, seq.Weights, got); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.ts.Evaluate(context.Background(), seq.Inputs, seq.Targets, seq.Weights, want); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("logit %d: %v from the checkpoint, %v from the trained engine", i, got[i], want[i])
		}
	}
}

// TestBF16Rollback: a rollback before the first checkpoint restores the
// bf16 weights, which train in place in the engine's own bytes, to the
// bits they were loaded with (the source rounded again).
func TestBF16Rollback(t *testing.T) {
	_, all := stories(t, 16, engine.QuantizeNone)
	ds := &data.Set{Train: all.Train[:4]}
	tr := bf16Full(t, engine.AttentionEager, ds, Config{Optimizer: Optimizer{Kind: AdamW, LR: 1e-2}, Schedule: Constant,
		Batch: 2, GradAccum: 1, MaxSteps: 4, Seed: 3})
	start := map[string][]byte{}
	for _, p := range tr.params {
		if p.BF16 != nil {
			start[p.Name] = append([]byte(nil), p.BF16...)
		}
	}
	for range 2 {
		if _, err := tr.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	changed := 0
	for _, p := range tr.params {
		if p.BF16 != nil && !bytes.Equal(p.BF16, start[p.Name]) {
			changed++
		}
	}
	if changed != len(start) {
		t.Fatalf("%d of %d bf16 weights changed in 2 steps", changed, len(start))
	}
	if err := tr.rollBack(); err != nil {
		t.Fatal(err)
	}
	for _, p := range tr.params {
		if p.BF16 != nil && !bytes.Equal(p.BF16, start[p.Name]) {
			t.Errorf("%s: not restored by the rollback", p.Name)
		}
	}
}
