package train

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/data"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/internal/testmodels"
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
			data.Options{Format: data.FormatJSONL, Field: "text", SeqLen: seqLen, EvalExamples: 8, Shuffle: true, Seed: 1})
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
