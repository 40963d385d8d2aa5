package planner

import (
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
