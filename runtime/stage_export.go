package runtime

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/export"
	"github.com/modelwhisperer/whisperc/runtime/observe"
	"github.com/modelwhisperer/whisperc/runtime/serve"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// export writes the stage's model as a GGUF file (with a fine-tune's LoRA
// adapters merged, or beside it as a GGUF adapter) and an Ollama Modelfile.
func (x *executor) export(_ context.Context, st *planner.Stage) *diag.Diagnostic {
	var e *compiler.Export
	for _, cand := range x.prog.Exports {
		if cand.Name == st.Decl {
			e = cand
		}
	}
	m, ok := x.models[st.Model]
	if e == nil || !ok {
		return x.errorf(st, "E500", "Internal runtime error", "Stage %s has no export declaration or loaded model. Plan again.", st.ID)
	}
	hf := e.Format == compiler.ExportSafetensors || e.Format == compiler.ExportMerged
	if !hf && e.Format != compiler.ExportGGUF {
		return x.errorf(st, "E500", "Internal runtime error", "Export %q has format %s, which the runtime does not know. Plan again.", e.Name, e.Format)
	}
	if hf && e.Quantize != compiler.ExportQuantNone {
		return x.errorf(st, "E505", "Export quantisation cannot be written yet",
			"Export %q asks for format = %s with quantize = %s; safetensors exports keep the weights' float types. Drop quantize, or set format = gguf.", e.Name, e.Format, e.Quantize)
	}
	dtype := map[compiler.ExportQuant]weights.DType{compiler.ExportQuantNone: weights.F32, compiler.ExportQuantF16: weights.F16,
		compiler.ExportQuantQ8_0: weights.Q8_0, compiler.ExportQuantQ4_0: weights.Q4_0, compiler.ExportQuantQ4_K_M: weights.Q4_K}[e.Quantize]
	if dtype == weights.DTypeInvalid {
		return x.errorf(st, "E505", "Export quantisation cannot be written yet",
			"Export %q asks for quantize = %s; this runtime writes none (f32), f16, q8_0, q4_0 and q4_k_m.", e.Name, e.Quantize)
	}
	bpe, ok := m.tok.(*tokenizer.BPE)
	if !ok {
		return x.errorf(st, "E505", "Tokenizer cannot be exported",
			"Model %q's tokenizer is not a SentencePiece-style vocabulary, which is what the GGUF export embeds so far.", st.Model)
	}
	tmpl, err := x.chatTemplate(e.Model.Base(), e.ChatTemplate)
	if err != nil {
		return x.errorf(st, "E505", "Chat template cannot be used", "%v.", err)
	}
	ws := m.ws
	var adapters map[string]*engine.Adapter
	if e.Model.Finetune != nil {
		tr, d := x.tunedOutput(st, e.Model, m)
		if d != nil {
			return d
		}
		if tr.ws != nil {
			ws = tr.ws
		}
		adapters = tr.adapters
	}
	if hf {
		return x.exportHF(st, e, ws, bpe, adapters, tmpl)
	}
	o := export.Options{Path: e.Path, Name: e.Model.Decl().Name, DType: dtype, Adapters: adapters, Merge: e.Merge,
		Modelfile: e.Modelfile, System: e.System, Template: tmpl}
	x.s.progress("exporting %s to %s", o.Name, e.Path)
	w, err := export.Export(ws, tokenizer.GGUFVocab(bpe), o)
	x.s.progressDone()
	if err != nil {
		return x.errorf(st, "E506", "Export failed", "Stage %s: %v.", st.ID, err)
	}
	for _, f := range []struct {
		path string
		kind observe.OutputKind
	}{{w.Model, observe.OutputModel}, {w.Adapter, observe.OutputAdapter}, {w.Modelfile, observe.OutputOther}} {
		if f.path == "" {
			continue
		}
		info, err := os.Stat(f.path)
		if err != nil {
			return x.errorf(st, "E506", "Export failed", "Stage %s: %v.", st.ID, err)
		}
		x.obs.Output(observe.Output{Stage: st.ID, Kind: f.kind, Path: f.path, Bytes: info.Size(), Time: time.Now()})
		fmt.Fprintf(x.s.Stderr, "exported %s (%s)\n", f.path, formatBytes(info.Size()))
	}
	return nil
}

// exportHF writes a safetensors export: a Hugging Face checkpoint
// directory of the model, a full fine-tune's weights, or (format =
// merged) a LoRA fine-tune's adapters merged into the base. A LoRA
// fine-tune's adapter alone (format = safetensors) is already written in
// PEFT's layout by the training stage, which the refusal points at.
func (x *executor) exportHF(st *planner.Stage, e *compiler.Export, ws *weights.Set, bpe *tokenizer.BPE, adapters map[string]*engine.Adapter, tmpl *serve.ChatTemplate) *diag.Diagnostic {
	if len(adapters) > 0 && e.Format == compiler.ExportSafetensors {
		return x.errorf(st, "E505", "Export would copy the training output",
			"Export %q asks for a LoRA fine-tune's adapter alone in safetensors, which the fine-tune's output directory (%q) already holds in PEFT's layout (adapter_config.json, adapter_model.safetensors). Set format = merged for the base with the adapters merged, or gguf for llama.cpp.", e.Name, e.Model.Finetune.Output)
	}
	x.s.progress("exporting %s to %s", e.Model.Decl().Name, e.Path)
	w, err := export.ExportHF(ws, bpe, export.HFOptions{Dir: e.Path, Adapters: adapters, Template: tmpl})
	x.s.progressDone()
	if err != nil {
		return x.errorf(st, "E506", "Export failed", "Stage %s: %v.", st.ID, err)
	}
	var size int64
	entries, _ := os.ReadDir(w.Model)
	for _, en := range entries {
		if info, err := en.Info(); err == nil {
			size += info.Size()
		}
	}
	x.obs.Output(observe.Output{Stage: st.ID, Kind: observe.OutputModel, Path: w.Model, Bytes: size, Time: time.Now()})
	fmt.Fprintf(x.s.Stderr, "exported %s (%s, Hugging Face layout)\n", w.Model, formatBytes(size))
	return nil
}
