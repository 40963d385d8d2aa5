package arch

import (
	"os"
	"testing"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
)

// publishedParams are the parameter totals published for each model: the
// sums of the tensor sizes in the released checkpoints (Hugging Face
// safetensors metadata), the counts PyTorch printed for the randomly
// initialised models of planner/testdata/measured (Llama-2-7B, TinyLlama),
// and BERT's BertModel (with pooler) totals.
var publishedParams = map[string]int64{
	"llama-2-7b":         6_738_415_616,
	"llama-2-13b":        13_015_864_320,
	"llama-2-70b":        68_976_648_192,
	"llama-3.1-8b":       8_030_261_248,
	"llama-3-8b":         8_030_261_248,
	"llama-3.1-70b":      70_553_706_496,
	"llama-3.2-1b":       1_235_814_400,
	"llama-3.2-3b":       3_212_749_824,
	"mistral-7b":         7_241_732_096,
	"qwen2.5-7b":         7_615_616_512,
	"gemma-2b":           2_506_172_416,
	"gemma-7b":           8_537_680_896,
	"phi-3-mini":         3_821_079_552,
	"tinyllama-1.1b":     1_100_048_384,
	"bert-large-uncased": 335_141_888,
	"bert-base-uncased":  109_482_240,
	// llama2.c checkpoints: (file size − 28-byte header)/4 − the rotary
	// tables the legacy format stores (seq_len × head_size floats).
	"stories15m": (60_816_028-28)/4 - 256*48,
}

func TestPresetParamsMatchPublishedTotals(t *testing.T) {
	for name, want := range publishedParams {
		c, ok := Preset(name)
		if !ok {
			t.Errorf("preset %q missing", name)
			continue
		}
		if got := c.Params(); got != want {
			t.Errorf("%s: %d parameters, published %d (off by %d)", name, got, want, got-want)
		}
	}
}

// TestNominalSizes checks the presets whose totals are published only to
// two digits against their nominal size.
func TestNominalSizes(t *testing.T) {
	for name, nominal := range map[string]float64{"stories42m": 42e6, "stories110m": 110e6, "stories260k": 260e3} {
		c, _ := Preset(name)
		got := float64(c.Params())
		if got < nominal*0.97 || got > nominal*1.03 {
			t.Errorf("%s: %.0f parameters, nominal %.0f", name, got, nominal)
		}
	}
	// Qwen2.5-7B's model card: 6.53B non-embedding parameters.
	q, _ := Preset("qwen2.5-7b")
	if n := q.NonEmbeddingParams(); n < 6.525e9 || n >= 6.535e9 {
		t.Errorf("qwen2.5-7b: %d non-embedding parameters, the model card says 6.53B", n)
	}
}

// TestStories260KFileSize derives the parameter count from the real
// checkpoint's size.
func TestStories260KFileSize(t *testing.T) {
	path := testmodels.Path(t, "stories260K.bin")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := Preset("stories260k")
	rope := int64(c.MaxSeq * c.HeadSize())
	if got, want := c.Params(), (st.Size()-28)/4-rope; got != want {
		t.Errorf("stories260k: %d parameters, the file holds %d", got, want)
	}
}

func TestModulesPerFamily(t *testing.T) {
	l, _ := Preset("llama-2-7b")
	q, ok := l.Module("q_proj")
	if !ok || q.In != 4096 || q.Out != 4096 || q.Count != 32 {
		t.Errorf("llama-2-7b q_proj = %+v", q)
	}
	k, _ := Preset("llama-3.1-8b")
	if m, _ := k.Module("k_proj"); m.Out != 1024 {
		t.Errorf("llama-3.1-8b k_proj out = %d, want 8 kv heads × 128 = 1024", m.Out)
	}
	b, _ := Preset("bert-base")
	if _, ok := b.Module("gate_proj"); ok {
		t.Error("BERT has no gate projection")
	}
	if got := b.LinearNames(); len(got) != 6 {
		t.Errorf("BERT linear modules = %v, want q,k,v,o,up,down", got)
	}
	g, _ := Preset("gemma-2b")
	if _, ok := g.Module("lm_head"); ok {
		t.Error("gemma ties its classifier; lm_head must not be counted")
	}
	if g.Approx != "" {
		t.Error("gemma-2b is exact")
	}
	e, _ := Preset("gemma3n-e2b")
	if e.Approx == "" {
		t.Error("gemma3n-e2b must document its approximation")
	}
	for _, name := range PresetNames() {
		c, _ := Preset(name)
		if msg := c.Validate(); msg != "" {
			t.Errorf("%s: %s", name, msg)
		}
	}
}

func TestPresetLookupSpellings(t *testing.T) {
	for in, want := range map[string]string{
		"hf:meta-llama/Llama-2-7b-hf": "llama-2-7b",
		"Mistral-7B":                  "mistral-7b",
		"hf:google/gemma-2b":          "gemma-2b",
		"bert-large":                  "bert-large-uncased",
		"hf:TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T": "tinyllama-1.1b",
		"meta-llama/Meta-Llama-3-8B":                             "llama-3-8b",
		"meta-llama/Llama-3.1-8B-Instruct":                       "llama-3.1-8b",
		"mistralai/Mistral-7B-Instruct-v0.2":                     "mistral-7b",
		"llama3:8b":                                              "llama-3-8b",
		"meta-llama/Llama-2-70b-chat-hf":                         "llama-2-70b",
		"Qwen/Qwen2.5-7B-Instruct":                               "qwen2.5-7b",
		"microsoft/Phi-3-mini-4k-instruct":                       "phi-3-mini",
	} {
		c, ok := Preset(in)
		if !ok || c.Name != want {
			t.Errorf("Preset(%q) = %q, %v; want %q", in, c.Name, ok, want)
		}
	}
	for _, unknown := range []string{"gpt-5", "google/gemma-2-2b", "meta-llama/Llama-2-7"} {
		if c, ok := Preset(unknown); ok {
			t.Errorf("Preset(%q) = %s", unknown, c.Name)
		}
	}
	if _, ok := Preset("gpt-5"); ok {
		t.Error("unknown preset found")
	}
}

func TestValidateRejectsBadShapes(t *testing.T) {
	c, _ := Preset("llama-3.1-8b")
	c.KVHeads = 3
	if c.Validate() == "" {
		t.Error("32 heads over 3 kv heads accepted")
	}
	c.KVHeads = 0
	if c.Validate() == "" {
		t.Error("zero kv heads accepted")
	}
}
