package arch

import (
	"slices"
	"strings"
)

// The built-in architectures, with the shapes of each model's published
// config.json (Hugging Face hub) or, for the TinyStories models, of
// llama2.c's training configurations. presets_test.go checks each total
// against the published parameter count.
var presets = []Config{
	{Name: "llama-2-7b", Family: Llama, Dim: 4096, HiddenDim: 11008, Layers: 32, Heads: 32, KVHeads: 32,
		Vocab: 32000, MaxSeq: 4096, RopeTheta: 10000, NormEps: 1e-5},
	{Name: "llama-2-13b", Family: Llama, Dim: 5120, HiddenDim: 13824, Layers: 40, Heads: 40, KVHeads: 40,
		Vocab: 32000, MaxSeq: 4096, RopeTheta: 10000, NormEps: 1e-5},
	{Name: "llama-2-70b", Family: Llama, Dim: 8192, HiddenDim: 28672, Layers: 80, Heads: 64, KVHeads: 8,
		Vocab: 32000, MaxSeq: 4096, RopeTheta: 10000, NormEps: 1e-5},
	{Name: "llama-3-8b", Family: Llama, Dim: 4096, HiddenDim: 14336, Layers: 32, Heads: 32, KVHeads: 8,
		Vocab: 128256, MaxSeq: 8192, RopeTheta: 500000, NormEps: 1e-5},
	{Name: "llama-3.1-8b", Family: Llama, Dim: 4096, HiddenDim: 14336, Layers: 32, Heads: 32, KVHeads: 8,
		Vocab: 128256, MaxSeq: 131072, RopeTheta: 500000, NormEps: 1e-5},
	{Name: "llama-3.1-70b", Family: Llama, Dim: 8192, HiddenDim: 28672, Layers: 80, Heads: 64, KVHeads: 8,
		Vocab: 128256, MaxSeq: 131072, RopeTheta: 500000, NormEps: 1e-5},
	{Name: "llama-3.2-1b", Family: Llama, Dim: 2048, HiddenDim: 8192, Layers: 16, Heads: 32, KVHeads: 8,
		Vocab: 128256, MaxSeq: 131072, RopeTheta: 500000, NormEps: 1e-5, Tied: true},
	{Name: "llama-3.2-3b", Family: Llama, Dim: 3072, HiddenDim: 8192, Layers: 28, Heads: 24, KVHeads: 8,
		Vocab: 128256, MaxSeq: 131072, RopeTheta: 500000, NormEps: 1e-5, Tied: true},
	{Name: "mistral-7b", Family: Llama, Dim: 4096, HiddenDim: 14336, Layers: 32, Heads: 32, KVHeads: 8,
		Vocab: 32000, MaxSeq: 32768, RopeTheta: 10000, NormEps: 1e-5},
	{Name: "qwen2.5-7b", Family: Llama, Dim: 3584, HiddenDim: 18944, Layers: 28, Heads: 28, KVHeads: 4,
		Vocab: 152064, MaxSeq: 131072, RopeTheta: 1e6, NormEps: 1e-6, QKVBias: true},
	{Name: "gemma-2b", Family: Gemma, Dim: 2048, HiddenDim: 16384, Layers: 18, Heads: 8, KVHeads: 1, HeadDim: 256,
		Vocab: 256000, MaxSeq: 8192, RopeTheta: 10000, NormEps: 1e-6, Tied: true},
	{Name: "gemma-7b", Family: Gemma, Dim: 3072, HiddenDim: 24576, Layers: 28, Heads: 16, KVHeads: 16, HeadDim: 256,
		Vocab: 256000, MaxSeq: 8192, RopeTheta: 10000, NormEps: 1e-6, Tied: true},
	{Name: "gemma3n-e2b", Family: Gemma, Dim: 2048, HiddenDim: 8192, Layers: 30, Heads: 8, KVHeads: 2, HeadDim: 256,
		Vocab: 262400, MaxSeq: 32768, RopeTheta: 1e6, NormEps: 1e-6, Tied: true,
		Approx: "Gemma 3n E2B is modelled as a plain Gemma decoder with its text shapes (2048 hidden, 8192 feed-forward, " +
			"30 layers, 8 heads, 2 KV heads of 256, 262,400 tokens); its per-layer embeddings (30×256 per token over a " +
			"262,144-token table, about 2.0B parameters that the reference implementation keeps off the accelerator), " +
			"AltUp, LAuReL, KV-cache sharing across the last 10 layers, sliding-window layers and the vision and audio " +
			"towers are not modelled, so weights are close to the published 'effective 2B' and the KV cache is an upper bound."},
	{Name: "phi-3-mini", Family: Phi3, Dim: 3072, HiddenDim: 8192, Layers: 32, Heads: 32, KVHeads: 32,
		Vocab: 32064, MaxSeq: 4096, RopeTheta: 10000, NormEps: 1e-5},
	{Name: "tinyllama-1.1b", Family: Llama, Dim: 2048, HiddenDim: 5632, Layers: 22, Heads: 32, KVHeads: 4,
		Vocab: 32000, MaxSeq: 2048, RopeTheta: 10000, NormEps: 1e-5},
	{Name: "stories260k", Family: Llama, Dim: 64, HiddenDim: 172, Layers: 5, Heads: 8, KVHeads: 4,
		Vocab: 512, MaxSeq: 512, RopeTheta: 10000, NormEps: 1e-5, Tied: true},
	{Name: "stories15m", Family: Llama, Dim: 288, HiddenDim: 768, Layers: 6, Heads: 6, KVHeads: 6,
		Vocab: 32000, MaxSeq: 256, RopeTheta: 10000, NormEps: 1e-5, Tied: true},
	{Name: "stories42m", Family: Llama, Dim: 512, HiddenDim: 1376, Layers: 8, Heads: 8, KVHeads: 8,
		Vocab: 32000, MaxSeq: 1024, RopeTheta: 10000, NormEps: 1e-5, Tied: true},
	{Name: "stories110m", Family: Llama, Dim: 768, HiddenDim: 2048, Layers: 12, Heads: 12, KVHeads: 12,
		Vocab: 32000, MaxSeq: 1024, RopeTheta: 10000, NormEps: 1e-5, Tied: true},
	{Name: "bert-large-uncased", Family: BERT, Dim: 1024, HiddenDim: 4096, Layers: 24, Heads: 16, KVHeads: 16,
		Vocab: 30522, MaxSeq: 512, NormEps: 1e-12, TypeVocab: 2, Pooler: true},
	{Name: "bert-base-uncased", Family: BERT, Dim: 768, HiddenDim: 3072, Layers: 12, Heads: 12, KVHeads: 12,
		Vocab: 30522, MaxSeq: 512, NormEps: 1e-12, TypeVocab: 2, Pooler: true},
}

