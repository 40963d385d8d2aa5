package runtime

import (
	"context"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
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
	}
	return ""
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
	tok, err := format.OpenTokenizer(path, vocab)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > vocab {
		return nil, &vocabError{path: path, tok: tok.VocabSize(), model: vocab}
	}
	return tok, nil
}
