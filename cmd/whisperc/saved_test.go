package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/hw"
	"github.com/modelwhisperer/whisperc/runtime"
)

// TestSavedPlanMutations edits a saved plan in the ways a user might and
// checks that `run` obeys each edit exactly or refuses it with a reason,
// never half: a refused plan prints nothing on stdout.
func TestSavedPlanMutations(t *testing.T) {
	models := testmodels.Dir(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "p.whisper")
	text := "model m {\n  source = \"llama2c:" + models + "/stories260K.bin\"\n  tokenizer = \"" + models + "/tok512.bin\"\n" +
		"  quantize {\n    method = nf4\n  }\n}\n" +
		"generate g {\n  model = m\n  prompt = \"Once upon a time\"\n  max_tokens = 40\n  temperature = 0\n  kv_cache = true\n}\n"
	if err := os.WriteFile(src, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, ds := compiler.Check(src, compiler.Options{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	h, err := hw.Detect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cpu := *h
	cpu.GPUs = nil
	plan, ds := planner.Build(prog, planner.FromHardware(&cpu), planner.Options{PromptTokens: runtime.PromptTokens})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	saved := filepath.Join(dir, "plan.json")
	if err := plan.Save(saved, prog, h); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	runPlan := func(data []byte) (string, string, int) {
		if err := os.WriteFile(saved, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errs bytes.Buffer
		code := run(context.Background(), []string{"run", saved}, nil, &out, &errs)
		return out.String(), errs.String(), code
	}
	want, _, code := runPlan(orig)
	if code != exitOK || want == "" {
		t.Fatalf("the unedited plan: exit %d, stdout %q", code, want)
	}
	gen := func(p map[string]any) map[string]any {
		for _, s := range p["stages"].([]any) {
			if s.(map[string]any)["kind"] == "generate" {
				return s.(map[string]any)["graph"].(map[string]any)
			}
		}
		t.Fatal("no generate stage")
		return nil
	}
	layers := func(p map[string]any) []any { return gen(p)["layers"].([]any) }
	for _, c := range []struct {
		name string
		edit func(p map[string]any)
		// refuse is a substring of the refusal, or "" when the edit must be
		// obeyed (same output: the edit changes how, not what).
		refuse string
	}{
		{"layers = []", func(p map[string]any) { gen(p)["layers"] = []any{} }, "the graph has 0 layers but the model has 5"},
		{"kv_cache.context = 10", func(p map[string]any) {
			kv := gen(p)["kv_cache"].(map[string]any)
			kv["context"] = 10
			kv["bytes"] = 2 * 5 * 4 * 8 * 10 * 4
		}, "KV cache holds 10 positions"},
		{"kv_cache.context = 10, bytes unchanged", func(p map[string]any) { gen(p)["kv_cache"].(map[string]any)["context"] = 10 }, "KV cache is said to take"},
		{"attention = sdpa", func(p map[string]any) { layers(p)[2].(map[string]any)["attention"] = "sdpa" }, "sdpa kernel, a GPU kernel"},
		{"attention = flash2 in one layer", func(p map[string]any) { layers(p)[2].(map[string]any)["attention"] = "flash2" }, ""},
		{"compile = reduce_overhead", func(p map[string]any) { gen(p)["compile"] = "reduce_overhead" }, ""},
		{"compile = turbo", func(p map[string]any) { gen(p)["compile"] = "turbo" }, "unknown compile mode"},
		{"weight = bf16", func(p map[string]any) {
			ln := layers(p)[0].(map[string]any)["linears"].([]any)[0].(map[string]any)
			ln["weight"], ln["kernel"] = "bf16", "matmul"
		}, "bf16 (block 64"},
		{"one linear q8_0", func(p map[string]any) {
			ln := layers(p)[0].(map[string]any)["linears"].([]any)[0].(map[string]any)
			ln["weight"], ln["block_size"] = "q8_0", 0
		}, "Stage quantize.m quantises m to nf4"},
		{"checkpoint = true", func(p map[string]any) { layers(p)[0].(map[string]any)["checkpoint"] = true }, "checkpoint boundary"},
		{"double_quant = false in the graph only", func(p map[string]any) {
			for _, l := range layers(p) {
				for _, ln := range l.(map[string]any)["linears"].([]any) {
					ln.(map[string]any)["double_quant"] = false
				}
			}
		}, "quantises m to nf4 (block 64, double true)"},
		{"a stage removed", func(p map[string]any) { p["stages"] = p["stages"].([]any)[1:] }, "it has 2 stages where the program gives 3"},
		{"a decision edited", func(p map[string]any) {
			d := p["stages"].([]any)[2].(map[string]any)["decisions"].([]any)[0].(map[string]any)
			d["choice"] = "edited"
		}, "decisions were edited"},
	} {
		var p map[string]any
		if err := json.Unmarshal(orig, &p); err != nil {
			t.Fatal(err)
		}
		c.edit(p)
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		out, errs, code := runPlan(data)
		switch {
		case c.refuse == "" && (code != exitOK || out != want):
			t.Errorf("%s: not obeyed: exit %d, stdout %q, stderr %s", c.name, code, out, errs)
		case c.refuse != "" && (code == exitOK || out != "" || !strings.Contains(errs, c.refuse)):
			t.Errorf("%s: not refused with %q: exit %d, stdout %q, stderr %s", c.name, c.refuse, code, out, errs)
		}
	}
}
