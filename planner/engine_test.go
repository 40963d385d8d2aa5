package planner

import (
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner/cost"
)

// TestQLoRAWeightsAgree checks that the quantize stage and the train stage
// of one QLoRA plan count the same bytes for the same weights (linear
// layers nf4, the rest in the compute format), on both engines.
func TestQLoRAWeightsAgree(t *testing.T) {
	prog, ds := compiler.Check("../examples/qlora-llama2-7b.whisper", compiler.Options{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	for _, e := range []cost.Engine{cost.EngineHF, cost.EngineTorchtune} {
		plan, _ := Build(prog, nil, Options{Engine: e})
		q, tr := plan.Stage("quantize.llama2"), plan.Stage("train.sft")
		if q == nil || tr == nil || tr.Memory == nil {
			t.Fatalf("%s: stages missing", e)
		}
		full, quant := int64(0), int64(0)
		for _, c := range tr.Memory.Components {
			if c.Name == "weights" {
				quant = c.Bytes
			}
		}
		d := q.Decision("quantization")
		full = d.SavesBytes + quant
		if d.SavesBytes <= 0 || quant <= 0 || full <= quant {
			t.Fatalf("%s: quantize saves %d, train counts %d", e, d.SavesBytes, quant)
		}
		if td := tr.Decision("quantization"); td == nil || td.SavesBytes != d.SavesBytes {
			t.Errorf("%s: the train stage's quantization saving differs from the quantize stage's: %+v vs %+v", e, td, d)
		}
	}
}

// TestEngineChangesThePlan checks that the same pipeline costs differently
// on each engine: torchtune keeps adapters and their moments in bf16.
func TestEngineChangesThePlan(t *testing.T) {
	prog, ds := compiler.Check("../examples/lora-llama3-8b-flash.whisper", compiler.Options{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	hf, _ := Build(prog, nil, Options{Engine: cost.EngineHF})
	tt, _ := Build(prog, nil, Options{Engine: cost.EngineTorchtune})
	a, b := hf.Stage("train.llama3_lora").Memory, tt.Stage("train.llama3_lora").Memory
	if b.TotalBytes >= a.TotalBytes {
		t.Errorf("torchtune %d bytes, hf %d: torchtune's bf16 adapters and chunked loss must cost less", b.TotalBytes, a.TotalBytes)
	}
}

// TestMemoryTechniques checks that the memory techniques of the language
// reach the plan: each written one is a decision with its saving, and the
// ones not written are ranked among the changes that would make a stage
// fit.
func TestMemoryTechniques(t *testing.T) {
	src := base7b + "finetune ft {\n model = base\n data = d\n method = full\n batch = 2\n checkpointing = full\n" +
		" loss_chunks = 8\n activation_offloading = true\n" +
		" distributed { strategy = zero3, gpus = 8, cpu_offload = true }\n}\n"
	prog := check(t, map[string]string{"main.whisper": src}, "main.whisper")
	tg, _ := ParseTarget("a100-80gb*8", nil)
	p, _ := Build(prog, tg, Options{})
	st := p.Stage("train.ft")
	for _, what := range []string{"loss_chunks", "activation_offloading", "cpu_offload"} {
		d := st.Decision(what)
		if d == nil || d.SavesBytes <= 0 {
			t.Errorf("decision %s: %+v (want a positive saving)", what, d)
		}
	}

	// Without them, plans that do not fit list the techniques among the
	// changes, each with its saving: a long-sequence LoRA run (activations
	// and logits dominate) and a full fine-tune (the step dominates).
	for _, c := range []struct{ ft, target string }{
		{"method = lora\n batch = 64\n checkpointing = full\n", "rtx4090"},
		{"method = full\n batch = 1\n checkpointing = full\n", "rtx4090"},
	} {
		src = base7b + "finetune ft {\n model = base\n data = d\n " + c.ft + "}\n"
		prog = check(t, map[string]string{"main.whisper": src}, "main.whisper")
		tg, _ = ParseTarget(c.target, nil)
		p, _ = Build(prog, tg, Options{})
		got := map[string]int64{}
		for _, d := range p.Stage("train.ft").Decisions {
			if d.What == "suggestion" {
				got[d.Choice] = d.SavesBytes
			}
		}
		want := []string{"loss_chunks = 8", "activation_offloading = true"}
		if strings.Contains(c.ft, "full") && !strings.Contains(c.ft, "lora") {
			want = []string{"optimizer_in_backward = true"}
		}
		for _, w := range want {
			if got[w] <= 0 {
				t.Errorf("%s: suggestion %q missing or saves nothing; suggestions: %v", c.ft, w, got)
			}
		}
	}
}
