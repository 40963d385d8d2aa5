// Package canon knows the canonical tensor names and shapes of package
// weights, shared by the loaders to check what they read.
package canon

import (
	"fmt"
	"strings"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// Shape returns the shape the architecture implies for a canonical tensor
// name, or nil for names it does not know.
func Shape(c arch.Config, name string) []int {
	q, kv := c.Heads*c.HeadSize(), c.KVHeads*c.HeadSize()
	switch name {
	case "tok_embeddings.weight", "output.weight":
		return []int{c.Vocab, c.Dim}
	case "norm.weight":
		return []int{c.Dim}
	}
	rest, ok := strings.CutPrefix(name, "layers.")
	if !ok {
		return nil
	}
	_, suffix, _ := strings.Cut(rest, ".")
	switch suffix {
	case "attention_norm.weight", "ffn_norm.weight":
		return []int{c.Dim}
	case "attention.wq.weight":
		return []int{q, c.Dim}
	case "attention.wk.weight", "attention.wv.weight":
		return []int{kv, c.Dim}
	case "attention.wo.weight":
		return []int{c.Dim, q}
	case "feed_forward.w1.weight", "feed_forward.w3.weight":
		return []int{c.HiddenDim, c.Dim}
	case "feed_forward.w2.weight":
		return []int{c.Dim, c.HiddenDim}
	}
	return nil
}

// CheckShape compares a tensor's shape with Shape.
func CheckShape(c arch.Config, t *weights.Tensor) error {
	want := Shape(c, t.Name)
	if want == nil {
		return nil
	}
	if len(want) != len(t.Shape) {
		return fmt.Errorf("shape %v, the model's hyperparameters imply %v", t.Shape, want)
	}
	for i := range want {
		if want[i] != t.Shape[i] {
			return fmt.Errorf("shape %v, the model's hyperparameters imply %v", t.Shape, want)
		}
	}
	return nil
}

// CheckComplete reports the first canonical tensor the set lacks.
func CheckComplete(s *weights.Set) error {
	need := []string{"tok_embeddings.weight", "norm.weight"}
	if !s.Config.Tied {
		need = append(need, "output.weight")
	}
	for l := 0; l < s.Config.Layers; l++ {
		for _, suf := range []string{"attention_norm.weight", "attention.wq.weight", "attention.wk.weight", "attention.wv.weight", "attention.wo.weight", "ffn_norm.weight", "feed_forward.w1.weight", "feed_forward.w2.weight", "feed_forward.w3.weight"} {
			need = append(need, fmt.Sprintf("layers.%d.%s", l, suf))
		}
	}
	for _, n := range need {
		if _, ok := s.Tensors[n]; !ok {
			return fmt.Errorf("tensor %q is missing", n)
		}
	}
	return nil
}
