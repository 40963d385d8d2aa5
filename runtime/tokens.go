package runtime

import (
	"errors"
	"fmt"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/runtime/format"
)

var errNoTokenizer = errors.New("no tokenizer is given, and llama2.c checkpoints hold none")

// vocabError is a tokenizer with more tokens than the model has
// embeddings.
type vocabError struct {
	path       string
	tok, model int
}

func (e *vocabError) Error() string {
	return fmt.Sprintf("%s has %d tokens but the model only %d embeddings: it is another model's tokenizer", e.path, e.tok, e.model)
}

// PromptTokens returns the number of positions a prompt takes for model
// m: its tokens as m's own tokenizer encodes them, BOS included. The
// planner uses it (planner.Options.PromptTokens) to size the KV cache
// from the real prompt instead of an estimate; it reads the model's
// header and its tokenizer, not its weights.
func PromptTokens(m *compiler.Model, prompt string) (int, error) {
	sp := spec(m)
	if sp == "" {
		return 0, fmt.Errorf("model %s is not a local file", m.Name)
	}
	c, err := format.ReadConfig(sp)
	if err != nil {
		return 0, err
	}
	tok, err := openTokenizer(m, c.Vocab)
	if err != nil {
		return 0, err
	}
	return len(tok.Encode(prompt, true, false)), nil
}
