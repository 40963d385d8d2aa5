package planner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/planner/hw"
)

const base7b = `model base { source = "hf:meta-llama/Llama-2-7b-hf" }
dataset d { source = "d.jsonl", format = jsonl, seq_len = 1024, version = dvc }
track { backend = jsonl, log = [config, model_hash, commit, hardware, metrics] }
`

// TestCompatibilityRules plans small programs on chosen targets and checks
// each expected diagnostic: code, severity, the line it points at and a
// phrase of its text.
func TestCompatibilityRules(t *testing.T) {
	for _, tc := range []struct {
		name, target, src string
		want              []string // "severity CODE line:N phrase"
	}{
		{"flash2 on a V100 falls back", "v100-16gb",
			base7b + "finetune ft {\n model = base\n data = d\n precision = fp16\n attention = flash2\n checkpointing = full\n}\n",
			[]string{"warning P110 line:8 flash2 unavailable: using sdpa"}},
		{"explicit bf16 on a T4", "t4",
			base7b + "finetune ft {\n model = base\n data = d\n precision = bf16\n checkpointing = full\n batch = 1\n}\n",
			[]string{"error P111 line:7 bf16 needs compute capability 8.0"}},
		{"default bf16 on a T4 becomes fp16", "t4",
			base7b + "finetune ft {\n model = base\n data = d\n checkpointing = full\n}\n",
			[]string{"warning P111 line:4 planning fp16"}},
		{"fp8 on an A100", "a100-80gb",
			base7b + "finetune ft {\n model = base\n data = d\n precision = fp8\n}\n",
			[]string{"error P112 line:7 fp8 needs compute capability 8.9"}},
		{"seq_len beyond the context", "h100-80gb",
			strings.Replace(base7b, "seq_len = 1024", "seq_len = 8192", 1) + "finetune ft {\n model = base\n data = d\n checkpointing = full\n}\n",
			[]string{"error P116 line:2 seq_len exceeds the model's context"}},
		{"gate_proj on BERT", "a100-80gb",
			`model bert { source = "hf:google-bert/bert-base-uncased" }
dataset d { source = "d.jsonl", format = jsonl, seq_len = 512, version = dvc }
track { backend = jsonl, log = [config, model_hash, commit, hardware, metrics] }
finetune ft {
 model = bert
 data = d
 lora { rank = 8, targets = [q_proj, gate_proj] }
}
`,
			[]string{"error P114 line:7 has no gate_proj"}},
		{"reduce_overhead without packing", "a100-80gb",
			base7b + "finetune ft {\n model = base\n data = d\n compile = reduce_overhead\n checkpointing = full\n}\n",
			[]string{"warning P117 line:7 needs static shapes"}},
		{"70B full fine-tune does not fit", "a100-80gb",
			`model big { source = "hf:meta-llama/Llama-2-70b-hf" }
dataset d { source = "d.jsonl", format = jsonl, seq_len = 2048, version = dvc }
track { backend = jsonl, log = [config, model_hash, commit, hardware, metrics] }
finetune ft {
 model = big
 data = d
 method = full
 batch = 2
}
`,
			[]string{"error P120 line:4 ft does not fit"}},
		{"requirements", "t4",
			base7b + `target { require = [gpu_memory >= 24GiB, compute_capability >= 7.0, flash_attention == true] }
generate g { model = base, prompt = "hi", max_tokens = 8 }
`,
			[]string{"error P130 line:4 gpu_memory >= 24GiB", "error P130 line:4 flash_attention == true", "warning P111 line:1 planning fp16"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog := check(t, map[string]string{"main.whisper": tc.src}, "main.whisper")
			tg, tds := ParseTarget(tc.target, nil)
			if len(tds) > 0 {
				t.Fatal(tds)
			}
			_, ds := Build(prog, tg, Options{})
			text := diag.Text(prog.Files, ds)
			if len(ds) != len(tc.want) {
				t.Errorf("%d diagnostics, want %d:\n%s", len(ds), len(tc.want), text)
			}
			for _, w := range tc.want {
				f := strings.SplitN(w, " ", 4)
				found := false
				for _, d := range ds {
					line := ""
					if d.Subject != nil {
						line = "line:" + itoa(d.Subject.Start.Line)
					}
					one := diag.Text(prog.Files, diag.Diagnostics{d})
					if d.Severity.String() == f[0] && d.Code == f[1] && line == f[2] && strings.Contains(one, f[3]) {
						found = true
					}
				}
				if !found {
					t.Errorf("no %q among:\n%s", w, text)
				}
			}
		})
	}
}

func itoa(n int) string {
	s := ""
	for {
		s = string(rune('0'+n%10)) + s
		n /= 10
		if n == 0 {
			return s
		}
	}
}

