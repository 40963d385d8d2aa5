package engines

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
)

// variant is a pipeline that exhibits one decision's value: the base
// pipeline with some of its settings replaced.
type variant map[string]string

// basePipeline has a placeholder per setting; defaults fill those a
// variant leaves alone.
const basePipeline = `model base {
  source = "{{source}}"
  {{quantize}}
}
dataset d {
  source  = "{{data}}"
  format  = {{format}}
  field   = "text"
  seq_len = 512
  packing = {{packing}}
  truncate = {{truncate}}
  on_bad_record = {{onbad}}
  shuffle = {{shuffle}}
  eval    = {{eval}}
}
finetune ft {
  model     = base
  data      = d
  method    = {{method}}
  {{lora}}
  checkpointing = {{ckpt}}
  attention     = {{attention}}
  compile       = {{compile}}
  precision     = {{precision}}
  optimizer { name = {{opt}}, lr = 1e-4, schedule = {{schedule}}, warmup = {{warmup}}, weight_decay = 0.01 }
  batch      = 2
  grad_accum = {{accum}}
  epochs     = 2
  {{steps}}
  {{save}}
  seed = 7
  nan_rollbacks = {{nanroll}}
  {{distributed}}
}
generate g {
  model       = {{genmodel}}
  prompt      = "Hello"
  max_tokens  = 16
  temperature = 0.5
  top_p       = 0.9
  top_k       = 20
  seed        = 3
  kv_cache    = {{kv}}
  attention   = {{attention}}
  compile     = {{compile}}
}
serve s {
  model     = {{genmodel}}
  host      = "127.0.0.1"
  port      = 8000
  max_batch = 4
  kv_cache  = {{kv}}
  attention = {{attention}}
  compile   = {{compile}}
}
track { backend = {{backend}}, dir = "runs", project = "p" }
target { profile = "h100-80gb", count = {{count}} }
`

var baseSettings = variant{
	"source": "hf:meta-llama/Llama-2-7b-hf", "quantize": "", "data": "data.jsonl", "format": "jsonl", "packing": "false",
	"shuffle": "true", "eval": "0", "method": "lora", "lora": "lora { rank = 8, alpha = 16, dropout = 0.1, targets = attention }",
	"ckpt": "full", "attention": "sdpa", "compile": "none", "precision": "bf16", "opt": "adamw", "schedule": "cosine",
	"warmup": "10 steps", "steps": "", "save": "", "distributed": "", "genmodel": "base", "kv": "true", "backend": "tensorboard", "count": "1", "accum": "4",
	"truncate": "false", "onbad": "error", "nanroll": "0",
}

const nf4 = "quantize { method = nf4, double = true, compute = bf16 }"

