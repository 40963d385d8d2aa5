package engines

import (
	"fmt"
	"strings"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
)

// vllmModel resolves what vLLM loads for a generate or serve: the model
// argument, the LoRA adapter (name, path, rank) when the reference is a
// LoRA finetune, and the tokenizer for GGUF files.
type vllmModel struct {
	model, tokenizer      string
	loraName, loraPath    string
	loraRank              int
	quantize              string // "bitsandbytes" or ""
	dtype                 string // bfloat16, float16, float32
	local                 bool   // model is a path relative to the export
	sourceRange, quantRng string
}

// vllmRef checks the model reference against the table and resolves it.
func (l *lowerer) vllmRef(ref compiler.ModelRef, site *compiler.Site, precision string) (vllmModel, bool) {
	m := ref.Base()
	var v vllmModel
	if m == nil {
		return v, false
	}
	ok := true
	need := func(decision, value string, s *compiler.Site, attr string) {
		_, good := l.need(decision, value, s.ValueRange(attr))
		ok = ok && good
	}
	kind := ""
	switch m.Source.Scheme {
	case compiler.SchemeHF:
		kind = "hub"
		v.model = m.Source.Ref
	case compiler.SchemeSafetensors:
		kind = "local safetensors"
		v.model, v.local = l.rel(m.Source.Path), true
	case compiler.SchemeGGUF:
		kind = "gguf"
		v.model, v.local = l.rel(m.Source.Path), true
		if m.Tokenizer != "" {
			v.tokenizer = l.rel(m.Tokenizer)
		}
	case compiler.SchemeLlama2C:
		kind = "llama2c"
	case compiler.SchemeOllama:
		kind = "ollama"
	default:
		l.report(diag.Errorf(m.ValueRange("source"), codeUnsupported, "vllm cannot load "+m.Source.Raw,
			"vLLM loads Hugging Face checkpoints and GGUF files; a preset name has no weights. Point source at a checkpoint."))
		return v, false
	}
	need("model", kind, &m.Decl.Site, "source")
	if ft := ref.Finetune; ft != nil {
		if ft.LoRA != nil {
			need("model", "finetune (LoRA)", site, "model")
			v.loraName, v.loraPath, v.loraRank = ft.Name, l.rel(ft.Output), ft.LoRA.Rank
		} else {
			need("model", "finetune (full)", site, "model")
			v.model, v.local = l.rel(ft.Output), true
		}
	}
	if q := m.Quantize; q != nil && q.Method != compiler.DTypeInvalid && m.Source.Scheme != compiler.SchemeGGUF {
		need("quantize.method", q.Method.String(), &q.Site, "method")
		need("quantize.compute", q.Compute.String(), &q.Site, "compute")
		v.quantize = "bitsandbytes"
	} else {
		need("quantize.method", "none", &m.Decl.Site, "source")
	}
	v.dtype = map[string]string{"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}[precision]
	if v.dtype == "" {
		v.dtype = "bfloat16"
	}
	return v, ok
}

// vllm lowers every generate to an offline-inference script and every
// serve to a `vllm serve` launch script.
func (l *lowerer) vllm() {
	for _, g := range l.prog.Generates {
		st := l.plan.Stage("generate." + g.Name)
		site := &g.Decl.Site
		v, ok := l.vllmRef(g.Model, site, choice(st, "precision", "bf16"))
		_, good := l.need("kv_cache", boolWord(g.KVCache), site.ValueRange("kv_cache"))
		ok = ok && good
		att := choice(st, "attention", "flash2")
		_, good = l.need("attention", att, site.ValueRange("attention"))
		ok = ok && good
		_, good = l.need("compile", g.Compile.String(), site.ValueRange("compile"))
		if !ok || !good {
			continue
		}
		l.add("generate_"+g.Name+".py", l.vllmGenerate(g, v, att), true)
		l.out.Commands = append(l.out.Commands, Command{Stage: "generate." + g.Name, Argv: []string{"python3", "generate_" + g.Name + ".py"},
			Launcher: "vllm", Install: "pip install -r requirements.txt  (Python 3.10+, CUDA GPU)"})
	}
	for _, s := range l.prog.Serves {
		st := l.plan.Stage("serve." + s.Name)
		site := &s.Decl.Site
		v, ok := l.vllmRef(s.Model, site, choice(st, "precision", "bf16"))
		_, good := l.need("kv_cache", boolWord(s.KVCache), site.ValueRange("kv_cache"))
		ok = ok && good
		att := choice(st, "attention", "flash2")
		_, good = l.need("attention", att, site.ValueRange("attention"))
		ok = ok && good
		_, good = l.need("compile", s.Compile.String(), site.ValueRange("compile"))
		if !ok || !good {
			continue
		}
		argv := vllmServeArgv(s, v, att)
		l.add("serve_"+s.Name+".sh", l.vllmServeScript(s, v, att, argv), true)
		l.out.Commands = append(l.out.Commands, Command{Stage: "serve." + s.Name, Argv: []string{"bash", "serve_" + s.Name + ".sh"},
			Launcher: "vllm", Install: "pip install -r requirements.txt  (Python 3.10+, CUDA GPU; then `vllm` is on PATH)"})
	}
	if len(l.out.Files) == 0 {
		return
	}
	pins := []string{pinVLLM}
	for _, f := range l.out.Files {
		if strings.Contains(f.Data, "bitsandbytes") {
			pins = append(pins, pinBitsandbytesHF)
			break
		}
	}
	l.add("requirements.txt", requirements("Python packages for vLLM.", pins), false)
	var r strings.Builder
	fmt.Fprintf(&r, "# %s on vLLM\n\n", l.prog.Name)
	fmt.Fprintf(&r, "Lowered by `whisperc export --engine vllm` from `%s`.\n\n", l.srcName())
	r.WriteString("```sh\npython3 -m venv .venv && . .venv/bin/activate\npip install -r requirements.txt\n")
	for _, c := range l.out.Commands {
		r.WriteString(shJoin(c.Argv) + "   # " + c.Stage + "\n")
	}
	r.WriteString("```\n\n")
	r.WriteString("`generate_NAME.py` runs a generate block through vLLM's offline `LLM` API; `serve_NAME.sh` starts\n" +
		"`vllm serve`, an OpenAI-compatible server. spec/engines.md lists what each setting becomes.\n")
	l.add("README.md", r.String(), false)
}

func vllmServeArgv(s *compiler.Serve, v vllmModel, att string) []string {
	argv := []string{"vllm", "serve", v.model}
	if v.tokenizer != "" {
		argv = append(argv, "--tokenizer", v.tokenizer)
	}
	argv = append(argv, "--host", s.Host, "--port", fmt.Sprint(s.Port), "--max-num-seqs", fmt.Sprint(s.MaxBatch), "--dtype", v.dtype)
	if v.quantize != "" {
		argv = append(argv, "--quantization", v.quantize)
	}
	argv = append(argv, fmt.Sprintf("-O%d", vllmOptLevel(s.Compile)))
	if att == "flash2" {
		// The VLLM_ATTENTION_BACKEND variable of older releases is no
		// longer read (deprecated in 0.12, ignored by 0.26).
		argv = append(argv, "--attention-backend", "FLASH_ATTN")
	}
	if v.loraName != "" {
		argv = append(argv, "--enable-lora", "--lora-modules", v.loraName+"="+v.loraPath, "--max-lora-rank", fmt.Sprint(v.loraRank))
	}
	return argv
}

func (l *lowerer) vllmServeScript(s *compiler.Serve, v vllmModel, att string, argv []string) string {
	var b strings.Builder
	b.WriteString("#!/usr/bin/env bash\n")
	fmt.Fprintf(&b, "# vLLM server for serve %s, lowered by whisperc from %s.\n", s.Name, l.srcName())
	b.WriteString("#   --host/--port: serve.host and serve.port\n")
	fmt.Fprintf(&b, "#   --max-num-seqs %d: serve.max_batch, the sequences decoded together (ML004: the paged KV cache holds them)\n", s.MaxBatch)
	fmt.Fprintf(&b, "#   --dtype %s: the compute format\n", v.dtype)
	if v.quantize != "" {
		b.WriteString("#   --quantization bitsandbytes: ML001, NF4 weights quantised as they load\n")
	}
	fmt.Fprintf(&b, "#   compile = %s (ML005): %s\n", s.Compile, vllmOptNote[s.Compile])
	if v.loraName != "" {
		fmt.Fprintf(&b, "#   --enable-lora: the adapter of finetune %s, requested as model %q\n", v.loraName, v.loraName)
	}
	b.WriteString("set -euo pipefail\n")
	b.WriteString("cd \"$(dirname \"$0\")\"\n")
	if att == "flash2" {
		b.WriteString("#   --attention-backend FLASH_ATTN: ML006, attention = flash2\n")
	} else {
		fmt.Fprintf(&b, "#   attention = %s (ML006): the backend is left to vLLM's choice of fused kernel\n", att)
	}
	b.WriteString("exec " + shJoin(argv) + " \"$@\"\n")
	return b.String()
}

func (l *lowerer) vllmGenerate(g *compiler.Generate, v vllmModel, att string) string {
	var p pyLines
	p.line("#!/usr/bin/env python3")
	p.line(fmt.Sprintf(`"""Generate %s with vLLM's offline LLM API, lowered by whisperc from %s."""`, g.Name, l.srcName()))
	p.line("from pathlib import Path")
	p.line("")
	p.line("from vllm import LLM, SamplingParams  # noqa: E402")
	if v.loraName != "" {
		p.line("from vllm.lora.request import LoRARequest  # noqa: E402")
	}
	p.line("")
	p.line("HERE = Path(__file__).resolve().parent")
	if v.local {
		p.line("MODEL = str(HERE / " + pyStr(v.model) + ")")
	} else {
		p.line("MODEL = " + pyStr(v.model))
	}
	p.line("PROMPT = " + pyStr(g.Prompt))
	p.line("")
	p.line("")
	p.line("def main():")
	p.line("    llm = LLM(")
	p.kw("        ", "model", "MODEL", "")
	if v.tokenizer != "" {
		p.kw("        ", "tokenizer", "str(HERE / "+pyStr(v.tokenizer)+")", "the GGUF file's original tokenizer")
	}
	p.kw("        ", "dtype", pyStr(v.dtype), "")
	if v.quantize != "" {
		p.kw("        ", "quantization", pyStr(v.quantize), "ML001: NF4 weights quantised as they load")
	}
	if att == "flash2" {
		p.kw("        ", "attention_backend", pyStr("FLASH_ATTN"), "ML006: attention = flash2")
	} else {
		p.line("        # ML006: attention = " + att + ": the backend is left to vLLM's choice of fused kernel")
	}
	p.kw("        ", "optimization_level", fmt.Sprint(vllmOptLevel(g.Compile)), "ML005: compile = "+g.Compile.String()+": "+vllmOptNote[g.Compile])
	p.kw("        ", "seed", fmt.Sprint(g.Seed), "")
	if v.loraName != "" {
		p.kw("        ", "enable_lora", "True", "ML003: the finetune's adapter")
		p.kw("        ", "max_lora_rank", fmt.Sprint(v.loraRank), "")
	}
	p.line("    )")
	p.line("    params = SamplingParams(")
	p.kw("        ", "max_tokens", fmt.Sprint(g.MaxTokens), "")
	p.kw("        ", "temperature", pyFloat(g.Temperature), "")
	p.kw("        ", "top_p", pyFloat(g.TopP), "")
	topK := g.TopK
	if topK == 0 {
		topK = -1
	}
	p.kw("        ", "top_k", fmt.Sprint(topK), map[bool]string{true: "0 in the pipeline: no top-k cut", false: ""}[g.TopK == 0])
	p.kw("        ", "seed", fmt.Sprint(g.Seed), "")
	p.kw("        ", "ignore_eos", pyBool(g.IgnoreEOS), "")
	p.line("    )")
	if v.loraName != "" {
		p.line(fmt.Sprintf("    adapter = LoRARequest(%s, 1, str(HERE / %s))", pyStr(v.loraName), pyStr(v.loraPath)))
		p.line("    outputs = llm.generate([PROMPT], params, lora_request=adapter)")
	} else {
		p.line("    outputs = llm.generate([PROMPT], params)")
	}
	p.line(`    print(outputs[0].outputs[0].text)`)
	p.line("")
	p.line("")
	p.line(`if __name__ == "__main__":`)
	p.line("    main()")
	return p.b.String()
}

// vllmOptLevel maps the compile mode to vLLM's optimization level (-O0 to
// -O3; the LLM API's optimization_level), vLLM's docs "Optimization
// Levels": -O0 runs eagerly, -O1 compiles with Inductor and captures
// piecewise CUDA graphs, -O2 (vLLM's default) adds full CUDA graphs, and
// -O3 is reserved for more (it behaved as -O2 when the levels came in).
func vllmOptLevel(c compiler.CompileMode) int {
	return map[compiler.CompileMode]int{compiler.CompileDefault: 1, compiler.CompileReduceOverhead: 2, compiler.CompileMaxAutotune: 3}[c]
}

var vllmOptNote = map[compiler.CompileMode]string{
	compiler.CompileNone:           "-O0, eager, no CUDA graphs",
	compiler.CompileDefault:        "-O1, Inductor compilation with piecewise CUDA graphs",
	compiler.CompileReduceOverhead: "-O2, compiled with full and piecewise CUDA graphs",
	compiler.CompileMaxAutotune:    "-O3, vLLM's highest level",
}
