package arch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// hfConfig holds the config.json fields FromHFConfig reads. Pointers tell
// absent fields from zero ones.
type hfConfig struct {
	ModelType         string   `json:"model_type"`
	Architectures     []string `json:"architectures"`
	NameOrPath        string   `json:"_name_or_path"`
	HiddenSize        *float64 `json:"hidden_size"`
	IntermediateSize  *float64 `json:"intermediate_size"`
	NumHiddenLayers   *float64 `json:"num_hidden_layers"`
	NumAttentionHeads *float64 `json:"num_attention_heads"`
	NumKeyValueHeads  *float64 `json:"num_key_value_heads"`
	HeadDim           *float64 `json:"head_dim"`
	VocabSize         *float64 `json:"vocab_size"`
	MaxPosition       *float64 `json:"max_position_embeddings"`
	RopeTheta         *float64 `json:"rope_theta"`
	RMSNormEps        *float64 `json:"rms_norm_eps"`
	LayerNormEps      *float64 `json:"layer_norm_eps"`
	TieWordEmbeddings *bool    `json:"tie_word_embeddings"`
	TypeVocabSize     *float64 `json:"type_vocab_size"`
}

// FromHFConfig returns the architecture described by a Hugging Face
// config.json. It understands the model types llama, mistral and qwen2
// (family Llama), gemma and gemma2 (Gemma), phi3 (Phi3) and bert (BERT),
// with the transformers library's defaults for absent optional fields.
func FromHFConfig(data []byte) (Config, error) {
	var h hfConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&h); err != nil {
		return Config{}, fmt.Errorf("config.json: %w", err)
	}
	c := Config{Name: h.NameOrPath, RopeTheta: 10000, NormEps: 1e-6}
	switch h.ModelType {
	case "llama", "mistral":
		c.Family = Llama
	case "qwen2":
		c.Family, c.QKVBias = Llama, true
	case "gemma", "gemma2":
		c.Family, c.Tied = Gemma, true
	case "phi3":
		c.Family, c.NormEps = Phi3, 1e-5
	case "bert":
		c.Family, c.NormEps, c.RopeTheta, c.TypeVocab = BERT, 1e-12, 0, 2
		c.Pooler = !slices.ContainsFunc(h.Architectures, func(a string) bool { return a == "BertForMaskedLM" })
	case "":
		return Config{}, fmt.Errorf("config.json: model_type is missing")
	default:
		return Config{}, fmt.Errorf("config.json: model_type %q is not supported (llama, mistral, qwen2, gemma, gemma2, phi3, bert)", h.ModelType)
	}
	if c.Name == "" {
		c.Name = h.ModelType
	}
	ints := []struct {
		key      string
		v        *float64
		dst      *int
		required bool
		max      int
	}{
		{"hidden_size", h.HiddenSize, &c.Dim, true, maxDim},
		{"intermediate_size", h.IntermediateSize, &c.HiddenDim, true, 4 * maxDim},
		{"num_hidden_layers", h.NumHiddenLayers, &c.Layers, true, maxLayers},
		{"num_attention_heads", h.NumAttentionHeads, &c.Heads, true, maxDim},
		{"num_key_value_heads", h.NumKeyValueHeads, &c.KVHeads, false, maxDim},
		{"head_dim", h.HeadDim, &c.HeadDim, false, maxDim},
		{"vocab_size", h.VocabSize, &c.Vocab, true, maxVocab},
		{"max_position_embeddings", h.MaxPosition, &c.MaxSeq, false, maxSeq},
		{"type_vocab_size", h.TypeVocabSize, &c.TypeVocab, false, maxVocab},
	}
	for _, f := range ints {
		if f.v == nil {
			if f.required {
				return Config{}, fmt.Errorf("config.json: %s is missing", f.key)
			}
			continue
		}
		if *f.v != math.Trunc(*f.v) || *f.v < 1 || *f.v > float64(f.max) {
			return Config{}, fmt.Errorf("config.json: %s is %v, want a whole number in 1..%d", f.key, *f.v, f.max)
		}
		*f.dst = int(*f.v)
	}
	for _, f := range []struct {
		key string
		v   *float64
		dst *float64
	}{{"rope_theta", h.RopeTheta, &c.RopeTheta}, {"rms_norm_eps", h.RMSNormEps, &c.NormEps}, {"layer_norm_eps", h.LayerNormEps, &c.NormEps}} {
		if f.v != nil {
			if !(*f.v > 0) {
				return Config{}, fmt.Errorf("config.json: %s is %v, want a positive number", f.key, *f.v)
			}
			*f.dst = *f.v
		}
	}
	if h.TieWordEmbeddings != nil {
		c.Tied = *h.TieWordEmbeddings
	}
	if c.KVHeads == 0 {
		c.KVHeads = c.Heads
	}
	if c.HeadDim*c.Heads == c.Dim {
		c.HeadDim = 0 // the usual Dim/Heads, left implicit as in the presets
	}
	if c.Heads%c.KVHeads != 0 {
		return Config{}, fmt.Errorf("config.json: num_attention_heads %d is not a multiple of num_key_value_heads %d", c.Heads, c.KVHeads)
	}
	if c.HeadDim == 0 && c.Dim%c.Heads != 0 {
		return Config{}, fmt.Errorf("config.json: hidden_size %d is not a multiple of num_attention_heads %d", c.Dim, c.Heads)
	}
	if c.Family != BERT && c.HeadSize()%2 != 0 {
		return Config{}, fmt.Errorf("config.json: head size %d is odd, rotary embeddings need pairs", c.HeadSize())
	}
	return c, nil
}
