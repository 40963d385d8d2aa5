package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/data"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/format/safetensors"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// python is Debian's interpreter, whose python3-torch the reference needs.
const python = "/usr/bin/python3"

// needTorch skips the test when PyTorch cannot be imported, except under
// CI (CI=true or WHISPERC_CI set), where the missing reference is a
// failure: CI installs python3-torch.
func needTorch(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import torch").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("%s cannot import torch (%v: %s); install Debian's python3-torch", python, err, bytes.TrimSpace(out))
		if os.Getenv("CI") == "true" || os.Getenv("WHISPERC_CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// reference runs testdata/reference.py on the trainer's model, data and
// initial adapters and returns its outputs by name.
func reference(t *testing.T, tr *Trainer, steps [][]int, cfg map[string]any) map[string][]float32 {
	t.Helper()
	var ts []*weights.Tensor
	if hasBF16(tr.params) {
		// A bf16 full fine-tune: the params are the model; the bf16 ones
		// go widened (exactly) and are named in the config.
		var bf16 []string
		for _, p := range tr.params {
			v := p.Value
			if p.BF16 != nil {
				v = make([]float32, p.Len())
				kernels.WidenBF16(v, p.BF16)
				bf16 = append(bf16, p.Name)
			}
			ts = append(ts, f32Tensor(p.Name, p.Shape, v))
		}
		cfg["bf16"] = bf16
	} else {
		snap, err := tr.e.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range sortedKeys(snap.Tensors) {
			ts = append(ts, snap.Tensors[n])
		}
	}
	for i, seq := range tr.ds.Train {
		in, tg := make([]float32, len(seq.Inputs)), make([]float32, len(seq.Targets))
		for j := range in {
			in[j], tg[j] = float32(seq.Inputs[j]), float32(seq.Targets[j])
		}
		n := len(in)
		ts = append(ts, f32Tensor(fmt.Sprintf("seq.%d.inputs", i), []int{n}, in), f32Tensor(fmt.Sprintf("seq.%d.targets", i), []int{n}, tg),
			f32Tensor(fmt.Sprintf("seq.%d.weights", i), []int{n}, seq.Weights))
	}
	for _, name := range sortedKeys(tr.adapters) {
		ad := tr.adapters[name]
		ts = append(ts, f32Tensor(name+".lora_A", ad.A.Shape(), ad.A.Float32s()), f32Tensor(name+".lora_B", ad.B.Shape(), ad.B.Float32s()))
	}
	c := tr.e.Config()
	cfg["dim"], cfg["heads"], cfg["kv_heads"], cfg["layers"] = c.Dim, c.Heads, c.KVHeads, c.Layers
	cfg["rope_theta"], cfg["norm_eps"], cfg["steps"] = c.RopeTheta, c.NormEps, steps
	cfg["total_steps"], cfg["warmup"] = tr.sched.Total, tr.sched.Warmup
	js, _ := json.Marshal(cfg)
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, map[string]string{"config": string(js)}); err != nil {
		t.Fatal(err)
	}
	in, out := filepath.Join(dir, "in.safetensors"), filepath.Join(dir, "out.safetensors")
	if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(python, filepath.Join("testdata", "reference.py"), in, out).CombinedOutput(); err != nil {
		t.Fatalf("reference.py: %v\n%s", err, b)
	}
	f, err := safetensors.OpenFile(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res := map[string][]float32{}
	for _, x := range f.Tensors {
		v, err := quant.Dequantize(x)
		if err != nil {
			t.Fatal(err)
		}
		res[x.Name] = v
	}
	return res
}

// relErr returns max|got−want| / max|want|: the error relative to the
// tensor's scale, which is what fp32 rounding bounds (an element-wise
// relative error is meaningless for entries near zero).
func relErr(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	if m == 0 {
		return d
	}
	return d / m
}

// TestMatchesPyTorch holds the trainer to an independent PyTorch
// implementation of the same Llama on stories260K: the logits, the loss,
// every trained tensor's gradient, and every trained tensor after three
// AdamW steps with warmup (learning rates 0, lr/2, lr) and clipping by
// global norm, for full fine-tuning and for LoRA on every projection
// (scaled by alpha/√r, rsLoRA, under eager attention and by alpha/r under
// flash2), with eager and flash2 attention.
//
// Tolerance. Both sides compute in fp32 with different summation orders
// and elementary functions, so they differ by rounding, which the
// softmax's and RMSNorm's cancellations amplify in some gradients. The
// reference therefore also runs in float64, the exact answer for this
// purpose, and a tensor passes when it is within 1e-5 of PyTorch fp32
// (relative to the tensor's largest magnitude), or, where PyTorch's own
// fp32 result is itself that far from float64, when ours is no farther
// from float64 than twice PyTorch's. A wrong formula shows as errors of
// 1e-3 and more; the largest differences measured are logged.
//
// The optimizer runs with eps = 1e-4 rather than AdamW's default 1e-8:
// Adam's step lr·m̂/(√v̂+eps) is ill-conditioned for the entries whose
// gradient is near eps, and the two sides' gradients agree only to about
// 1e-8 in absolute terms (1e-6 of the largest), so with eps = 1e-8 a few
// entries' steps differ by up to lr/2 from rounding alone (measured:
// 2e-4 relative). With eps above the gradients' rounding noise the same
// formula (decoupled decay, bias corrections, warmup and cosine
// schedule, clipping) is compared at 1e-5.
func TestMatchesPyTorch(t *testing.T) {
	needTorch(t)
	for _, method := range []Method{LoRA, Full} {
		for _, att := range []engine.Attention{engine.AttentionEager, engine.AttentionFlash2} {
			t.Run(method.String()+"/"+att.String(), func(t *testing.T) {
				e, all := stories(t, 24, engine.QuantizeNone)
				_ = e
				e = rebuild(t, att)
				ds := &data.Set{Train: all.Train[:6]}
				// rsLoRA's alpha/√r under eager attention, alpha/r under
				// flash2: the reference derives the scale itself.
				cfg := Config{Method: method, LoRA: LoRAConfig{Rank: 4, Alpha: 8, RSLoRA: att == engine.AttentionEager, Modules: []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}},
					Optimizer: Optimizer{Kind: AdamW, LR: 5e-3, WeightDecay: 0.1, Eps: 1e-4}, Schedule: Cosine, WarmupSteps: 2, MaxGradNorm: 0.5,
					Batch: 2, GradAccum: 1, MaxSteps: 3, Seed: 11}
				tr, err := New(e, ds, cfg)
				if err != nil {
					t.Fatal(err)
				}
				// LoRA's B starts at zero, which makes A's gradient zero;
				// give B values so that both are checked.
				for _, ad := range tr.adapters {
					for i, b := range ad.B.Float32s() {
						_ = b
						ad.B.Float32s()[i] = float32(math.Sin(float64(i))) * 0.05
					}
				}
				steps := [][]int{tr.batchOf(0), tr.batchOf(1), tr.batchOf(2)}
				want := reference(t, tr, steps, map[string]any{"method": method.String(), "lr": cfg.Optimizer.LR, "weight_decay": cfg.Optimizer.WeightDecay, "eps": cfg.Optimizer.Eps,
					"schedule": "cosine", "max_grad_norm": cfg.MaxGradNorm, "alpha": cfg.LoRA.Alpha, "rank": cfg.LoRA.Rank, "rslora": cfg.LoRA.RSLoRA})
				// The first step's logits, loss and gradients.
				logits, loss := firstStep(t, tr, ds, steps[0])
				check, worst := torchCheck(t, want)
				defer func() { t.Logf("largest relative error against PyTorch fp32 by kind: %v", worst) }()
				check("logits", "logits", logits)
				check("loss", "loss", []float32{float32(loss)})
				if clipGlobalNorm(tr.params, 0) <= cfg.MaxGradNorm {
					t.Fatalf("the gradient norm is below the clipping threshold; the test would not check clipping")
				}
				for _, p := range tr.params {
					check("grad "+p.Name, "grad."+p.Name, p.Grad)
				}
				for range 3 {
					if _, err := tr.Step(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				for _, p := range tr.params {
					check("weights "+p.Name, "final."+p.Name, p.Value)
				}
			})
		}
	}
}

// TestPEFTLayoutLoadsInTransformersConventions writes the base model in
// Hugging Face's Llama layout and trained adapters in PEFT's, then has
// testdata/peft_logits.py compute logits from those files with the
// libraries' conventions (rotate_half rotary embeddings, PEFT tensor
// names, alpha/r scaling): they must equal the engine's logits with the
// adapters applied, which checks the names, the q/k row permutation of B
// and the scaling that the Hugging Face stack relies on.
func TestPEFTLayoutLoadsInTransformersConventions(t *testing.T) {
	needTorch(t)
	e, ds := stories(t, 24, engine.QuantizeNone)
	ds.Train = ds.Train[:8]
	cfg := Config{Method: LoRA, LoRA: LoRAConfig{Rank: 4, Alpha: 8, RSLoRA: true, Modules: []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}},
		Optimizer: Optimizer{Kind: AdamW, LR: 2e-2}, Schedule: Constant, Batch: 2, GradAccum: 1, MaxSteps: 4, Seed: 4}
	tr, err := New(e, ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	adapters, model := filepath.Join(dir, "adapters"), filepath.Join(dir, "model")
	if err := os.MkdirAll(model, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Run(context.Background(), "peft"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(adapters, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := tr.Export(adapters); err != nil {
		t.Fatal(err)
	}
	base := rebuild(t, engine.AttentionEager)
	snap, err := base.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := safetensors.WriteHF(model, snap, 1); err != nil {
		t.Fatal(err)
	}
	// The engine's logits with the adapters read back from PEFT's files.
	ads, err := LoadAdapters(adapters, snap.Config.Heads, snap.Config.KVHeads, snap.Config.Layers)
	if err != nil {
		t.Fatal(err)
	}
	seq := ds.Train[0]
	spec := engine.TrainSpec{SeqLen: len(seq.Inputs), Adapters: ads}
	ts, err := base.NewTrainStep(spec)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, len(seq.Inputs)*snap.Config.Vocab)
	if _, err := ts.Evaluate(context.Background(), seq.Inputs, seq.Targets, seq.Weights, got); err != nil {
		t.Fatal(err)
	}
	toks, _ := json.Marshal(seq.Inputs)
	tj, out := filepath.Join(dir, "tokens.json"), filepath.Join(dir, "logits.safetensors")
	if err := os.WriteFile(tj, toks, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(python, filepath.Join("testdata", "peft_logits.py"), model, adapters, tj, out).CombinedOutput(); err != nil {
		t.Fatalf("peft_logits.py: %v\n%s", err, b)
	}
	f, err := safetensors.OpenFile(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, err := quant.Dequantize(f.Tensors[0])
	if err != nil {
		t.Fatal(err)
	}
	// Trained adapters must change the logits, or the check is empty.
	plain := make([]float32, len(got))
	pts, err := rebuild(t, engine.AttentionEager).NewTrainStep(engine.TrainSpec{SeqLen: len(seq.Inputs), Adapters: map[string]*engine.Adapter{}, Trained: map[string]bool{"norm.weight": true}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pts.Evaluate(context.Background(), seq.Inputs, seq.Targets, seq.Weights, plain); err != nil {
		t.Fatal(err)
	}
	if relErr(plain, want) < 1e-3 {
		t.Fatalf("the adapters hardly change the logits (%.3g); the test would not check them", relErr(plain, want))
	}
	if e := relErr(got, want); e > 1e-5 {
		t.Errorf("logits from the PEFT and Hugging Face files differ from the engine's by %.3g relative", e)
	} else {
		t.Logf("relative error %.3g", e)
	}
}

// firstStep runs the first batch of a comparison with PyTorch on tr, as
// the trainer's step does (gradients zeroed, each sequence's weights
// divided by the batch's tokens), and returns the first sequence's logits
// and the batch's summed loss.
func firstStep(t *testing.T, tr *Trainer, ds *data.Set, batch []int) (logits []float32, loss float64) {
	t.Helper()
	ctx := context.Background()
	n := 0
	for _, i := range batch {
		n += ds.Train[i].Tokens()
	}
	tr.ts.ZeroGrad()
	logits = make([]float32, 24*tr.e.Config().Vocab)
	for k, i := range batch {
		seq := ds.Train[i]
		w := make([]float32, len(seq.Weights))
		for j := range w {
			w[j] = seq.Weights[j] / float32(n)
		}
		if k == 0 {
			if _, err := tr.ts.Evaluate(ctx, seq.Inputs, seq.Targets, w, logits); err != nil {
				t.Fatal(err)
			}
		}
		l, err := tr.ts.Run(ctx, seq.Inputs, seq.Targets, w)
		if err != nil {
			t.Fatal(err)
		}
		loss += float64(l)
	}
	return logits, loss
}

// torchCheck returns a check of values against PyTorch's fp32 results in
// want (key) and its fp64 ones (f64.key): within 1e-5 relative, or no
// further from fp64 than twice PyTorch's own fp32 error. worst collects the
// largest fp32 error by kind, the first word of what.
func torchCheck(t *testing.T, want map[string][]float32) (check func(what, key string, got []float32), worst map[string]float64) {
	worst = map[string]float64{}
	check = func(what, key string, got []float32) {
		t.Helper()
		w32, w64 := want[key], want["f64."+key]
		if w32 == nil || len(got) != len(w32) || len(w64) != len(w32) {
			t.Fatalf("%s: %d values here, %d from PyTorch", what, len(got), len(w32))
		}
		diff, ours, theirs := relErr(got, w32), relErr(got, w64), relErr(w32, w64)
		kind, _, _ := strings.Cut(what, " ")
		worst[kind] = math.Max(worst[kind], diff)
		if math.IsNaN(diff) || diff > 1e-5 && ours > 2*theirs {
			t.Errorf("%s: relative error %.3g against PyTorch fp32; against fp64 %.3g here, %.3g for PyTorch fp32", what, diff, ours, theirs)
		}
	}
	return check, worst
}
