package runtime

import (
	"slices"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/runtime/data"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/train"
	"github.com/modelwhisperer/whisperc/stdlib/training"
)

// TestEveryTrainingValueIsHandled walks every value of the language's
// training enums (stdlib/training, which compiler's TestEnumsMatchSchema
// keeps equal to the schema) through the runtime: each is run, with the
// behaviour this test states, or refused by name. A value added to the
// language fails here until the runtime handles it and the table below
// says how.
func TestEveryTrainingValueIsHandled(t *testing.T) {
	finetune := func() *compiler.Finetune {
		return &compiler.Finetune{Decl: &compiler.Decl{Name: "sft"}, Method: training.LoRA, Batch: 1, GradAccum: 1, MaxSteps: 1, Data: &compiler.Dataset{},
			Optimizer: compiler.Optimizer{Name: training.AdamW, LR: 1e-3, Schedule: training.Constant}}
	}
	lora := trainPlan{method: train.LoRA, rank: 4, alpha: 8, modules: []string{"q_proj"}}

	runs := map[training.Optimizer]bool{training.AdamW: true, training.AdamW8bit: true, training.SGD: true,
		training.PagedAdamW8bit: false, training.Lion: false}
	for _, o := range training.Optimizers() {
		want, ok := runs[o]
		if !ok {
			t.Errorf("optimizer %s: the runtime's handling is not stated here", o)
			continue
		}
		f := finetune()
		f.Optimizer.Name = o
		cfg, err := trainConfig(f, lora)
		switch {
		case want && (err != nil || cfg.Optimizer.Kind != o):
			t.Errorf("optimizer %s: %v, kind %s", o, err, cfg.Optimizer.Kind)
		case !want && (err == nil || !strings.Contains(err.Error(), "optimizer "+o.String()+" is not implemented")):
			t.Errorf("optimizer %s: refused with %v", o, err)
		}
	}

	// Each schedule's rate halfway through ten steps without warmup.
	half := map[training.Schedule]float64{training.Constant: 1, training.Linear: 0.5, training.Cosine: 0.5}
	for _, s := range training.Schedules() {
		want, ok := half[s]
		if !ok {
			t.Errorf("schedule %s: the runtime's handling is not stated here", s)
			continue
		}
		f := finetune()
		f.Optimizer.Schedule = s
		cfg, err := trainConfig(f, lora)
		if err != nil || cfg.Schedule != s {
			t.Errorf("schedule %s: %v, %s", s, err, cfg.Schedule)
		}
		if got := (train.Schedule{Kind: s, LR: 1, Total: 10}).At(5); got < want-1e-12 || got > want+1e-12 {
			t.Errorf("schedule %s: rate %g halfway, want %g", s, got, want)
		}
	}

	// Methods: the graph trains adapters or every weight, and the
	// declaration's method reaches the trainer as written.
	adapters := map[training.Method]bool{training.Full: false, training.LoRA: true, training.QLoRA: true}
	for _, m := range training.Methods() {
		want, ok := adapters[m]
		if !ok {
			t.Errorf("method %s: the runtime's handling is not stated here", m)
			continue
		}
		f := finetune()
		f.Method = m
		tp := lora
		if !want {
			tp = trainPlan{method: train.Full}
		}
		cfg, err := trainConfig(f, tp)
		if err != nil || cfg.Method != m || m.Adapters() != want {
			t.Errorf("method %s: %v, %s", m, err, cfg.Method)
		}
		tp.method = map[bool]train.Method{true: train.Full, false: train.LoRA}[want]
		if _, err := trainConfig(f, tp); err == nil {
			t.Errorf("method %s over a graph that trains %s was accepted", m, tp.method)
		}
	}

	reads := map[training.DataFormat]bool{training.FormatJSONL: true, training.FormatText: true,
		training.FormatCSV: false, training.FormatParquet: false, training.FormatHF: false}
	for _, d := range training.DataFormats() {
		want, ok := reads[d]
		if !ok {
			t.Errorf("data format %s: the runtime's handling is not stated here", d)
			continue
		}
		o, err := dataOptions(&compiler.Dataset{Decl: &compiler.Decl{Name: "d"}, Format: d, SeqLen: 8})
		switch {
		case want && (err != nil || o.Format != d || !data.Reads(d)):
			t.Errorf("format %s: %v", d, err)
		case !want && (err == nil || !strings.Contains(err.Error(), "is "+d.String()+", which the runtime does not read")):
			t.Errorf("format %s: refused with %v", d, err)
		}
	}

	// Checkpointing: the planner lowers each mode to per-layer marks,
	// which reach the trainer unchanged.
	ws, err := llama2c.Open(testmodels.Path(t, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	n := ws.Config.Layers
	all := func(v bool) []bool { return slices.Repeat([]bool{v}, n) }
	every2 := make([]bool, n)
	for i := range every2 {
		every2[i] = i%2 == 0 // blocks 0, 2, 4, …
	}
	marks := map[training.Checkpointing]struct {
		spell                 string
		checkpoint, selective []bool
	}{
		training.CheckpointNone:      {"none", all(false), all(false)},
		training.CheckpointFull:      {"full", all(true), all(false)},
		training.CheckpointSelective: {"selective", all(false), all(true)},
		training.CheckpointEvery:     {"every(2)", every2, all(false)},
	}
	for _, c := range training.Checkpointings() {
		want, ok := marks[c]
		if !ok {
			t.Errorf("checkpointing %s: the runtime's handling is not stated here", c)
			continue
		}
		prog, _ := finetuneProgram(t, "", "checkpointing = "+want.spell+"\n lora { rank = 4, alpha = 8 }")
		plan, ds := planner.Build(prog, machine(8<<30), planner.Options{})
		if ds.HasErrors() {
			t.Fatal(diag.Text(prog.Files, ds))
		}
		_, tp, err := trainOptions(plan.Stage("train.sft").Graph, ws.Config)
		if err != nil {
			t.Fatalf("checkpointing %s: %v", c, err)
		}
		cfg, err := trainConfig(prog.Finetune("sft"), tp)
		if err != nil || !slices.Equal(cfg.Checkpoint, want.checkpoint) || !slices.Equal(cfg.RecomputeAttention, want.selective) {
			t.Errorf("checkpointing %s reaches the trainer as checkpoint %v, recompute %v (%v); want %v, %v",
				c, cfg.Checkpoint, cfg.RecomputeAttention, err, want.checkpoint, want.selective)
		}
	}
}
