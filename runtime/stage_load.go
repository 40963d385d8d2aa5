package runtime

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/format"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
)

// spec returns the runtime/format model spec of a model's source, or ""
// when the runtime cannot open it from disk.
func spec(m *compiler.Model) string {
	switch m.Source.Scheme {
	case compiler.SchemeLlama2C:
		return "llama2c:" + m.Source.Path
	case compiler.SchemeGGUF:
		return "gguf:" + m.Source.Path
	case compiler.SchemeSafetensors:
		return "safetensors:" + m.Source.Path
	case compiler.SchemeOllama:
		if blob, err := ollamaModel(m.Source.Ref); err == nil {
			return "gguf:" + blob
		}
	}
	return ""
}

// ollamaModel resolves an Ollama reference in the local store
// ($OLLAMA_MODELS or ~/.ollama/models) to its GGUF blob. Adapter layers
// are refused: the runtime does not apply them yet.
func ollamaModel(ref string) (string, error) {
	root, err := arch.OllamaRoot()
	if err != nil {
		return "", err
	}
	om, err := arch.ResolveOllama(root, ref)
	if err != nil {
		return "", err
	}
	if len(om.Adapters) > 0 {
		return "", fmt.Errorf("%s has %d ADAPTER layers, which the runtime does not apply yet; create the Ollama model from a merged export", om.Manifest, len(om.Adapters))
	}
	return om.Model, nil
}

// load opens a model's weights and tokenizer with runtime/format, the one
// model loader: a named tokenizer file, or the model's own (a GGUF
// vocabulary, a safetensors checkpoint's tokenizer.json).
func (x *executor) load(_ context.Context, st *planner.Stage) *diag.Diagnostic {
	m := x.prog.Model(st.Model)
	if m == nil {
		return x.errorf(st, "E500", "Internal runtime error", "The plan loads model %q, which the program does not declare. Plan again.", st.Model)
	}
	sp := spec(m)
	if m.Source.Scheme == compiler.SchemeOllama && sp == "" {
		_, err := ollamaModel(m.Source.Ref)
		return x.errorf(st, "E501", "Model cannot be loaded",
			"Model %q comes from the Ollama store, which does not provide it: %v. Pull or create it with ollama, or set OLLAMA_MODELS to the store that has it.", m.Name, err)
	}
	if sp == "" {
		return x.errorf(st, "E501", "Model cannot be loaded",
			"Model %q comes from %q, which the runtime cannot open from disk. Use a llama2c:, gguf: or safetensors: source naming a local file (download hub models first).", m.Name, m.Source.Raw)
	}
	x.s.progress("loading %s from %s", m.Name, m.Source.Path)
	defer x.s.progressDone()
	ws, err := format.OpenWeights(sp)
	if err != nil {
		return x.errorf(st, "E501", "Model cannot be loaded",
			"Loading model %q failed: %v. Check that the source names a readable %s file.", m.Name, err, m.Source.Scheme)
	}
	tok, err := openTokenizer(m, ws.Config.Vocab)
	if err != nil {
		if ws.Close != nil {
			ws.Close()
		}
		return x.errorf(st, "E502", "Tokenizer cannot be loaded",
			"Model %q: %v. Set tokenizer to the model's tokenizer file (llama2.c tokenizer.bin, tokenizer.json, or a .gguf holding the vocabulary).", m.Name, err)
	}
	x.models[m.Name] = &loaded{ws: ws, tok: tok}
	return nil
}

// openTokenizer opens m's tokenizer for a model of vocab tokens: the named
// file, else the model's own (format.Open's rule).
func openTokenizer(m *compiler.Model, vocab int) (tokenizer.Tokenizer, error) {
	path := m.Tokenizer
	if path == "" {
		path = format.TokenizerOf(spec(m))
	}
	if path == "" {
		return nil, errNoTokenizer
	}
	tok, err := lastTokenizer.open(path, vocab)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > vocab {
		return nil, &vocabError{path: path, tok: tok.VocabSize(), model: vocab}
	}
	return tok, nil
}

// tokenizerMemo keeps the last tokenizer opened, so that a run that plans
// and then loads (planning counts the prompt's tokens) reads and builds a
// 32,000-piece vocabulary once, not twice. Tokenizers are immutable once
// built, so sharing one is safe. The file's size and modification time are
// part of the key: a changed file is read again.
type tokenizerMemo struct {
	mu    sync.Mutex
	key   tokenizerKey
	tok   tokenizer.Tokenizer
	valid bool
}

type tokenizerKey struct {
	path  string
	vocab int
	size  int64
	mtime int64
}

var lastTokenizer tokenizerMemo

// open returns format.OpenTokenizer(path, vocab), from the memo when the
// same file was the last one opened.
func (m *tokenizerMemo) open(path string, vocab int) (tokenizer.Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return format.OpenTokenizer(path, vocab)
	}
	key := tokenizerKey{path: path, vocab: vocab, size: st.Size(), mtime: st.ModTime().UnixNano()}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.valid && m.key == key {
		return m.tok, nil
	}
	tok, err := format.OpenTokenizer(path, vocab)
	if err != nil {
		return nil, err
	}
	m.key, m.tok, m.valid = key, tok, true
	return tok, nil
}