// TestDoesNotFitSuggestions checks the ranked changes of P120: each one
// saves memory, fitting ones first, and each saving is real.
func TestDoesNotFitSuggestions(t *testing.T) {
	src := base7b + "finetune ft {\n model = base\n data = d\n method = lora\n batch = 8\n grad_accum = 2\n checkpointing = none\n}\n"
	prog := check(t, map[string]string{"main.whisper": src}, "main.whisper")
	tg, _ := ParseTarget("rtx4090", nil)
	p, ds := Build(prog, tg, Options{})
	if p.Fits || !ds.HasErrors() {
		t.Fatalf("7B LoRA batch 8 without checkpointing fits on 24 GiB:\n%s", diag.Text(prog.Files, ds))
	}
	var sugg []Decision
	for _, d := range p.Stage("train.ft").Decisions {
		if d.What == "suggestion" {
			sugg = append(sugg, d)
		}
	}
	if len(sugg) < 3 {
		t.Fatalf("suggestions %+v", sugg)
	}
	seenNonFit := false
	for _, s := range sugg {
		fits := strings.HasPrefix(s.Effect, "fits alone")
		if fits && seenNonFit {
			t.Errorf("fitting change %q ranked after a non-fitting one", s.Choice)
		}
		seenNonFit = seenNonFit || !fits
		if s.SavesBytes <= 0 {
			t.Errorf("suggestion %q saves %d", s.Choice, s.SavesBytes)
		}
	}
	text := diag.Text(prog.Files, ds)
	for _, want := range []string{"over (", "1. ", "checkpointing = full", "batch = 1, grad_accum = 16", "fits)"} {
		if !strings.Contains(text, want) {
			t.Errorf("P120 text lacks %q:\n%s", want, text)
		}
	}
	// The suggestion replaces the written attribute.
	for _, d := range ds {
		if d.Code == "P120" && (d.Suggestion == nil || d.Suggestion.Replacement != "checkpointing = full") {
			t.Errorf("P120 suggestion %+v", d.Suggestion)
		}
	}
}

// TestCPUPlan plans the real TinyStories model on the CPU.
func TestCPUPlan(t *testing.T) {
	src := "model s { source = \"llama2c:../../../shared/models/stories260K.bin\" }\n" +
		"generate g { model = s, prompt = \"Once upon a time\", max_tokens = 100, kv_cache = true }\n" +
		"track { backend = jsonl, log = [config, model_hash, commit, hardware, metrics] }\n"
	prog := check(t, map[string]string{"main.whisper": src}, "testdata/main.whisper")
	p, ds := Build(prog, nil, Options{})
	if len(p.Models) != 1 || !p.Models[0].Resolved {
		t.Skipf("stories260K.bin not available: %s", diag.Text(prog.Files, ds))
	}
	if p.Models[0].Params != 260_032 || p.Target.Name != "cpu" || len(ds) != 0 {
		t.Errorf("model %+v on %s, %v", p.Models[0], p.Target.Name, ds)
	}
	g := p.Stage("generate.g").Graph
	if g.Layers[0].Attention != cost.Eager || g.Compute != cost.FP32 || g.KVCache == nil || g.KVCache.KVHeads != 4 {
		t.Errorf("graph %+v %+v", g.Layers[0], g.KVCache)
	}
}

func TestBuildNilAndUnknown(t *testing.T) {
	if p, ds := Build(nil, nil, Options{}); p == nil || len(ds) != 0 {
		t.Errorf("nil program: %v %v", p, ds)
	}
	src := "model m { source = \"hf:acme/secret-model\" }\ngenerate g { model = m, prompt = \"x\" }\ntrack { backend = jsonl, log = [config, model_hash, commit, hardware, metrics] }\n"
	prog := check(t, map[string]string{"main.whisper": src}, "main.whisper")
	p, ds := Build(prog, nil, Options{})
	if len(ds) != 1 || ds[0].Code != "P131" || ds[0].Subject == nil || ds[0].Subject.Start.Line != 1 || p.Stage("generate.g") == nil {
		t.Errorf("unknown model: %s", diag.Text(prog.Files, ds))
	}
}

// TestCombinedSuggestion: when no change fits alone, the planner offers
// them together, with as few ZeRO-3 devices as fit.
func TestCombinedSuggestion(t *testing.T) {
	src := `model big { source = "hf:meta-llama/Llama-2-70b-hf" }
dataset d { source = "d.jsonl", format = jsonl, seq_len = 4096, version = dvc }
track { backend = jsonl, log = [config, model_hash, commit, hardware, metrics] }
finetune ft {
 model = big
 data = d
 method = full
 batch = 4
}
`
	prog := check(t, map[string]string{"main.whisper": src}, "main.whisper")
	tg, _ := ParseTarget("h100-80gb", nil)
	p, _ := Build(prog, tg, Options{})
	var combined *Decision
	for i, d := range p.Stage("train.ft").Decisions {
		if d.What == "suggestion" && strings.Contains(d.Choice, " and ") {
			combined = &p.Stage("train.ft").Decisions[i]
		}
	}
	if combined == nil || !strings.Contains(combined.Choice, "zero3") || !strings.HasPrefix(combined.Effect, "fits alone") {
		t.Fatalf("no combined suggestion: %+v", p.Stage("train.ft").Decisions)
	}
	t.Log(combined.Choice)
}

