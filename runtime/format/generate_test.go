package format

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
	"github.com/modelwhisperer/whisperc/runtime/sample"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// TestGenerateFromEveryFormat runs greedy generation on stories260K loaded
// from GGUF and from a Hugging Face checkpoint (q/k permuted on disk) and
// expects llama2.c's own output byte for byte, the golden file the engine's
// conformance test uses. A wrong tensor name, layout or RoPE permutation
// in a loader changes the story.
func TestGenerateFromEveryFormat(t *testing.T) {
	golden := filepath.Join("..", "engine", "testdata", "stories260K.golden")
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Skipf("engine golden output %s not available: %v", golden, err)
	}
	_, _, gp, hf := storiesCopies(t, 1)

	for _, spec := range []string{"gguf:" + gp, "safetensors:" + hf} {
		s, tok, err := Open(spec, "")
		if err != nil {
			t.Fatal(err)
		}
		e, err := engine.New(context.Background(), s, engine.Options{Attention: engine.AttentionEager, KVCache: true, Compile: engine.CompileNone, Quantize: engine.QuantizeNone})
		if err != nil {
			t.Fatal(err)
		}
		smp, _ := sample.New(sample.Params{})
		var out bytes.Buffer
		if _, err := engine.Generate(context.Background(), e, tok, engine.GenerateOptions{MaxTokens: 200, Sampler: smp, Out: &out}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("%s: output differs from llama2.c's\n got: %q\nwant: %q", spec, out.String(), want)
		}
		s.Close()
	}
}

// TestGenerateQ8_0GGUF writes stories260K as a Q8_0 GGUF file and checks
// that the engine generates from it and that the story keeps llama2.c's
// opening, which 8-bit weights should not change.
func TestGenerateQ8_0GGUF(t *testing.T) {
	bin, tokBin := testmodels.Path(t, "stories260K.bin"), testmodels.Path(t, "tok512.bin")
	ref, refTok, err := Open("llama2c:"+bin, tokBin)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	q, err := gguf.ConvertSet(ref, weights.Q8_0)
	if err != nil {
		t.Fatal(err)
	}
	if q.Tensors["layers.0.attention.wq.weight"].DType != weights.Q8_0 || q.Tensors["layers.0.feed_forward.w2.weight"].DType != weights.F32 {
		t.Fatal("ConvertSet did not quantise wq or did not keep w2 (rows of 172) in f32")
	}
	var g bytes.Buffer
	if err := gguf.WriteSet(&g, q, tokenizer.GGUFVocab(refTok.(*tokenizer.BPE))); err != nil {
		t.Fatal(err)
	}
	if g.Len() >= 1056540 {
		t.Errorf("Q8_0 file has %d bytes, not smaller than the f32 model", g.Len())
	}
	gp := filepath.Join(t.TempDir(), "q8.gguf")
	os.WriteFile(gp, g.Bytes(), 0o644)
	s, tok, err := Open(gp, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e, err := engine.New(context.Background(), s, engine.Options{Attention: engine.AttentionEager, KVCache: true, Compile: engine.CompileNone, Quantize: engine.QuantizeNone})
	if err != nil {
		t.Fatal(err)
	}
	smp, _ := sample.New(sample.Params{})
	var out bytes.Buffer
	if _, err := engine.Generate(context.Background(), e, tok, engine.GenerateOptions{MaxTokens: 40, Sampler: smp, Out: &out}); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out.Bytes(), []byte("Once upon a time")) {
		t.Errorf("Q8_0 story begins %q", out.String())
	}
}