// variantFor returns the settings that exhibit decision = value.
func variantFor(decision, value string) variant {
	v := variant{}
	switch decision {
	case "method":
		v["method"] = value
		switch value {
		case "full":
			v["lora"] = ""
		case "qlora":
			v["quantize"] = nf4
		}
	case "quantize.method":
		switch value {
		case "none":
		case "nf4", "fp4":
			v["quantize"] = "quantize { method = " + value + " }"
			v["method"] = "qlora"
		default:
			v["quantize"] = "quantize { method = " + value + " }"
		}
	case "quantize.double":
		v["quantize"], v["method"] = "quantize { method = nf4, double = "+value+" }", "qlora"
	case "quantize.compute":
		v["quantize"], v["method"] = "quantize { method = nf4, compute = "+value+" }", "qlora"
		if value != "bf16" {
			v["precision"] = value
		}
	case "quantize.block_size":
		bs := "64"
		if value == "other" {
			bs = "128"
		}
		v["quantize"], v["method"] = "quantize { method = nf4, block_size = "+bs+" }", "qlora"
	case "lora.targets":
		t := map[string]string{"attention": "attention", "mlp": "mlp", "all": "all", "part of the MLP": "[q_proj, gate_proj]"}[value]
		v["lora"] = "lora { rank = 8, targets = " + t + " }"
	case "checkpointing":
		v["ckpt"] = map[string]string{"every": "every(2)"}[value]
		if v["ckpt"] == "" {
			v["ckpt"] = value
		}
	case "attention":
		v["attention"] = value
	case "compile":
		v["compile"] = value
	case "precision":
		v["precision"] = value
	case "optimizer.name":
		v["opt"] = value
	case "optimizer.schedule":
		v["schedule"] = value
	case "optimizer.warmup":
		v["warmup"] = map[string]string{"steps": "10 steps", "percent": "3%"}[value]
	case "max_steps":
		v["steps"] = "max_steps = 100"
	case "lora.rslora":
		v["lora"] = "lora { rank = 8, alpha = 16, rslora = " + value + " }"
	case "eval_every":
		v["eval"] = "5%"
		v["save"] = map[string]string{"steps": "eval_every = 20 steps", "epochs": "eval_every = 1 epochs"}[value]
	case "max_grad_norm":
		v["save"] = map[string]string{"off": "max_grad_norm = 0", "set": "max_grad_norm = 0.5"}[value]
	case "save_every":
		v["save"] = map[string]string{"steps": "save_every = 50 steps", "epochs": "save_every = 1 epochs"}[value]
	case "dataset.format":
		v["format"] = value
		v["data"] = map[string]string{"jsonl": "data.jsonl", "csv": "data.csv", "parquet": "data.parquet", "text": "data.txt", "hf": "hf:org/data"}[value]
	case "dataset.packing":
		v["packing"] = value
	case "dataset.truncate":
		t, packing, _ := strings.Cut(value, ", ")
		v["truncate"] = t
		if packing == "packing" {
			v["packing"] = "true"
		}
	case "dataset.on_bad_record":
		v["onbad"] = value
	case "nan_rollbacks":
		v["nanroll"] = map[string]string{"0": "0", "1 or more": "3"}[value]
	case "dataset.eval":
		v["eval"] = map[string]string{"none": "0", "split": "5%"}[value]
	case "distributed.strategy":
		v["count"], v["distributed"] = "4", "distributed { strategy = "+value+", gpus = 4 }"
	case "distributed.gpus":
		v["count"], v["distributed"] = "4", "distributed { strategy = zero3, gpus = 4 }"
	case "distributed.engine":
		v["count"], v["distributed"] = "4", "distributed { strategy = zero3, gpus = 4, engine = "+value+" }"
	case "track.backend":
		v["backend"] = value
	case "model":
		switch value {
		case "finetune (LoRA)":
			v["genmodel"] = "ft"
		case "finetune (full)":
			v["genmodel"], v["method"], v["lora"] = "ft", "full", ""
		case "local safetensors":
			v["source"] = "safetensors:m"
		case "gguf":
			v["source"] = "gguf:m.gguf"
		case "llama2c":
			v["source"] = "llama2c:m.bin"
		case "ollama":
			v["source"] = "ollama:llama2:7b"
		}
	case "kv_cache":
		v["kv"] = value
	case "loss_chunks":
		if value == "set" {
			v["steps"] = "loss_chunks = 16"
		}
	case "activation_offloading":
		v["steps"] = "activation_offloading = " + value
	case "optimizer_in_backward":
		v["steps"] = "optimizer_in_backward = " + value
		v["method"], v["lora"], v["accum"] = "full", "", "1" // nothing to accumulate
	case "distributed.cpu_offload":
		v["count"], v["distributed"] = "4", "distributed { strategy = zero3, gpus = 4, cpu_offload = "+value+" }"
	}
	return v
}

// render fills the base pipeline with v over the defaults.
func (v variant) render() string {
	s := basePipeline
	for k, d := range baseSettings {
		if x, ok := v[k]; ok {
			d = x
		}
		s = strings.ReplaceAll(s, "{{"+k+"}}", d)
	}
	return s
}

