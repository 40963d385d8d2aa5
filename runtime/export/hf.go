package export

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/format/safetensors"
	"github.com/modelwhisperer/whisperc/runtime/serve"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// HFOptions say what ExportHF writes.
type HFOptions struct {
	// Dir is the directory to write; it is replaced as a whole.
	Dir string
	// Adapters, when not empty, are merged into the weights they name.
	Adapters map[string]*engine.Adapter
	// Template is the chat template for tokenizer_config.json (nil: none).
	Template *serve.ChatTemplate
}

// ExportHF writes ws as a Hugging Face Llama checkpoint directory, the
// layout transformers' LlamaForCausalLM.from_pretrained reads:
// config.json, model.safetensors (query and key rows in Hugging Face's
// order), tokenizer.json and tokenizer_config.json. Float tensors keep
// their type; block-quantised ones (a GGUF source) are decoded to F32,
// which safetensors holds. The directory appears whole or not at all: it
// is written beside its final path and renamed into place.
func ExportHF(ws *weights.Set, tok *tokenizer.BPE, o HFOptions) (Written, error) {
	src := ws
	if len(o.Adapters) > 0 {
		var err error
		if src, err = Merge(ws, o.Adapters); err != nil {
			return Written{}, err
		}
	}
	floats := &weights.Set{Config: src.Config, Tensors: map[string]*weights.Tensor{}, Source: src.Source}
	for name, t := range src.Tensors {
		switch t.DType {
		case weights.F32, weights.F16, weights.BF16:
			floats.Tensors[name] = t
		default:
			v, err := quant.Dequantize(t)
			if err != nil {
				return Written{}, fmt.Errorf("export: %s: %w", name, err)
			}
			floats.Tensors[name] = &weights.Tensor{Name: t.Name, Shape: t.Shape, DType: weights.F32, Data: f32Bytes(v)}
		}
	}
	tj, err := tokenizer.HFTokenizerJSON(tok)
	if err != nil {
		return Written{}, fmt.Errorf("export: %w", err)
	}
	tc := map[string]any{
		"bos_token": piece(tok, tok.BOS()), "eos_token": piece(tok, tok.EOS()),
		"add_bos_token": true, "add_eos_token": false,
		"model_max_length": src.Config.MaxSeq,
		"tokenizer_class":  "LlamaTokenizerFast",
	}
	if o.Template != nil {
		tc["chat_template"] = o.Template.Jinja
	}
	tcj, err := json.MarshalIndent(tc, "", "  ")
	if err != nil {
		return Written{}, err
	}
	parent := filepath.Dir(o.Dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return Written{}, fmt.Errorf("export: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+filepath.Base(o.Dir))
	if err != nil {
		return Written{}, fmt.Errorf("export: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := safetensors.WriteHF(tmp, floats, 1); err != nil {
		return Written{}, fmt.Errorf("export: %w", err)
	}
	for name, data := range map[string][]byte{"tokenizer.json": tj, "tokenizer_config.json": tcj} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return Written{}, fmt.Errorf("export: %w", err)
		}
	}
	// Swap the new directory in: the old one (if any) moves aside first,
	// and is removed once the new one is in place.
	old := ""
	if _, err := os.Stat(o.Dir); err == nil {
		old = tmp + ".old"
		if err := os.Rename(o.Dir, old); err != nil {
			return Written{}, fmt.Errorf("export: %w", err)
		}
	}
	if err := os.Rename(tmp, o.Dir); err != nil {
		if old != "" {
			_ = os.Rename(old, o.Dir)
		}
		return Written{}, fmt.Errorf("export: %w", err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return Written{Model: o.Dir}, nil
}

// piece returns token id's text as the vocabulary spells it.
func piece(tok *tokenizer.BPE, id int) string {
	v := tokenizer.GGUFVocab(tok)
	if id >= 0 && id < len(v.Tokens) {
		return v.Tokens[id]
	}
	return ""
}
