// Package runtime executes a planned pipeline on this machine: it walks the
// plan's stages in order (load the model, prepare it under the chosen
// quantisation and compile mode, generate) on the Gorgonia engine in
// runtime/engine, and reports problems as diagnostics positioned on the
// .whisper source.
//
// The runtime decides nothing: every choice (attention kernel, KV cache,
// compile mode, quantisation, threads, the memory verdict) comes in the
// Plan. FromProgram is the documented minimal path that fills a Plan from a
// checked Program until the planner's lowering feeds Execute directly.
package runtime

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/format/safetensors"
	"github.com/modelwhisperer/whisperc/runtime/sample"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// StageKind says what a stage does. The zero value is invalid.
type StageKind int

// The stage kinds the runtime executes.
const (
	StageInvalid StageKind = iota
	// StageGenerate loads a model, prepares it and generates text.
	StageGenerate
)

// String returns the stage kind's .whisper block name.
func (k StageKind) String() string {
	if k == StageGenerate {
		return "generate"
	}
	return "invalid"
}

// Plan is a pipeline with every execution choice made.
type Plan struct {
	Name   string
	Stages []Stage
	// RAMBytes is the memory the plan was made for; a stage whose
	// PeakBytes exceeds it is refused. Zero means unchecked.
	RAMBytes int64
}

// Stage is one unit of work.
type Stage struct {
	Kind StageKind
	Name string
	// Range is the stage's declaration, for diagnostics.
	Range source.Range
	Model Model
	Gen   Generation
	// Engine holds the execution choices for the stage's model.
	Engine engine.Options
	// PeakBytes is the planner's prediction of the stage's peak memory.
	PeakBytes int64
}

// Model says where a model's weights and tokenizer are.
type Model struct {
	Name string
	// Scheme is "llama2c", "gguf" or "safetensors" (a Hugging Face
	// directory).
	Scheme    string
	Path      string
	Tokenizer string // tokenizer file; empty for GGUF's embedded vocabulary
	// Range is the model's declaration, for diagnostics.
	Range source.Range
}

// Generation is a generate stage's settings.
type Generation struct {
	Prompt    string
	MaxTokens int
	Sampling  sample.Params
	IgnoreEOS bool
}

// Streams are where Execute writes: generated text to Stdout and nothing
// else; timings to Stderr; a progress display on Stderr only when
// Progress is set (the command sets it when stderr is a terminal).
type Streams struct {
	Stdout   io.Writer
	Stderr   io.Writer
	Progress bool
}

// Execute runs the plan's stages in order and stops at the first stage
// that fails. Errors are diagnostics with codes E5xx.
func Execute(ctx context.Context, p *Plan, s Streams) (ds diag.Diagnostics) {
	defer func() {
		if r := recover(); r != nil {
			ds = append(ds, &diag.Diagnostic{Severity: diag.Error, Code: "E500", Summary: "Internal runtime error",
				Detail: fmt.Sprintf("The runtime failed (%v). This is a bug in whisperc; please report it with the pipeline that caused it.", r)})
		}
	}()
	for i := range p.Stages {
		st := &p.Stages[i]
		if err := ctx.Err(); err != nil {
			return append(ds, errorAt(st.Range, "E506", "Interrupted", fmt.Sprintf("The run was interrupted before stage %q: %v.", st.Name, err)))
		}
		switch st.Kind {
		case StageGenerate:
			ds = append(ds, runGenerate(ctx, p, st, s)...)
		default:
			ds = append(ds, errorAt(st.Range, "E505", "Stage cannot run here",
				fmt.Sprintf("Stage %q is a %s stage, which this runtime does not execute. Remove it from the pipeline's stages to run the others.", st.Name, st.Kind)))
		}
		if ds.HasErrors() {
			return ds
		}
	}
	return ds
}

func errorAt(r source.Range, code, summary, detail string) *diag.Diagnostic {
	if r.Filename == "" {
		return &diag.Diagnostic{Severity: diag.Error, Code: code, Summary: summary, Detail: detail}
	}
	return diag.Errorf(r, code, summary, detail)
}

// progress writes a status line when the stream is a terminal.
func (s Streams) progress(format string, args ...any) {
	if s.Progress && s.Stderr != nil {
		fmt.Fprintf(s.Stderr, "\r\x1b[K"+format, args...)
	}
}

