package runtime

import (
	"context"
	"fmt"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/sample"
)

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
	ws := m.ws
	var tuned *trained
	if g.Model.Finetune != nil {
		var d *diag.Diagnostic
		if tuned, d = x.tunedOutput(st, g.Model, m); d != nil {
			return d
		}
		if tuned.ws != nil {
			ws = tuned.ws
		}
	}
	opts, err := EngineOptions(st.Graph, m.ws.Config)
	if err == nil {
		err = checkStored(st.Graph, opts, m.ws)
	}
	if err != nil {
		return x.errorf(st, "E505", "Plan cannot run here", "Stage %s: %v. The runtime executes a plan exactly as written or not at all; plan again.", st.ID, err)
	}
	// The positions this generation needs: the prompt as the model's
	// tokenizer encodes it (BOS included) fed one at a time, then
	// max_tokens, up to the model's context, where generation stops as
	// the plan warned (P116).
	prompt := len(m.tok.Encode(g.Prompt, true, false))
	need := m.ws.Config.MaxSeq
	if g.MaxTokens > 0 {
		need = min(prompt-1+g.MaxTokens, need)
	}
	if opts.KVCache && opts.Context < need {
		return x.errorf(st, "E505", "Plan cannot run here",
			"Stage %s's KV cache holds %d positions, but the prompt (%d tokens) and max_tokens = %d need %d; the runtime does not cut a generation short. Plan again.",
			st.ID, opts.Context, prompt, g.MaxTokens, need)
	}
	opts.Batch = reserveRows(prompt, opts.Context, m.ws.Config.MaxSeq, opts.KVCache)
	x.s.progress("preparing %s (compile %s, quantize %s)", st.Model, opts.Compile, opts.Weights["layers.0.attention.wq.weight"].Format)
	e, err := engine.New(ctx, ws, opts)
	x.s.progressDone()
	if err != nil {
		return x.errorf(st, "E505", "Model cannot run with these settings", "%v. Change the model's settings to ones the runtime supports.", err)
	}
	if tuned != nil && tuned.adapters != nil {
		if err := useAdapters(e, tuned.adapters); err != nil {
			return x.errorf(st, "E505", "Adapters cannot be applied", "%v.", err)
		}
		// Adapters drop the engine's graphs: build the prompt's again.
		if opts.Batch > 0 {
			if err := e.Prepare(opts.Batch); err != nil {
				return x.errorf(st, "E505", "Model cannot run with these settings", "%v. Change the model's settings to ones the runtime supports.", err)
			}
		}
	}
	// The KV cache is allocated before the heap is bounded by its live
	// size, so that the bound counts it.
	if err := e.Reserve(); err != nil {
		return x.errorf(st, "E505", "Model cannot run with these settings", "%v. Change the model's settings to ones the runtime supports.", err)
	}
	defer boundGeneration()()
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
	x.metric(st, "time_to_first_token", stats.FirstToken.Seconds(), "s")
	x.metric(st, "weight_bytes", float64(e.WeightBytes()), "B")
	return nil
}

// reserveRows is the prompt chunk a generation's engine is built for
// (engine.Options.Batch), given the prompt's tokens, the KV cache's
// positions (0: the model's context) and the model's context: the engine
// is built for the prompt's prefill as one batch, as llama.cpp creates a
// context for its batch size, with its KV cache resident (the plan counts
// the whole cache) and the prompt's graph and buffers made then rather
// than within the prefill. A prompt of BOS alone has no prefill but still
// reserves one row when there is a cache, so that the cache's pages are
// touched at New and not by the decode steps that first write them: on
// the 2-vCPU VM a generation from BOS on a fresh engine paid about 8 page
// faults a token, and its steps ran 10-25% slower than the same engine's
// second generation and the plan's calibration
// (runtime/bench/stepcal_vs_run.sh). Without a cache and a prefill there
// is nothing to reserve (0).
func reserveRows(prompt, context, maxSeq int, kvCache bool) int {
	if prompt <= 1 && !kvCache {
		return 0
	}
	if context <= 0 || context > maxSeq {
		context = maxSeq
	}
	return max(min(prompt, context), 1)
}
