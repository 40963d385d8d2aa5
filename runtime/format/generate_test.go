package format

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
	"github.com/modelwhisperer/whisperc/runtime/format/safetensors"
	"github.com/modelwhisperer/whisperc/runtime/sample"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
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
	bin, tokBin := modelPath(t, "stories260K.bin"), modelPath(t, "tok512.bin")
	ref, refTok, err := Open("llama2c:"+bin, tokBin)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	dir := t.TempDir()
	var g bytes.Buffer
	if err := gguf.WriteSet(&g, ref, tokenizer.GGUFVocab(refTok.(*tokenizer.BPE))); err != nil {
		t.Fatal(err)
	}
	gp := filepath.Join(dir, "m.gguf")
	os.WriteFile(gp, g.Bytes(), 0o644)
	hf := filepath.Join(dir, "hf")
	os.Mkdir(hf, 0o755)
	if err := safetensors.WriteHF(hf, ref, 1); err != nil {
		t.Fatal(err)
	}
	js, _ := tokenizer.HFTokenizerJSON(refTok.(*tokenizer.BPE))
	os.WriteFile(filepath.Join(hf, "tokenizer.json"), js, 0o644)

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
