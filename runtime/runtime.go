// Package runtime executes a planner's plan on this machine: it walks the
// plan's stages in order (load the model, quantise it, generate) on the
// Gorgonia engine in runtime/engine, and reports problems as diagnostics
// positioned on the .whisper source.
//
// The runtime decides nothing: the attention kernel, the KV cache, the
// compile mode and each linear layer's weight format come from the stage's
// lowered graph (planner.Graph), the memory verdict from the plan. The
// only execution detail it fills in is the thread count, every CPU the Go
// runtime may use.
package runtime

import (
	"context"
	"fmt"
	"io"
	goruntime "runtime"
	"strings"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/format/safetensors"
	"github.com/modelwhisperer/whisperc/runtime/sample"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// Streams are where Execute writes: generated text to Stdout and nothing
// else; the timing line to Stderr; a progress display on Stderr only when
// Progress is set (the command sets it when stderr is a terminal).
type Streams struct {
	Stdout   io.Writer
	Stderr   io.Writer
	Progress bool
}

// progress writes a status line, overwriting the previous one.
func (s Streams) progress(format string, args ...any) {
	if s.Progress && s.Stderr != nil {
		fmt.Fprintf(s.Stderr, "\r\x1b[K"+format, args...)
	}
}

// progressDone clears the status line.
func (s Streams) progressDone() {
	if s.Progress && s.Stderr != nil {
		fmt.Fprint(s.Stderr, "\r\x1b[K")
	}
}

// loaded is a model after its load stage.
type loaded struct {
	ws  *weights.Set
	tok tokenizer.Tokenizer
}

// executor carries one Execute call's state.
type executor struct {
	plan   *planner.Plan
	prog   *compiler.Program
	s      Streams
	models map[string]*loaded
}

// Execute runs the plan's stages for prog in order: load, quantize and
// generate stages; it refuses the whole plan when the plan says a stage
// does not fit (E503) and stops at the first stage that fails. Other stage
// kinds are reported as E505.
func Execute(ctx context.Context, plan *planner.Plan, prog *compiler.Program, s Streams) (ds diag.Diagnostics) {
	x := &executor{plan: plan, prog: prog, s: s, models: map[string]*loaded{}}
	defer func() {
		for _, m := range x.models {
			if m.ws.Close != nil {
				m.ws.Close()
			}
		}
		if r := recover(); r != nil {
			ds = append(ds, &diag.Diagnostic{Severity: diag.Error, Code: "E500", Summary: "Internal runtime error",
				Detail: fmt.Sprintf("The runtime failed (%v). This is a bug in whisperc; please report it with the pipeline that caused it.", r)})
		}
	}()
	if ds = append(x.checkKinds(), x.checkFits()...); ds.HasErrors() {
		return ds
	}
	for i := range plan.Stages {
		st := &plan.Stages[i]
		if err := ctx.Err(); err != nil {
			return append(ds, x.errorf(st, "E506", "Interrupted", "The run was interrupted before stage %s: %v.", st.ID, err))
		}
		var d *diag.Diagnostic
		switch st.Kind {
		case planner.StageLoad:
			d = x.load(st)
		case planner.StageQuantize:
			d = x.checkQuantize(st)
		case planner.StageGenerate:
			d = x.generate(ctx, st)
		}
		if d != nil {
			return append(ds, d)
		}
	}
	return ds
}

// rangeOf returns the range of the declaration a stage comes from.
func (x *executor) rangeOf(st *planner.Stage) source.Range {
	if d := x.prog.Decl(st.Decl); d != nil {
		return d.NameRange
	}
	return source.Range{}
}

func (x *executor) errorf(st *planner.Stage, code, summary, format string, args ...any) *diag.Diagnostic {
	r := x.rangeOf(st)
	detail := fmt.Sprintf(format, args...)
	if r.Filename == "" {
		return &diag.Diagnostic{Severity: diag.Error, Code: code, Summary: summary, Detail: detail}
	}
	return diag.Errorf(r, code, summary, detail)
}

// checkKinds refuses, before any work, stages this runtime cannot execute.
func (x *executor) checkKinds() diag.Diagnostics {
	var ds diag.Diagnostics
	for i := range x.plan.Stages {
		st := &x.plan.Stages[i]
		switch st.Kind {
		case planner.StageLoad, planner.StageQuantize, planner.StageGenerate:
		default:
			ds = append(ds, x.errorf(st, "E505", "Stage cannot run here",
				"Stage %s is a %s stage, which this runtime does not execute yet. List only generate stages in the pipeline block to run them.", st.ID, st.Kind))
		}
	}
	return ds
}

// checkFits refuses stages the plan predicts do not fit their memory.
func (x *executor) checkFits() diag.Diagnostics {
	var ds diag.Diagnostics
	for i := range x.plan.Stages {
		st := &x.plan.Stages[i]
		if m := st.Memory; m != nil && !m.Fits {
			ds = append(ds, x.errorf(st, "E503", "Model does not fit in memory",
				"Stage %s needs about %s at its peak but %s has %s. Quantise the model (quantize { method = \"nf4\" }), shorten the context, or run on a machine with more memory.",
				st.ID, formatBytes(m.TotalBytes), x.plan.Target.Name, formatBytes(m.CapacityBytes)))
		}
	}
	return ds
}

// load opens a model's weights and tokenizer.
func (x *executor) load(st *planner.Stage) *diag.Diagnostic {
	m := x.prog.Model(st.Model)
	if m == nil {
		return x.errorf(st, "E500", "Internal runtime error", "The plan loads model %q, which the program does not declare. Plan again.", st.Model)
	}
	x.s.progress("loading %s from %s", m.Name, m.Source.Path)
	defer x.s.progressDone()
	var ws *weights.Set
	var err error
	switch m.Source.Scheme {
	case compiler.SchemeLlama2C:
		ws, err = llama2c.Open(m.Source.Path)
	case compiler.SchemeGGUF:
		ws, err = gguf.Open(m.Source.Path)
	case compiler.SchemeSafetensors:
		ws, err = safetensors.OpenHF(m.Source.Path)
	default:
		return x.errorf(st, "E501", "Model cannot be loaded",
			"Model %q comes from %q, which the runtime cannot open from disk. Use a llama2c:, gguf: or safetensors: source naming a local file (download hub models first).", m.Name, m.Source.Raw)
	}
	if err != nil {
		return x.errorf(st, "E501", "Model cannot be loaded",
			"Loading model %q failed: %v. Check that the source names a readable %s file.", m.Name, err, m.Source.Scheme)
	}
	var tok tokenizer.Tokenizer
	switch {
	case strings.HasSuffix(m.Tokenizer, ".gguf"):
		tok, err = tokenizer.ReadGGUF(m.Tokenizer)
	case m.Tokenizer != "":
		tok, err = tokenizer.ReadLlama2CFile(m.Tokenizer, ws.Config.Vocab)
	case m.Source.Scheme == compiler.SchemeGGUF:
		tok, err = tokenizer.ReadGGUF(m.Source.Path)
	default:
		err = fmt.Errorf("no tokenizer is given")
	}
	if err == nil && tok.VocabSize() > ws.Config.Vocab {
		err = fmt.Errorf("the tokenizer has %d tokens but the model only %d", tok.VocabSize(), ws.Config.Vocab)
	}
	if err != nil {
		if ws.Close != nil {
			ws.Close()
		}
		return x.errorf(st, "E502", "Tokenizer cannot be loaded",
			"Model %q: %v. Set tokenizer to the model's tokenizer file (llama2.c tokenizer.bin, or a .gguf holding the vocabulary).", m.Name, err)
	}
	x.models[m.Name] = &loaded{ws: ws, tok: tok}
	return nil
}

// checkQuantize checks that the runtime has a kernel for the planned
// format. The weights are quantised when the engine is built for a stage,
// with the formats that stage's graph names.
func (x *executor) checkQuantize(st *planner.Stage) *diag.Diagnostic {
	if d := st.Decision("quantization"); d != nil {
		if _, err := quantizeOf(d.Choice); err != nil {
			return x.errorf(st, "E505", "Quantisation cannot run here", "%v.", err)
		}
	}
	return nil
}

// quantizeOf maps a planned weight format to the engine's.
func quantizeOf(format string) (engine.Quantize, error) {
	switch format {
	case "fp32", "fp16", "bf16", "":
		return engine.QuantizeNone, nil
	case "nf4":
		return engine.QuantizeNF4, nil
	case "fp4":
		return engine.QuantizeFP4, nil
	case "int8":
		return engine.QuantizeInt8, nil
	case "q8_0":
		return engine.QuantizeQ8_0, nil
	}
	return engine.QuantizeInvalid, fmt.Errorf("weight format %q has no CPU kernel; use nf4, fp4, int8, q8_0 or none", format)
}

// EngineOptions translates a stage's lowered graph into the engine's
// options: the attention kernel of the layers, the KV cache and the
// positions it holds, the compile mode, the layers' and the classifier's
// weight formats.
func EngineOptions(g *planner.Graph) (engine.Options, error) {
	o := engine.Options{KVCache: g.KVCache != nil, Threads: goruntime.GOMAXPROCS(0)}
	if g.KVCache != nil {
		o.Context = g.KVCache.Context // the positions the plan provisioned
	}
	att := "eager"
	if len(g.Layers) > 0 {
		att = g.Layers[0].Attention
	}
	switch att {
	case "eager", "sdpa":
		o.Attention = engine.AttentionEager
	case "flash2":
		o.Attention = engine.AttentionFlash2
	default:
		return o, fmt.Errorf("attention kernel %q is not one the runtime executes (eager or flash2)", att)
	}
	switch g.Compile {
	case "none":
		o.Compile = engine.CompileNone
	case "default", "":
		o.Compile = engine.CompileDefault
	case "reduce_overhead":
		o.Compile = engine.CompileReduceOverhead
	case "max_autotune":
		o.Compile = engine.CompileMaxAutotune
	default:
		return o, fmt.Errorf("compile mode %q is not one the runtime executes", g.Compile)
	}
	o.Quantize = engine.QuantizeNone
	if len(g.Layers) > 0 && len(g.Layers[0].Linears) > 0 {
		q, err := quantizeOf(g.Layers[0].Linears[0].Weight)
		if err != nil {
			return o, err
		}
		o.Quantize = q
	}
	if hq, err := quantizeOf(g.Head.Weight); err == nil && hq != engine.QuantizeNone {
		if o.Quantize == engine.QuantizeNone {
			o.Quantize = hq
		}
		o.QuantizeHead = true
	}
	return o, nil
}

// generate builds the engine the stage's graph describes and generates.
func (x *executor) generate(ctx context.Context, st *planner.Stage) *diag.Diagnostic {
	var g *compiler.Generate
	for _, cand := range x.prog.Generates {
		if cand.Name == st.Decl {
			g = cand
		}
	}
	m, ok := x.models[st.Model]
	if g == nil || !ok || st.Graph == nil {
		return x.errorf(st, "E500", "Internal runtime error", "Stage %s has no generate declaration, loaded model or graph. Plan again.", st.ID)
	}
	if g.Model.Finetune != nil {
		return x.errorf(st, "E505", "Stage cannot run here",
			"Generate stage %q uses a finetune's output, which needs the train stage this runtime does not execute yet. Point model at a model block.", g.Name)
	}
	opts, err := EngineOptions(st.Graph)
	if err != nil {
		return x.errorf(st, "E505", "Setting cannot run here", "%v.", err)
	}
	x.s.progress("preparing %s (compile %s, quantize %s)", st.Model, opts.Compile, opts.Quantize)
	e, err := engine.New(ctx, m.ws, opts)
	x.s.progressDone()
	if err != nil {
		return x.errorf(st, "E505", "Model cannot run with these settings", "%v. Change the model's settings to ones the runtime supports.", err)
	}
	smp, err := sample.New(sample.Params{Temperature: g.Temperature, TopP: g.TopP, TopK: g.TopK, Seed: uint64(g.Seed)})
	if err != nil {
		return x.errorf(st, "E505", "Invalid sampling settings", "%v.", err)
	}
	stats, err := engine.Generate(ctx, e, m.tok, engine.GenerateOptions{
		Prompt: g.Prompt, MaxTokens: g.MaxTokens, IgnoreEOS: g.IgnoreEOS, Sampler: smp, Out: x.s.Stdout,
	})
	if err != nil {
		return x.errorf(st, "E506", "Generation failed", "Stage %s stopped after %d tokens: %v.", st.ID, stats.Generated, err)
	}
	fmt.Fprintf(x.s.Stderr, "%d tokens in %.3f s (%.1f tok/s)\n", stats.PromptTokens-1+stats.Generated, stats.Elapsed.Seconds(), stats.TokensPerSecond())
	return nil
}

func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "BKMGT"[i])
}