// TestTableHolds lowers, for every row of the table, a pipeline that has
// that value, and checks what the row says: the key appears in the files
// (exact), appears with a P141 warning (approximate), or the export is
// refused with P140 (unsupported).
func TestTableHolds(t *testing.T) {
	dir := t.TempDir()
	for _, m := range table {
		name := m.Engine.String() + "/" + m.Decision + "=" + m.Value
		t.Run(name, func(t *testing.T) {
			v := variantFor(m.Decision, m.Value)
			path := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_", "(", "", ")", "").Replace(name)+".whisper")
			if err := os.WriteFile(path, []byte(v.render()), 0o644); err != nil {
				t.Fatal(err)
			}
			prog, ds := compiler.Check(path, compiler.Options{})
			if ds.HasErrors() {
				var b strings.Builder
				diag.WriteText(&b, prog.Files, ds, diag.TextOptions{})
				t.Fatalf("the variant does not check:\n%s\n%s", v.render(), b.String())
			}
			plan, _ := planner.Build(prog, nil, planner.Options{})
			x, lds := Lower(prog, plan, m.Engine, Options{Dir: dir})
			var text strings.Builder
			if x != nil {
				for _, f := range x.Files {
					text.WriteString(f.Data)
				}
			}
			has := func(code string) bool {
				for _, d := range lds {
					if d.Code == code && strings.Contains(d.Summary, m.Decision+" = "+m.Value) {
						return true
					}
				}
				return false
			}
			switch m.Support {
			case Exact, Approximate:
				if x == nil {
					t.Fatalf("the export was refused: %v", lds)
				}
				if !strings.Contains(text.String(), m.Key) {
					t.Errorf("%q does not appear in the lowered files", m.Key)
				}
				if m.Support == Approximate && !has(codeApprox) {
					t.Errorf("no P141 warning for the approximation: %v", lds)
				}
				if m.Support == Exact && has(codeApprox) {
					t.Errorf("an exact mapping warns: %v", lds)
				}
			case Unsupported:
				if x != nil || !has(codeUnsupported) {
					t.Errorf("want a P140 refusal, got export %v and %v", x != nil, lds)
				}
				for _, d := range lds {
					if d.Code == codeUnsupported && d.Subject != nil && d.Subject.Start.Line == 0 {
						t.Errorf("P140 is not positioned: %v", d)
					}
				}
			}
		})
	}
}

// TestTorchtuneStartupRefusals: settings that torchtune 0.6.1's recipes
// refuse at start-up (RuntimeError in the recipe's __init__) are refused at
// export, positioned, instead of written into a config that cannot run;
// and optimizer_in_bwd's config leaves clipping out, which the recipe
// also refuses.
func TestTorchtuneStartupRefusals(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, want string
		v          variant
	}{
		{"accumulate", "cannot accumulate gradients", variant{"steps": "optimizer_in_backward = true", "method": "full", "lora": "", "accum": "4"}},
		{"offload-no-ckpt", "offloads activations only with checkpointing", variant{"steps": "activation_offloading = true", "ckpt": "none"}},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name+".whisper")
		if err := os.WriteFile(path, []byte(c.v.render()), 0o644); err != nil {
			t.Fatal(err)
		}
		prog, ds := compiler.Check(path, compiler.Options{})
		if ds.HasErrors() {
			t.Fatalf("%s does not check: %v", c.name, ds)
		}
		plan, _ := planner.Build(prog, nil, planner.Options{})
		x, lds := Lower(prog, plan, Torchtune, Options{Dir: dir})
		found := false
		for _, d := range lds {
			if d.Code == codeUnsupported && strings.Contains(d.Summary, c.want) && d.Subject != nil && d.Subject.Start.Line > 0 {
				found = true
			}
		}
		if x != nil || !found {
			t.Errorf("%s: want a positioned P140 %q, got export %v and %v", c.name, c.want, x != nil, lds)
		}
	}
	path := filepath.Join(dir, "inbwd.whisper")
	v := variant{"steps": "optimizer_in_backward = true", "method": "full", "lora": "", "accum": "1"}
	if err := os.WriteFile(path, []byte(v.render()), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, _ := compiler.Check(path, compiler.Options{})
	plan, _ := planner.Build(prog, nil, planner.Options{})
	// Even without accumulation, optimizer_in_bwd steps each parameter in
	// backward, so the non-finite-step guard could not skip a step as a
	// whole: refused on the attribute.
	x, lds := Lower(prog, plan, Torchtune, Options{Dir: dir})
	refused := false
	for _, d := range lds {
		if d.Code == codeUnsupported && strings.Contains(d.Summary, "optimizer_in_backward = true") && strings.Contains(d.Detail, "nan_patience") &&
			d.Subject != nil && d.Subject.Start.Line > 0 {
			refused = true
		}
	}
	if x != nil || !refused {
		t.Errorf("optimizer_in_backward with grad_accum = 1: want a positioned P140 naming nan_patience, got export %v and %v", x != nil, lds)
	}
}
