package gguf

import (
	"fmt"
	"strconv"
	"strings"
)

// globalNames maps llama.cpp's names of whole-model tensors to canonical
// names.
var globalNames = map[string]string{
	"token_embd.weight":  "tok_embeddings.weight",
	"output_norm.weight": "norm.weight",
	"output.weight":      "output.weight",
}

// layerNames maps llama.cpp's per-block tensor suffixes to canonical ones.
var layerNames = map[string]string{
	"attn_norm.weight":   "attention_norm.weight",
	"attn_q.weight":      "attention.wq.weight",
	"attn_k.weight":      "attention.wk.weight",
	"attn_v.weight":      "attention.wv.weight",
	"attn_output.weight": "attention.wo.weight",
	"ffn_norm.weight":    "ffn_norm.weight",
	"ffn_gate.weight":    "feed_forward.w1.weight",
	"ffn_down.weight":    "feed_forward.w2.weight",
	"ffn_up.weight":      "feed_forward.w3.weight",
}

// ignoredNames are tensors llama.cpp files may carry that whisperc
// recomputes (rotary frequency factors of Llama 3.1 style scaling).
var ignoredNames = map[string]bool{"rope_freqs.weight": true}

// CanonicalName maps a llama.cpp tensor name ("blk.3.attn_q.weight") to the
// canonical name ("layers.3.attention.wq.weight"). It reports an error for
// names it does not know and for block numbers not below layers.
func CanonicalName(name string, layers int) (string, error) {
	if c, ok := globalNames[name]; ok {
		return c, nil
	}
	if rest, ok := strings.CutPrefix(name, "blk."); ok {
		num, suffix, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if err == nil && n >= 0 && n < layers && strconv.Itoa(n) == num {
			if c, ok := layerNames[suffix]; ok {
				return "layers." + num + "." + c, nil
			}
		} else if err == nil {
			return "", fmt.Errorf("tensor %q names block %s, but the model has %d blocks", name, num, layers)
		}
	}
	return "", fmt.Errorf("tensor %q has no canonical name; whisperc reads the tensors of llama-architecture files", name)
}

// GGUFName maps a canonical tensor name to llama.cpp's name.
func GGUFName(canonical string) (string, error) {
	for g, c := range globalNames {
		if c == canonical {
			return g, nil
		}
	}
	if rest, ok := strings.CutPrefix(canonical, "layers."); ok {
		num, suffix, _ := strings.Cut(rest, ".")
		for g, c := range layerNames {
			if c == suffix {
				return "blk." + num + "." + g, nil
			}
		}
	}
	return "", fmt.Errorf("tensor %q has no GGUF name", canonical)
}
