package runtime

import (
	"context"
	"fmt"
	goruntime "runtime"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/sample"
)

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
	x.metric(st, "prompt_tokens", float64(stats.PromptTokens), "tokens")
	x.metric(st, "generated_tokens", float64(stats.Generated), "tokens")
	x.metric(st, "seconds", stats.Elapsed.Seconds(), "s")
	x.metric(st, "tokens_per_second", stats.TokensPerSecond(), "tok/s")
	x.metric(st, "weight_bytes", float64(e.WeightBytes()), "B")
	return nil
}
