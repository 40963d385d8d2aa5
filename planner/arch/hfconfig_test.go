package arch

import (
	"strings"
	"testing"
)

func TestFromHFConfigLlama(t *testing.T) {
	// TinyLlama-1.1B's published config.json (abridged to the fields read).
	src := `{"architectures":["LlamaForCausalLM"],"hidden_size":2048,"intermediate_size":5632,
	"max_position_embeddings":2048,"model_type":"llama","num_attention_heads":32,"num_hidden_layers":22,
	"num_key_value_heads":4,"rms_norm_eps":1e-05,"rope_theta":10000.0,"tie_word_embeddings":false,"vocab_size":32000}`
	c, err := FromHFConfig([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Name: "llama", Family: Llama, Dim: 2048, HiddenDim: 5632, Layers: 22, Heads: 32, KVHeads: 4, Vocab: 32000, MaxSeq: 2048, RopeTheta: 10000, NormEps: 1e-5}
	if c != want {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	if p, ok := Preset("tinyllama-1.1b"); ok && (p.Dim != c.Dim || p.HiddenDim != c.HiddenDim || p.KVHeads != c.KVHeads || p.Layers != c.Layers) {
		t.Errorf("config.json disagrees with the tinyllama preset: %+v vs %+v", c, p)
	}
}

func TestFromHFConfigFamilies(t *testing.T) {
	gemma := `{"model_type":"gemma","hidden_size":2048,"intermediate_size":16384,"num_hidden_layers":18,"num_attention_heads":8,"num_key_value_heads":1,"head_dim":256,"vocab_size":256000}`
	c, err := FromHFConfig([]byte(gemma))
	if err != nil || c.Family != Gemma || !c.Tied || c.HeadSize() != 256 {
		t.Errorf("gemma: %+v %v", c, err)
	}
	qwen := `{"model_type":"qwen2","hidden_size":896,"intermediate_size":4864,"num_hidden_layers":24,"num_attention_heads":14,"num_key_value_heads":2,"vocab_size":151936,"rope_theta":1000000.0}`
	c, err = FromHFConfig([]byte(qwen))
	if err != nil || !c.QKVBias || c.RopeTheta != 1e6 || c.KVHeads != 2 {
		t.Errorf("qwen2: %+v %v", c, err)
	}
	bert := `{"model_type":"bert","architectures":["BertForMaskedLM"],"hidden_size":768,"intermediate_size":3072,"num_hidden_layers":12,"num_attention_heads":12,"vocab_size":30522,"type_vocab_size":2,"layer_norm_eps":1e-12,"max_position_embeddings":512}`
	c, err = FromHFConfig([]byte(bert))
	if err != nil || c.Family != BERT || c.Pooler || c.TypeVocab != 2 || c.NormEps != 1e-12 {
		t.Errorf("bert: %+v %v", c, err)
	}
}

func TestFromHFConfigErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`{`, "config.json"},
		{`{"model_type":"gpt2"}`, `"gpt2" is not supported`},
		{`{"model_type":"llama","hidden_size":64}`, "intermediate_size is missing"},
		{`{"model_type":"llama","hidden_size":2147483648,"intermediate_size":1,"num_hidden_layers":1,"num_attention_heads":1,"vocab_size":1}`, "hidden_size is 2.147483648e+09"},
		{`{"model_type":"llama","hidden_size":64,"intermediate_size":1,"num_hidden_layers":-2,"num_attention_heads":1,"vocab_size":1}`, "num_hidden_layers is -2"},
		{`{"model_type":"llama","hidden_size":64,"intermediate_size":1,"num_hidden_layers":2.5,"num_attention_heads":1,"vocab_size":1}`, "num_hidden_layers is 2.5"},
		{`{"model_type":"llama","hidden_size":64,"intermediate_size":1,"num_hidden_layers":2,"num_attention_heads":8,"num_key_value_heads":3,"vocab_size":1}`, "not a multiple"},
		{`{"model_type":"llama","hidden_size":"64"}`, "config.json"},
	} {
		if _, err := FromHFConfig([]byte(c.src)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.src, err, c.want)
		}
	}
}

func FuzzFromHFConfig(f *testing.F) {
	f.Add([]byte(`{"model_type":"llama","hidden_size":64,"intermediate_size":172,"num_hidden_layers":5,"num_attention_heads":8,"num_key_value_heads":4,"vocab_size":512}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := FromHFConfig(data)
		if err == nil && (c.Dim <= 0 || c.Heads <= 0 || c.KVHeads <= 0 || c.Heads%c.KVHeads != 0) {
			t.Fatalf("accepted inconsistent config %+v", c)
		}
	})
}