func (s Streams) progressDone() {
	if s.Progress && s.Stderr != nil {
		fmt.Fprint(s.Stderr, "\r\x1b[K")
	}
}

func runGenerate(ctx context.Context, p *Plan, st *Stage, s Streams) diag.Diagnostics {
	if p.RAMBytes > 0 && st.PeakBytes > p.RAMBytes {
		return diag.Diagnostics{errorAt(st.Range, "E503", "Model does not fit in memory",
			fmt.Sprintf("Stage %q needs about %s at its peak but the plan allows %s of RAM. Quantise the model (quantize { method = \"nf4\" }), shorten the context, or run on a machine with more memory.", st.Name, formatBytes(st.PeakBytes), formatBytes(p.RAMBytes)))}
	}
	s.progress("loading %s from %s", st.Model.Name, st.Model.Path)
	ws, tok, d := load(st.Model)
	if d != nil {
		s.progressDone()
		return diag.Diagnostics{d}
	}
	if ws.Close != nil {
		defer ws.Close()
	}
	s.progress("preparing %s (compile %s, quantize %s)", st.Model.Name, st.Engine.Compile, st.Engine.Quantize)
	e, err := engine.New(ctx, ws, st.Engine)
	s.progressDone()
	if err != nil {
		return diag.Diagnostics{errorAt(st.Model.Range, "E505", "Model cannot run with these settings",
			fmt.Sprintf("%v. Change the model's settings to ones the runtime supports.", err))}
	}
	smp, err := sample.New(st.Gen.Sampling)
	if err != nil {
		return diag.Diagnostics{errorAt(st.Range, "E505", "Invalid sampling settings", err.Error()+".")}
	}
	stats, err := engine.Generate(ctx, e, tok, engine.GenerateOptions{
		Prompt: st.Gen.Prompt, MaxTokens: st.Gen.MaxTokens, IgnoreEOS: st.Gen.IgnoreEOS, Sampler: smp, Out: s.Stdout,
	})
	if err != nil {
		return diag.Diagnostics{errorAt(st.Range, "E506", "Generation failed", fmt.Sprintf("Stage %q stopped after %d tokens: %v.", st.Name, stats.Generated, err))}
	}
	fmt.Fprintf(s.Stderr, "%d tokens in %.3f s (%.1f tok/s)\n", stats.PromptTokens-1+stats.Generated, stats.Elapsed.Seconds(), stats.TokensPerSecond())
	return nil
}

// load opens a model's weights and tokenizer.
func load(m Model) (*weights.Set, tokenizer.Tokenizer, *diag.Diagnostic) {
	var ws *weights.Set
	var err error
	switch m.Scheme {
	case "llama2c":
		ws, err = llama2c.Open(m.Path)
	case "gguf":
		ws, err = gguf.Open(m.Path)
	case "safetensors", "hf":
		ws, err = safetensors.OpenHF(m.Path)
	default:
		return nil, nil, errorAt(m.Range, "E501", "Model cannot be loaded",
			fmt.Sprintf("Model %q comes from a %q source, which the runtime cannot load from disk. Use a llama2c:, gguf: or safetensors: source pointing at a local file.", m.Name, m.Scheme))
	}
	if err != nil {
		return nil, nil, errorAt(m.Range, "E501", "Model cannot be loaded",
			fmt.Sprintf("Loading model %q failed: %v. Check that the source path names a readable %s file.", m.Name, err, m.Scheme))
	}
	var tok tokenizer.Tokenizer
	switch {
	case m.Tokenizer != "" && strings.HasSuffix(m.Tokenizer, ".gguf"):
		tok, err = tokenizer.ReadGGUF(m.Tokenizer)
	case m.Tokenizer != "":
		tok, err = tokenizer.ReadLlama2CFile(m.Tokenizer, ws.Config.Vocab)
	case m.Scheme == "gguf":
		tok, err = tokenizer.ReadGGUF(m.Path)
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
		return nil, nil, errorAt(m.Range, "E502", "Tokenizer cannot be loaded",
			fmt.Sprintf("Model %q: %v. Set tokenizer to the model's tokenizer file (llama2.c tokenizer.bin, or a .gguf holding the vocabulary).", m.Name, err))
	}
	return ws, tok, nil
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