// TestArchitectureAndCUDARules: inconsistent shapes (P115) and 4-bit
// quantisation on a GPU machine without a CUDA driver (P113).
func TestArchitectureAndCUDARules(t *testing.T) {
	src := `model m {
  source = "hf:meta-llama/Llama-2-7b-hf"
  quantize { method = nf4 }
}
generate g { model = m, prompt = "hi" }
track { backend = jsonl, log = [config, model_hash, commit, hardware, metrics] }
`
	prog := check(t, map[string]string{"main.whisper": src}, "main.whisper")
	bad := func(*compiler.Model) (arch.Config, error) {
		c, _ := arch.Preset("llama-2-7b")
		c.KVHeads = 5
		return c, nil
	}
	_, ds := Build(prog, nil, Options{Arch: bad})
	if len(ds) != 1 || ds[0].Code != "P115" || ds[0].Subject.Start.Line != 2 || !strings.Contains(ds[0].Detail, "multiple of the number of key/value heads") {
		t.Errorf("P115: %s", diag.Text(prog.Files, ds))
	}
	noCUDA := FromHardware(&hw.Hardware{GPUs: []hw.GPU{{Name: "NVIDIA A100-SXM4-80GB", MemoryBytes: 80 << 30, CCMajor: 8}}})
	_, ds = Build(prog, noCUDA, Options{})
	if len(ds) != 1 || ds[0].Code != "P113" || ds[0].Subject.Start.Line != 3 {
		t.Errorf("P113: %s", diag.Text(prog.Files, ds))
	}
	cpu, _ := ParseTarget("cpu", nil)
	p, ds := Build(prog, cpu, Options{})
	if len(ds) != 0 || p.Stage("quantize.m").Decision("kernel") == nil {
		t.Errorf("nf4 on the CPU: %s %+v", diag.Text(prog.Files, ds), p.Stage("quantize.m"))
	}
}

// TestCPURefusals: on a CPU target the planner refuses, positioned on the
// attribute, what the CPU runtime would not execute as written, and plans
// sdpa and flash2 as the tiled kernel it runs.
func TestCPURefusals(t *testing.T) {
	for _, c := range []struct {
		model, gen, want string
	}{
		{"quantize { method = int8 }", "", "P118 line:2 int8 (LLM.int8()) cannot run on the CPU"},
		{"quantize { method = q4_0 }", "", "P118 line:2 q4_0 cannot run on the CPU"},
		{"quantize {\n method = nf4\n block_size = 128\n }", "", "P118 line:4 block_size = 128 cannot run on the CPU"},
		{"quantize {\n method = nf4\n compute = bf16\n }", "", "P118 line:4 bf16 cannot run on the CPU"},
		{"quantize {\n method = nf4\n double = false\n }", "attention = sdpa", ""},
		{"", "attention = flash2", ""},
	} {
		src := "model s {\n source = \"hf:meta-llama/Llama-2-7b-hf\"\n " + c.model + "\n}\n" +
			"generate g {\n model = s\n prompt = \"Once upon a time\"\n max_tokens = 10\n " + c.gen + "\n}\n" +
			"track { backend = jsonl, log = [config, model_hash, commit, hardware, metrics] }\n"
		src = strings.Replace(src, "model s {\n source = \"hf:meta-llama/Llama-2-7b-hf\"\n ", "model s { source = \"hf:meta-llama/Llama-2-7b-hf\"\n", 1)
		prog := check(t, map[string]string{"main.whisper": src}, "main.whisper")
		p, ds := Build(prog, FromHardware(&hw.Hardware{CPU: hw.CPU{Model: "test", PhysicalCores: 2, LogicalCores: 2}, RAMBytes: 64 << 30, RAMAvailableBytes: 64 << 30}), Options{})
		var got []string
		for _, d := range ds {
			if d.Code == "P118" {
				got = append(got, fmt.Sprintf("%s line:%d %s", d.Code, d.Subject.Start.Line, d.Summary))
			}
		}
		if strings.Join(got, "; ") != c.want {
			t.Errorf("%q %q: got %q, want %q", c.model, c.gen, got, c.want)
		}
		if c.want == "" {
			g := p.Stage("generate.g").Graph
			if g == nil || (strings.Contains(c.gen, "sdpa") || strings.Contains(c.gen, "flash2")) && g.Layers[0].Attention != cost.Flash2 {
				t.Errorf("%q: graph %+v", c.gen, g)
			}
			if strings.Contains(c.model, "double = false") && (g.Layers[0].Linears[0].DoubleQuant || g.Layers[0].Linears[0].BlockSize != 64) {
				t.Errorf("double = false not in the graph: %+v", g.Layers[0].Linears[0])
			}
		}
	}
}

