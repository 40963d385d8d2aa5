package planner

import (
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/planner/cost"
)

// TestStepFormats checks the formats a CPU decode-step measurement times
// for a graph: its blocks' one linear format and its head's, and a
// refusal when the blocks mix formats, as a GGUF Q4_K_M file's do.
func TestStepFormats(t *testing.T) {
	g := &Graph{Layers: []Layer{{Linears: []Linear{{Weight: cost.Q4_0}, {Weight: cost.Q4_0}}}, {Linears: []Linear{{Weight: cost.Q4_0}}}},
		Head: Linear{Weight: cost.Q8_0}}
	if f, h, err := stepFormats(g); err != nil || f != cost.Q4_0 || h != cost.Q8_0 {
		t.Errorf("stepFormats = %s, %s, %v; want q4_0, q8_0", f, h, err)
	}
	g.Layers[1].Linears[0].Weight = cost.Q6K
	if _, _, err := stepFormats(g); err == nil || !strings.Contains(err.Error(), "stored as both") {
		t.Errorf("mixed formats: %v, want a refusal", err)
	}
	if _, _, err := stepFormats(&Graph{}); err == nil {
		t.Error("a graph without linear layers gave formats")
	}
}
