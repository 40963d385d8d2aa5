package runtime

import (
	"context"
	"fmt"
	"strings"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/format/safetensors"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// load opens a model's weights and tokenizer.
func (x *executor) load(_ context.Context, st *planner.Stage) *diag.Diagnostic {
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
