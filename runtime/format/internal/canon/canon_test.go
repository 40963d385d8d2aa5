package canon

import (
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

func TestShapes(t *testing.T) {
	c := arch.Config{Dim: 64, HiddenDim: 172, Layers: 2, Heads: 8, KVHeads: 4, Vocab: 512}
	for name, want := range map[string][]int{
		"tok_embeddings.weight":           {512, 64},
		"layers.1.attention.wk.weight":    {32, 64},
		"layers.0.attention.wo.weight":    {64, 64},
		"layers.0.feed_forward.w2.weight": {64, 172},
		"norm.weight":                     {64},
	} {
		got := Shape(c, name)
		if len(got) != len(want) || got[0] != want[0] || (len(got) > 1 && got[1] != want[1]) {
			t.Errorf("Shape(%s) = %v, want %v", name, got, want)
		}
	}
	if Shape(c, "layers.0.other") != nil || Shape(c, "other") != nil {
		t.Error("unknown names must have no shape")
	}
	if err := CheckShape(c, &weights.Tensor{Name: "norm.weight", Shape: []int{63}}); err == nil {
		t.Error("wrong shape accepted")
	}
	s := &weights.Set{Config: c, Tensors: map[string]*weights.Tensor{"tok_embeddings.weight": {}, "norm.weight": {}}}
	if err := CheckComplete(s); err == nil || !strings.Contains(err.Error(), `"output.weight" is missing`) {
		t.Errorf("CheckComplete: %v", err)
	}
}
