package planner

import (
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
)

// TestServeCPUCompileMode: a CPU server's steps are measured under the
// compile mode its server will run (serve's default, none, rebuilds every
// pass's graph and is about twice as slow a pass as default on small
// models), so the plan predicts the slower speed for none, and says
// which mode it timed; a saved plan keeps the measured steps it predicted
// from (time.serve_steps), so that the prediction can be recomputed.
func TestServeCPUCompileMode(t *testing.T) {
	cpu := calibratedCPU(2)
	// The measured step of a pass under none is twice that under default.
	opts := Options{
		DecodeStep: func(c arch.Config, f cost.BlockFormats, head cost.DType, mode compiler.CompileMode) (cost.MeasuredStep, error) {
			return cost.MeasuredStep{Layer: 0.01, Head: 0.02, Rounds: 2, Spread: 0.01}, nil
		},
		ServeStep: func(c arch.Config, f cost.BlockFormats, head cost.DType, mode compiler.CompileMode, maxBatch, chunk int) (cost.MeasuredServe, error) {
			k := 1.0
			if mode == compiler.CompileNone {
				k = 2
			}
			return cost.MeasuredServe{Batches: []cost.MeasuredBatch{{Sequences: 1, Layer: k * 0.01, Head: k * 0.02}, {Sequences: 4, Layer: k * 0.015, Head: k * 0.03}},
				PrefillTokens: 256, PrefillLayer: 0.5, PrefillHead: 0.02, Rounds: 4, Spread: 0.02, Layers: 32}, nil
		},
	}
	rate := map[string]float64{}
	for _, mode := range []string{"", "  compile = none\n", "  compile = default\n"} {
		src := "model m { source = \"hf:meta-llama/Llama-2-7b-hf\" }\nserve api {\n  model = m\n  max_batch = 4\n  max_tokens = 200\n" + mode + "}\n"
		prog := check(t, map[string]string{"main.whisper": src}, "main.whisper")
		p, ds := Build(prog, cpu, opts)
		if ds.HasErrors() {
			t.Fatal(diag.Text(prog.Files, ds))
		}
		st := p.Stage("serve.api")
		tm := st.Time
		if tm.ServeSteps == nil || len(tm.ServeSteps.Batches) != 2 || tm.ServePosition != 100 {
			t.Fatalf("%q: the plan does not keep the measured steps it predicted from: %+v", mode, tm)
		}
		name := st.Graph.Compile.String()
		rate[name] = tm.Serving[0].TokensPerSecond
		want := "timed under compile = " + name + ", as this server runs"
		if !strings.Contains(tm.Assumption, want) {
			t.Errorf("%q: the assumption %q does not say %q", mode, tm.Assumption, want)
		}
		var cd *Decision
		for i := range st.Decisions {
			if st.Decisions[i].What == "compile" {
				cd = &st.Decisions[i]
			}
		}
		if cached := cd != nil && strings.Contains(cd.Effect, "graph per shape"); cd == nil || cached != (name != "none") ||
			strings.Contains(cd.Effect, "keeps its last pass's activations") {
			t.Errorf("%q: the compile decision %+v; want it to say graphs are built per shape exactly when the mode caches them, and not that they keep their activations (80128e0 drops them)", mode, cd)
		}
		if mode == "" && name != "none" {
			t.Errorf("serve's default compile mode is %s; this test expects none", name)
		}
	}
	if !(rate["none"] > 0) || rate["default"] < 1.9*rate["none"] {
		t.Errorf("one sequence: %.4g tokens/s under none and %.4g under default; want none's slower steps predicted", rate["none"], rate["default"])
	}
}
