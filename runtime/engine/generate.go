package engine

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/modelwhisperer/whisperc/runtime/sample"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
)

// GenerateOptions say what to generate and where to write it.
type GenerateOptions struct {
	Prompt string
	// MaxTokens is the number of tokens to generate after the prompt; 0
	// means up to the context length. With an empty prompt it equals
	// llama2.c's -n (steps).
	MaxTokens int
	// IgnoreEOS keeps generating through BOS/EOS, so that exactly
	// MaxTokens tokens are produced (unless the context fills up).
	IgnoreEOS bool
	Sampler   *sample.Sampler
	// Out receives the generated text, piece by piece, then a final
	// newline, as llama2.c prints it.
	Out io.Writer
}

// Stats describe one generation.
type Stats struct {
	PromptTokens int           // prompt tokens, BOS included
	Generated    int           // tokens produced after the prompt
	Elapsed      time.Duration // wall time of the whole loop
	// FirstToken is the wall time from the start of the loop (prefill
	// included) until the first generated token was sampled.
	FirstToken time.Duration
}

// TokensPerSecond returns the forward passes per second of the loop.
func (s Stats) TokensPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.PromptTokens-1+s.Generated) / s.Elapsed.Seconds()
}

// Generate runs llama2.c's generation loop on e from its current state
// (normally after Reset): the prompt is encoded with BOS and processed as
// one batch (prefill), then tokens are sampled one position at a time. Each token after the first is written to Out
// as tok.Decode(prev, next) when tokenizer.Printable; generation stops at
// BOS or EOS unless IgnoreEOS, after MaxTokens, or at the context length;
// a newline ends the output.
func Generate(ctx context.Context, e *Engine, tok tokenizer.Tokenizer, o GenerateOptions) (Stats, error) {
	var st Stats
	if o.Sampler == nil || o.Out == nil {
		return st, fmt.Errorf("engine: Generate needs a Sampler and an Out writer")
	}
	if tok.VocabSize() > e.cfg.Vocab {
		return st, fmt.Errorf("engine: the tokenizer has %d tokens but the model only %d", tok.VocabSize(), e.cfg.Vocab)
	}
	prompt := tok.Encode(o.Prompt, true, false)
	st.PromptTokens = len(prompt)
	steps := e.opts.Context - e.pos
	if o.MaxTokens > 0 {
		steps = min(steps, len(prompt)-1+o.MaxTokens)
	}
	if len(prompt) > steps && o.MaxTokens == 0 {
		return st, fmt.Errorf("engine: the prompt has %d tokens, more than the %d positions left", len(prompt), steps)
	}
	start := time.Now()
	token := prompt[0]
	pos := 0
	var pending []float32 // logits already computed for position pos
	if n := min(len(prompt), steps); n > 1 {
		// Prefill: the forced prompt tokens go through the model as one
		// batch (matrix-matrix products over all of them); only the last
		// position's logits are needed.
		logits, err := e.Forward(ctx, prompt[:n])
		if err != nil {
			st.Elapsed = time.Since(start)
			return st, err
		}
		for i := 0; i < n-1; i++ {
			if piece := tok.Decode(prompt[i], prompt[i+1]); tokenizer.Printable(piece) {
				if _, err := o.Out.Write(piece); err != nil {
					return st, err
				}
			}
		}
		pos, token, pending = n-1, prompt[n-1], logits
		if e.opts.KVCache && n < steps {
			// The decode steps run a one-row graph, built here rather
			// than within the first of them (see Prepare).
			if err := e.Prepare(1); err != nil {
				st.Elapsed = time.Since(start)
				return st, err
			}
		}
	}
	defer e.HoldWorkers()()
	for ; pos < steps; pos++ {
		logits := pending
		pending = nil
		if logits == nil {
			var err error
			if logits, err = e.Forward(ctx, []int{token}); err != nil {
				st.Elapsed = time.Since(start)
				return st, err
			}
		}
		var next int
		if pos < len(prompt)-1 {
			next = prompt[pos+1]
		} else {
			next = o.Sampler.Sample(logits)
			st.Generated++
			if st.Generated == 1 {
				st.FirstToken = time.Since(start)
			}
			if !o.IgnoreEOS && (next == tok.BOS() || next == tok.EOS()) {
				break
			}
		}
		if piece := tok.Decode(token, next); tokenizer.Printable(piece) {
			if _, err := o.Out.Write(piece); err != nil {
				return st, err
			}
		}
		token = next
	}
	st.Elapsed = time.Since(start)
	_, err := io.WriteString(o.Out, "\n")
	return st, err
}
