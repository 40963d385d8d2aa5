package arch

import (
	"strings"
	"testing"

	gguf "github.com/gpustack/gguf-parser-go"
)

func ggufHeader(kvs map[string]any, tensors ...gguf.GGUFTensorInfo) *gguf.GGUFFile {
	gf := &gguf.GGUFFile{TensorInfos: tensors}
	for k, v := range kvs {
		kv := gguf.GGUFMetadataKV{Key: k, Value: v}
		switch v.(type) {
		case string:
			kv.ValueType = gguf.GGUFMetadataValueTypeString
		case uint32:
			kv.ValueType = gguf.GGUFMetadataValueTypeUint32
		case float32:
			kv.ValueType = gguf.GGUFMetadataValueTypeFloat32
		case gguf.GGUFMetadataKVArrayValue:
			kv.ValueType = gguf.GGUFMetadataValueTypeArray
		}
		gf.Header.MetadataKV = append(gf.Header.MetadataKV, kv)
	}
	return gf
}

func llamaKVs() map[string]any {
	return map[string]any{
		"general.architecture":                   "llama",
		"general.name":                           "TinyLlama",
		"llama.embedding_length":                 uint32(2048),
		"llama.feed_forward_length":              uint32(5632),
		"llama.block_count":                      uint32(22),
		"llama.attention.head_count":             uint32(32),
		"llama.attention.head_count_kv":          uint32(4),
		"llama.context_length":                   uint32(2048),
		"llama.rope.freq_base":                   float32(10000),
		"llama.attention.layer_norm_rms_epsilon": float32(1e-5),
		"tokenizer.ggml.tokens":                  gguf.GGUFMetadataKVArrayValue{Type: gguf.GGUFMetadataValueTypeString, Len: 32000},
	}
}

func TestFromGGUFFile(t *testing.T) {
	c, err := FromGGUFFile(ggufHeader(llamaKVs(), gguf.GGUFTensorInfo{Name: "output.weight"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Name: "TinyLlama", Family: Llama, Dim: 2048, HiddenDim: 5632, Layers: 22, Heads: 32, KVHeads: 4, Vocab: 32000, MaxSeq: 2048, RopeTheta: 10000, NormEps: 1e-5}
	if c != want {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	kvs := llamaKVs()
	delete(kvs, "tokenizer.ggml.tokens")
	c, err = FromGGUFFile(ggufHeader(kvs, gguf.GGUFTensorInfo{Name: "token_embd.weight", Dimensions: []uint64{2048, 32003}}))
	if err != nil || c.Vocab != 32003 || !c.Tied {
		t.Errorf("vocab from the embedding, tied: %+v %v", c, err)
	}
}

func TestFromGGUFFileOtherArchitectures(t *testing.T) {
	kvs := map[string]any{
		"general.architecture":                   "qwen2",
		"qwen2.embedding_length":                 uint32(896),
		"qwen2.feed_forward_length":              uint32(4864),
		"qwen2.block_count":                      uint32(24),
		"qwen2.attention.head_count":             uint32(14),
		"qwen2.attention.head_count_kv":          uint32(2),
		"qwen2.rope.freq_base":                   float32(1e6),
		"qwen2.vocab_size":                       uint32(151936),
		"qwen2.attention.layer_norm_rms_epsilon": float32(1e-6),
	}
	c, err := FromGGUFFile(ggufHeader(kvs))
	if err != nil || c.Family != Llama || !c.QKVBias || c.RopeTheta != 1e6 || c.NormEps != 1e-6 || !c.Tied {
		t.Errorf("qwen2: %+v %v", c, err)
	}
	gemma := map[string]any{
		"general.architecture":          "gemma",
		"gemma.embedding_length":        uint32(2048),
		"gemma.feed_forward_length":     uint32(16384),
		"gemma.block_count":             uint32(18),
		"gemma.attention.head_count":    uint32(8),
		"gemma.attention.head_count_kv": uint32(1),
		"gemma.attention.key_length":    uint32(256),
		"gemma.vocab_size":              uint32(256000),
	}
	c, err = FromGGUFFile(ggufHeader(gemma))
	if err != nil || c.Family != Gemma || c.HeadSize() != 256 {
		t.Errorf("gemma: %+v %v", c, err)
	}
	if p, ok := Preset("gemma-2b"); ok && (p.HeadSize() != c.HeadSize() || p.KVHeads != c.KVHeads || p.HiddenDim != c.HiddenDim) {
		t.Errorf("gemma GGUF metadata disagrees with the gemma-2b preset: %+v vs %+v", c, p)
	}
}

func TestFromGGUFFileErrors(t *testing.T) {
	for _, c := range []struct {
		key  string
		val  any
		want string
	}{
		{"general.architecture", "gpt2", `"gpt2" is not supported`},
		{"llama.attention.head_count", nil, "head_count is missing"},
		{"general.architecture", nil, "general.architecture is missing"},
		{"llama.block_count", nil, "block_count is missing"},
		{"llama.block_count", "x", "want a number"},
		{"llama.embedding_length", uint32(1 << 31), "embedding_length is 2.147483648e+09"},
		{"llama.attention.head_count_kv", uint32(5), "not a multiple"},
		{"llama.rope.freq_base", float32(-1), "want a positive number"},
		{"tokenizer.ggml.tokens", nil, "vocabulary size is unknown"},
	} {
		kvs := llamaKVs()
		if c.val == nil {
			delete(kvs, c.key)
		} else {
			kvs[c.key] = c.val
		}
		if _, err := FromGGUFFile(ggufHeader(kvs)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%v: error %v, want %q", c.key, c.val, err, c.want)
		}
	}
}