// presetAliases maps other common spellings to preset names.
var presetAliases = map[string]string{
	"llama2-7b": "llama-2-7b", "llama2-13b": "llama-2-13b", "llama2-70b": "llama-2-70b",
	"llama-3-8b": "llama-3.1-8b", "llama3.1-8b": "llama-3.1-8b", "llama3.1-70b": "llama-3.1-70b",
	"llama3.2-1b": "llama-3.2-1b", "llama3.2-3b": "llama-3.2-3b",
	"mistral-7b-v0.1": "mistral-7b", "qwen2.5-7b-instruct": "qwen2.5-7b",
	"phi-3-mini-4k": "phi-3-mini", "tinyllama": "tinyllama-1.1b",
	"stories-260k": "stories260k", "stories-15m": "stories15m", "stories-42m": "stories42m", "stories-110m": "stories110m",
	"bert-large": "bert-large-uncased", "bert-base": "bert-base-uncased",
	"gemma-3n-e2b": "gemma3n-e2b",
}

// Preset returns the built-in architecture with the given name, compared
// case-insensitively. Hub and registry names work too: the part after the
// last slash is compared with punctuation removed, and the longest preset
// name it starts with wins ("meta-llama/Llama-2-7b-hf" is llama-2-7b,
// "TinyLlama/TinyLlama-1.1B-Chat-v1.0" tinyllama-1.1b, "llama3:8b"
// llama-3-8b). Fine-tunes of a base model share its architecture.
func Preset(name string) (Config, bool) {
	key := strings.ToLower(name)
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		key = key[i+1:]
	}
	key = strings.TrimPrefix(key, "hf:")
	key = strings.TrimSuffix(key, "-hf")
	if alias, ok := presetAliases[key]; ok {
		key = alias
	}
	for _, c := range presets {
		if c.Name == key {
			return c, true
		}
	}
	norm := normalize(key)
	norm = strings.TrimPrefix(norm, "meta")
	best := -1
	for i, c := range presets {
		n := normalize(c.Name)
		if strings.HasPrefix(norm, n) && (best < 0 || len(n) > len(normalize(presets[best].Name))) {
			best = i
		}
	}
	if best >= 0 {
		return presets[best], true
	}
	return Config{}, false
}

// normalize lower-cases s and drops everything but letters and digits.
func normalize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// PresetNames returns the names of the built-in architectures, sorted.
func PresetNames() []string {
	names := make([]string, len(presets))
	for i, c := range presets {
		names[i] = c.Name
	}
	slices.Sort(names)
	return names
}