// TestCPUOptimizerRefusals: whisperc's own CPU trainer runs adamw,
// adamw_8bit and sgd, so a CPU plan with no engine refuses lion and
// paged_adamw_8bit on the optimizer's name (P118), a GPU plan or a named
// engine does not, and a CPU plan that does not fit suggests adamw_8bit,
// never the paged form it would then refuse.
func TestCPUOptimizerRefusals(t *testing.T) {
	cpu := FromHardware(&hw.Hardware{CPU: hw.CPU{Model: "test", PhysicalCores: 2, LogicalCores: 2}, RAMBytes: 16 << 30, RAMAvailableBytes: 16 << 30})
	gpu, _ := ParseTarget("a100-80gb", nil)
	for _, c := range []struct {
		opt    string
		target *Target
		engine cost.Engine
		want   string
	}{
		{"lion", cpu, cost.EngineUnset, "P118 line:9 lion cannot run on the CPU"},
		{"paged_adamw_8bit", cpu, cost.EngineUnset, "P118 line:9 paged_adamw_8bit cannot run on the CPU"},
		{"adamw_8bit", cpu, cost.EngineUnset, ""},
		{"sgd", cpu, cost.EngineUnset, ""},
		{"lion", gpu, cost.EngineUnset, ""},
		{"paged_adamw_8bit", cpu, cost.EngineTorchtune, ""},
	} {
		src := base7b + "finetune ft {\n model = base\n data = d\n checkpointing = full\n optimizer {\n name = " + c.opt + "\n }\n}\n"
		prog := check(t, map[string]string{"main.whisper": src}, "main.whisper")
		_, ds := Build(prog, c.target, Options{Engine: c.engine})
		var got []string
		for _, d := range ds {
			if d.Code == "P118" {
				got = append(got, fmt.Sprintf("%s line:%d %s", d.Code, d.Subject.Start.Line, d.Summary))
			}
		}
		if strings.Join(got, "; ") != c.want {
			t.Errorf("%s on %s (engine %v): got %q, want %q", c.opt, c.target.Name(), c.engine, got, c.want)
		}
	}
	// Full fine-tuning of 7B in 16 GiB does not fit: the ranked changes
	// name the 8-bit AdamW the CPU trainer runs.
	src := base7b + "finetune ft {\n model = base\n data = d\n method = full\n}\n"
	prog := check(t, map[string]string{"main.whisper": src}, "main.whisper")
	p, ds := Build(prog, cpu, Options{})
	text := diag.Text(prog.Files, ds)
	if !strings.Contains(text, "P120") || !strings.Contains(text, "optimizer { name = adamw_8bit }") || strings.Contains(text, "paged_adamw_8bit") {
		t.Errorf("CPU fit suggestions: %s", text)
	}
	if p == nil {
		t.Fatal("no plan")
	}
	// precision = bf16 is among them, saving what its plan saves; not
	// with sgd (bf16 full fine-tuning needs adamw), nor on a GPU.
	var saves int64
	for _, d := range p.Stage("train.ft").Decisions {
		if d.What == "suggestion" && d.Choice == "precision = bf16" {
			saves = d.SavesBytes
		}
	}
	bsrc := base7b + "finetune ft {\n model = base\n data = d\n method = full\n precision = bf16\n}\n"
	bp, _ := Build(check(t, map[string]string{"main.whisper": bsrc}, "main.whisper"), cpu, Options{})
	if want := p.Stage("train.ft").Memory.TotalBytes - bp.Stage("train.ft").Memory.TotalBytes; saves != want || want <= 0 {
		t.Errorf("precision = bf16 suggested saving %d; its plan saves %d", saves, want)
	}
	for _, c := range []struct {
		src    string
		target *Target
	}{
		{base7b + "finetune ft {\n model = base\n data = d\n method = full\n optimizer {\n name = sgd\n }\n}\n", cpu},
		{base7b + "finetune ft {\n model = base\n data = d\n method = full\n}\n", gpu},
	} {
		prog := check(t, map[string]string{"main.whisper": c.src}, "main.whisper")
		if _, ds := Build(prog, c.target, Options{}); strings.Contains(diag.Text(prog.Files, ds), "precision = bf16") {
			t.Errorf("%s: suggests precision = bf16:\n%s", c.target.Name(), diag.Text(prog.Files, ds))
		}
	}
}
