package runtime

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/sample"
)

// FromProgram is the minimal path from a checked program to a Plan, used
// until the planner lowers programs itself. It makes the planner's
// choices in the simplest defensible way and documents each:
//
//   - attention: eager stays eager; flash2, sdpa and auto run flash2 (the
//     memory-efficient kernel, ML006), which gives the same output;
//   - KV cache and compile mode: as written (compile defaults to default
//     when unset);
//   - quantisation: the model's quantize.method, none without the block;
//   - threads: every CPU (runtime.GOMAXPROCS);
//   - peak memory: fp32 weights (parameters · 4 bytes, from the model
//     file's header) plus the KV cache, against RAMBytes (MemAvailable
//     from /proc/meminfo when ramBytes is 0; unchecked where unknown).
//
// Stages other than generate are reported as E505, since this runtime
// cannot execute them yet.
func FromProgram(prog *compiler.Program, ramBytes int64) (*Plan, diag.Diagnostics) {
	var ds diag.Diagnostics
	if ramBytes == 0 {
		ramBytes = availableRAM()
	}
	p := &Plan{Name: prog.Name, RAMBytes: ramBytes}
	for _, stage := range prog.Stages {
		g, ok := stage.(*compiler.Generate)
		if !ok {
			d := stage.StageDecl()
			ds = append(ds, errorAt(d.NameRange, "E505", "Stage cannot run here",
				fmt.Sprintf("Stage %q is a %s stage, which this runtime does not execute yet. List only generate stages in the pipeline block to run them.", d.Name, d.Kind)))
			continue
		}
		m := g.Model.Base()
		if m == nil || g.Model.Finetune != nil {
			ds = append(ds, errorAt(g.NameRange, "E505", "Stage cannot run here",
				fmt.Sprintf("Generate stage %q uses a finetune's output, which needs the finetune stage this runtime does not execute yet. Point model at a model block.", g.Name)))
			continue
		}
		st := Stage{
			Kind:  StageGenerate,
			Name:  g.Name,
			Range: g.NameRange,
			Model: Model{Name: m.Name, Scheme: m.Source.Scheme.String(), Path: m.Source.Path, Tokenizer: m.Tokenizer, Range: m.NameRange},
			Gen: Generation{
				Prompt:    g.Prompt,
				MaxTokens: g.MaxTokens,
				Sampling:  sample.Params{Temperature: g.Temperature, TopP: g.TopP, TopK: g.TopK, Seed: uint64(g.Seed)},
				IgnoreEOS: g.IgnoreEOS,
			},
			Engine: engine.Options{
				Attention: engine.AttentionFlash2,
				KVCache:   g.KVCache,
				Compile:   compileMode(g.Compile),
				Quantize:  engine.QuantizeNone,
				Threads:   goruntime.GOMAXPROCS(0),
			},
		}
		if g.Attention == compiler.AttentionEager {
			st.Engine.Attention = engine.AttentionEager
		}
		if q := m.Quantize; q != nil {
			switch q.Method {
			case compiler.QuantNF4:
				st.Engine.Quantize = engine.QuantizeNF4
			case compiler.QuantFP4:
				st.Engine.Quantize = engine.QuantizeFP4
			case compiler.QuantInt8:
				st.Engine.Quantize = engine.QuantizeInt8
			case compiler.QuantQ8_0:
				st.Engine.Quantize = engine.QuantizeQ8_0
			case compiler.QuantNone:
			default:
				ds = append(ds, errorAt(q.Range, "E505", "Quantisation cannot run here",
					fmt.Sprintf("quantize method %s is not one the runtime executes. Use nf4, fp4, int8, q8_0 or none.", q.Method)))
				continue
			}
		}
		if c, ok := headerConfig(st.Model); ok {
			if m.Context > 0 {
				c.MaxSeq = m.Context
			}
			kv := int64(c.Layers) * int64(c.MaxSeq) * int64(c.KVHeads*c.HeadSize()) * 2 * 4
			st.PeakBytes = c.Params()*4 + kv
		}
		p.Stages = append(p.Stages, st)
	}
	return p, ds
}

func compileMode(c compiler.CompileMode) engine.Compile {
	switch c {
	case compiler.CompileNone:
		return engine.CompileNone
	case compiler.CompileReduceOverhead:
		return engine.CompileReduceOverhead
	case compiler.CompileMaxAutotune:
		return engine.CompileMaxAutotune
	}
	return engine.CompileDefault
}

// headerConfig reads a model's architecture from its file header without
// loading the weights.
func headerConfig(m Model) (arch.Config, bool) {
	switch m.Scheme {
	case "llama2c":
		f, err := os.Open(m.Path)
		if err != nil {
			return arch.Config{}, false
		}
		defer f.Close()
		c, err := arch.FromLlama2c(bufio.NewReader(f))
		return c, err == nil
	case "gguf":
		c, err := arch.FromGGUF(m.Path)
		return c, err == nil
	case "safetensors", "hf":
		data, err := os.ReadFile(filepath.Join(m.Path, "config.json"))
		if err != nil {
			return arch.Config{}, false
		}
		c, err := arch.FromHFConfig(data)
		return c, err == nil
	}
	return arch.Config{}, false
}

// totalRAM returns MemTotal from /proc/meminfo in bytes, or 0.
func totalRAM() int64 { return meminfo("MemTotal:") }

// availableRAM returns MemAvailable from /proc/meminfo in bytes, or 0.
func availableRAM() int64 { return meminfo("MemAvailable:") }

// meminfo returns a /proc/meminfo field in bytes, or 0.
func meminfo(field string) int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(data) {
		f := strings.Fields(string(line))
		if len(f) >= 2 && f[0] == field {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}
