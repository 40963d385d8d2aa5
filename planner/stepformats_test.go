package planner

import (
	"math"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
)

// TestStepFormats checks the formats a CPU decode-step measurement builds
// for a graph: each block's linear formats, the most common one as the
// default and the others by module, and its head's.
func TestStepFormats(t *testing.T) {
	block := func(v, down cost.DType) Layer {
		return Layer{Linears: []Linear{{Module: "q_proj", Weight: cost.Q4K}, {Module: "v_proj", Weight: v}, {Module: "down_proj", Weight: down}}}
	}
	g := &Graph{Layers: []Layer{block(cost.Q4K, cost.Q4K), block(cost.Q6K, cost.Q6K)}, Head: Linear{Weight: cost.Q6K}}
	blocks, h, err := stepFormats(g, true)
	if err != nil || len(blocks) != 2 || h != cost.Q6K {
		t.Fatalf("stepFormats = %v, %s, %v; want two blocks and a q6_K head", blocks, h, err)
	}
	if got := blocks[0].String(); got != "q4_K as stored" || !blocks[0].Uniform() {
		t.Errorf("block 0 is %q, want a uniform q4_K as stored", got)
	}
	// Two of three modules are q6_K: the default is q6_K, q_proj the
	// exception.
	if got := blocks[1].String(); got != "q6_K, q_proj q4_K as stored" || blocks[1].Of("v_proj") != cost.Q6K || blocks[1].Of("q_proj") != cost.Q4K {
		t.Errorf("block 1 is %q", got)
	}
	if _, _, err := stepFormats(&Graph{}, false); err == nil {
		t.Error("a graph without linear layers gave formats")
	}
}

// TestMeasureDecodeMixes checks that a model whose blocks differ is
// measured once per distinct block and predicted as the layers' mix of
// those measurements, and that a model of too many mixes is refused.
func TestMeasureDecodeMixes(t *testing.T) {
	q4 := cost.Uniform(cost.Q4K)
	q6 := cost.NewBlockFormats(map[string]cost.DType{"q_proj": cost.Q4K, "down_proj": cost.Q6K, "v_proj": cost.Q6K}, []string{"q_proj", "v_proj", "down_proj"})
	var asked []string
	b := &builder{opts: Options{DecodeStep: func(_ arch.Config, bl cost.BlockFormats, head cost.DType, _ compiler.CompileMode) (cost.MeasuredStep, error) {
		asked = append(asked, bl.String()+"/"+head.String())
		if bl.Uniform() {
			return cost.MeasuredStep{Layer: 1, Head: 10, Position: 0.1, Layers: 8, Rounds: 2, Spread: 0.01}, nil
		}
		return cost.MeasuredStep{Layer: 2, Head: 12, Position: 0.3, Layers: 3, Rounds: 3, Spread: 0.05}, nil
	}}}
	// Three q4_K layers and one with q6_K: a quarter of the layers cost 2.
	m, err := b.measureDecode(arch.Config{}, []cost.BlockFormats{q4, q6, q4, q4}, cost.Q6K, compiler.CompileDefault)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(asked, "; ") != "q4_K/q6_K; q6_K, q_proj q4_K/q6_K" {
		t.Errorf("measured %q, want each distinct block once", asked)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	if !near(m.Layer, 1.25) || !near(m.Head, 10.5) || !near(m.Position, 0.15) || m.Layers != 3 || m.Rounds != 5 || m.Spread != 0.05 {
		t.Errorf("combined step %+v, want layer 1.25, head 10.5, position 0.15, 3 layers, 5 rounds, spread 0.05", m)
	}
	many := []cost.BlockFormats{q4, q6, cost.Uniform(cost.Q8_0), cost.Uniform(cost.Q4_0), cost.Uniform(cost.Q5_0)}
	if _, err := b.measureDecode(arch.Config{}, many, cost.Q6K, compiler.CompileDefault); err == nil || !strings.Contains(err.Error(), "5 different mixes") {
		t.Errorf("five mixes: %v, want a refusal", err)
	}
}
