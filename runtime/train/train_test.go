package train

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/runtime/data"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/sample"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
)

// stories returns a training engine on stories260K and the shipped story
// data cut to seqLen.
func stories(t testing.TB, seqLen int, q engine.Quantize) (*engine.Engine, *data.Set) {
	t.Helper()
	ws, err := llama2c.Open(testmodels.Path(t, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.ReadLlama2CFile(testmodels.Path(t, "tok512.bin"), ws.Config.Vocab)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(context.Background(), ws, engine.Options{Attention: engine.AttentionEager, Compile: engine.CompileDefault, Quantize: q, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	return e, storyData(t, tok, seqLen)
}

// storyCache holds the shipped stories tokenised, by sequence length:
// tokenising them takes seconds, and many tests use them.
var storyCache = map[int]*data.Set{}

// storyData returns a copy of the shipped story set cut to seqLen.
func storyData(t testing.TB, tok data.Tokenizer, seqLen int) *data.Set {
	t.Helper()
	ds, ok := storyCache[seqLen]
	if !ok {
		var err error
		ds, err = data.Load(filepath.Join("..", "..", "examples", "data", "stories.jsonl"), tok,
			data.Options{Format: data.FormatJSONL, Field: "text", SeqLen: seqLen, Truncate: true, EvalExamples: 8, Shuffle: true, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		storyCache[seqLen] = ds
	}
	c := *ds
	return &c
}

// rebuild returns a fresh fp32 training engine on stories260K with the
// given attention kernel.
func rebuild(t testing.TB, att engine.Attention) *engine.Engine {
	t.Helper()
	ws, err := llama2c.Open(testmodels.Path(t, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(context.Background(), ws, engine.Options{Attention: att, Compile: engine.CompileDefault, Quantize: engine.QuantizeNone, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestLoRALossDrops(t *testing.T) {
	e, ds := stories(t, 64, engine.QuantizeNone)
	cfg := Config{Method: LoRA, LoRA: LoRAConfig{Rank: 4, Alpha: 8, Modules: []string{"q_proj", "v_proj", "down_proj"}},
		Optimizer: Optimizer{Kind: AdamW, LR: 1e-2}, Schedule: Cosine, WarmupSteps: 2, MaxGradNorm: 1, Batch: 2, GradAccum: 2, MaxSteps: 12, Seed: 3, Shuffle: true}
	tr, err := New(e, ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	before, err := tr.Evaluate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.Run(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("eval %.4f → %.4f; %s", before, res.EvalLoss, res)
	if !(res.EvalLoss < before-0.1) {
		t.Errorf("eval loss %.4f did not drop from %.4f", res.EvalLoss, before)
	}
}

// TestMergedEqualsOnTheFly trains LoRA adapters briefly, then generates
// greedily with them merged into the fp32 weights and applied on the fly:
// the text must be the same.
func TestMergedEqualsOnTheFly(t *testing.T) {
	e, ds := stories(t, 32, engine.QuantizeNone)
	ds.Train = ds.Train[:16]
	cfg := Config{Method: LoRA, LoRA: LoRAConfig{Rank: 4, Alpha: 8, Modules: []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}},
		Optimizer: Optimizer{Kind: AdamW, LR: 2e-2}, Schedule: Constant, Batch: 2, GradAccum: 1, MaxSteps: 6, Seed: 9}
	tr, err := New(e, ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Run(context.Background(), "merge"); err != nil {
		t.Fatal(err)
	}
	gen := func(merge bool) string {
		t.Helper()
		ws, err := llama2c.Open(testmodels.Path(t, "stories260K.bin"))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := tokenizer.ReadLlama2CFile(testmodels.Path(t, "tok512.bin"), ws.Config.Vocab)
		if err != nil {
			t.Fatal(err)
		}
		g, err := engine.New(context.Background(), ws, engine.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if merge {
			err = g.MergeAdapters(tr.Adapters())
		} else {
			err = g.AttachAdapters(tr.Adapters())
		}
		if err != nil {
			t.Fatal(err)
		}
		smp, err := sample.New(sample.Params{Temperature: 0})
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		if _, err := engine.Generate(context.Background(), g, tok, engine.GenerateOptions{Prompt: "Once upon a time", MaxTokens: 60, Sampler: smp, Out: &out}); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	merged, fly := gen(true), gen(false)
	if merged != fly {
		t.Errorf("merged and on-the-fly adapters generate different text:\nmerged: %q\nfly:    %q", merged, fly)
	}
	base := func() string {
		ws, _ := llama2c.Open(testmodels.Path(t, "stories260K.bin"))
		tok, _ := tokenizer.ReadLlama2CFile(testmodels.Path(t, "tok512.bin"), ws.Config.Vocab)
		g, _ := engine.New(context.Background(), ws, engine.DefaultOptions())
		smp, _ := sample.New(sample.Params{Temperature: 0})
		var out strings.Builder
		engine.Generate(context.Background(), g, tok, engine.GenerateOptions{Prompt: "Once upon a time", MaxTokens: 60, Sampler: smp, Out: &out})
		return out.String()
	}()
	if base == merged {
		t.Errorf("the adapters changed nothing: %q", base)
	}
	t.Logf("base:    %q\nadapted: %q", base, merged)
}

// TestNonFiniteStepsRollBack poisons the gradients with NaN: each step is
// skipped, and after NaNPatience of them the run rolls back to its last
// good state with the learning rate halved, and reports it.
func TestNonFiniteStepsRollBack(t *testing.T) {
	e, ds := stories(t, 16, engine.QuantizeNone)
	ds.Train = ds.Train[:8]
	var notes []string
	cfg := Config{Method: LoRA, LoRA: LoRAConfig{Rank: 2, Alpha: 4, Modules: []string{"q_proj"}},
		Optimizer: Optimizer{Kind: AdamW, LR: 1e-2}, Schedule: Constant, Batch: 1, GradAccum: 1, MaxSteps: 6, Seed: 1, NaNPatience: 2,
		Report: func(ev Event) {
			if ev.Note != "" {
				notes = append(notes, ev.Note)
			}
		}}
	tr, err := New(e, ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := tr.Step(ctx); err != nil {
		t.Fatal(err)
	}
	good := append([]float32(nil), tr.Params()[0].Value...)
	if _, err := tr.Save(t.TempDir(), "test"); err != nil { // the last good state, on disk
		t.Fatal(err)
	}
	// A NaN in an adapter makes the loss and every gradient NaN.
	a := tr.Params()[0].Value
	saved := a[0]
	a[0] = float32(math.NaN())
	for range 2 {
		ev, err := tr.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Report(ev)
	}
	if tr.Skipped != 2 || tr.Rollbacks != 1 || tr.lrScale != 0.5 || tr.Done() != 1 {
		t.Fatalf("skipped %d, rollbacks %d, lr scale %g, step %d; want 2, 1, 0.5, 1", tr.Skipped, tr.Rollbacks, tr.lrScale, tr.Done())
	}
	if a[0] != saved || !slices.Equal(tr.Params()[0].Value, good) {
		t.Fatal("the rollback did not restore the last good weights")
	}
	if len(notes) != 2 || !strings.Contains(notes[1], "rolled back to step 1 with the learning rate halved") {
		t.Fatalf("notes %q", notes)
	}
	ev, err := tr.Step(ctx)
	if err != nil || ev.Note != "" || math.IsNaN(ev.Loss) {
		t.Fatalf("training did not continue after the rollback: %+v, %v", ev, err)
	}
}

// TestRollBackToStart rolls a full fine-tune that has saved no checkpoint
// back to its start: the model's own weights (which the engine aliases
// rather than copies), zero moments, step 0 and the starting random state.
func TestRollBackToStart(t *testing.T) {
	e, ds := stories(t, 16, engine.QuantizeNone)
	ds.Train = ds.Train[:8]
	cfg := Config{Method: Full, Optimizer: Optimizer{Kind: AdamW, LR: 1e-3}, Schedule: Constant, Batch: 1, GradAccum: 1, MaxSteps: 6, Seed: 1, NaNPatience: 1}
	tr, err := New(e, ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var initial [][]float32
	for _, p := range tr.Params() {
		if e.InitialValues(p.Name) == nil {
			t.Fatalf("%s: the engine keeps no initial values of an fp32 weight", p.Name)
		}
		initial = append(initial, append([]float32(nil), p.Value...))
	}
	if len(tr.back.values) != len(tr.Params()) || slices.ContainsFunc(tr.back.values, func(v []float32) bool { return v != nil }) {
		t.Fatal("the rollback state copies weights that the engine keeps")
	}
	ctx := context.Background()
	for range 2 {
		if _, err := tr.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	p := tr.Params()[0]
	if slices.Equal(p.Value, initial[0]) {
		t.Fatal("two steps changed nothing")
	}
	p.Value[0] = float32(math.Inf(1))
	ev, err := tr.Step(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Rollbacks != 1 || tr.Done() != 0 || tr.lrScale != 0.5 || !strings.Contains(ev.Note, "rolled back to step 0") {
		t.Fatalf("rollbacks %d, step %d, lr scale %g, note %q", tr.Rollbacks, tr.Done(), tr.lrScale, ev.Note)
	}
	for i, p := range tr.Params() {
		if !slices.Equal(p.Value, initial[i]) {
			t.Fatalf("%s was not restored to the model's own weights", p.Name)
		}
		if slices.ContainsFunc(tr.opt.M[i], func(x float32) bool { return x != 0 }) || slices.ContainsFunc(tr.opt.V[i], func(x float32) bool { return x != 0 }) {
			t.Fatalf("%s's moments were not reset", p.Name)
		}
	}
	if tr.opt.Step != 0 {
		t.Fatalf("optimizer step %d after the rollback", tr.opt.Step)
	}
}
