package format

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
	"github.com/modelwhisperer/whisperc/runtime/format/safetensors"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// storiesCopies opens stories260K and its tokenizer from llama2.c files and
// writes them again as a GGUF file and as a Hugging Face checkpoint in
// shards (with tokenizer.json), in a temporary folder. It returns the
// reference set (closed when the test ends) and tokenizer, and the two
// copies' paths.
func storiesCopies(t *testing.T, shards int) (ref *weights.Set, refTok tokenizer.Tokenizer, ggufPath, hfDir string) {
	t.Helper()
	bin, tokBin := testmodels.Path(t, "stories260K.bin"), testmodels.Path(t, "tok512.bin")
	ref, refTok, err := Open("llama2c:"+bin, tokBin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Close() })
	dir := t.TempDir()
	var g bytes.Buffer
	if err := gguf.WriteSet(&g, ref, tokenizer.GGUFVocab(refTok.(*tokenizer.BPE))); err != nil {
		t.Fatal(err)
	}
	ggufPath = filepath.Join(dir, "stories260K.gguf")
	if err := os.WriteFile(ggufPath, g.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	hfDir = filepath.Join(dir, "hf")
	if err := os.Mkdir(hfDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.WriteHF(hfDir, ref, shards); err != nil {
		t.Fatal(err)
	}
	js, err := tokenizer.HFTokenizerJSON(refTok.(*tokenizer.BPE))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hfDir, "tokenizer.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	return ref, refTok, ggufPath, hfDir
}

// TestOpenAllFormats writes stories260K and its tokenizer as GGUF and as a
// Hugging Face checkpoint, opens all three through Open and expects the
// same configuration, bit-identical tensors and identical tokenisation.
func TestOpenAllFormats(t *testing.T) {
	ref, refTok, gp, hf := storiesCopies(t, 2)

	for _, spec := range []string{"gguf:" + gp, gp, "safetensors:" + hf, hf} {
		s, tok, err := Open(spec, "")
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		c := s.Config
		c.Name = ref.Config.Name
		if c != ref.Config {
			t.Errorf("%s: config %+v, want %+v", spec, c, ref.Config)
		}
		hc, err := ReadConfig(spec)
		if err != nil || hc.Dim != c.Dim || hc.Layers != c.Layers || hc.KVHeads != c.KVHeads {
			t.Errorf("%s: ReadConfig = %+v, %v", spec, hc, err)
		}
		for name, w := range ref.Tensors {
			if got := s.Tensors[name]; got == nil || !bytes.Equal(got.Data, w.Data) {
				t.Errorf("%s: tensor %s differs", spec, name)
			}
		}
		for _, text := range []string{"Once upon a time, there was a little girl named Lily.", "She liked to play  outside!\n"} {
			if diff := cmp.Diff(refTok.Encode(text, true, false), tok.Encode(text, true, false)); diff != "" {
				t.Errorf("%s: Encode(%q) (-llama2c +this):\n%s", spec, text, diff)
			}
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
	// The GGUF file's embedded vocabulary can also serve a llama2.c model.
	s, tok, err := Open(testmodels.Path(t, "stories260K.bin"), gp)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if tok.VocabSize() != 512 {
		t.Errorf("GGUF tokenizer for a llama2.c model has %d tokens", tok.VocabSize())
	}
}

func TestOpenErrors(t *testing.T) {
	bin := testmodels.Path(t, "stories260K.bin")
	for _, c := range []struct{ spec, tok, want string }{
		{"llama2c:" + bin, "", "hold no tokenizer"},
		{"", "", "empty model spec"},
		{"nowhere.bin", "", "no such file"},
		{"gguf:" + bin, "", "invalid GGUF format"},
		{"safetensors:" + bin, "", "needs " + filepath.Join(filepath.Dir(bin), "config.json")},
	} {
		s, _, err := Open(c.spec, c.tok)
		if err == nil {
			s.Close()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%q, %q): error %v, want %q", c.spec, c.tok, err, c.want)
		}
	}
}

func BenchmarkOpenGGUFStories260K(b *testing.B) {
	bin, tokBin := testmodels.Path(b, "stories260K.bin"), testmodels.Path(b, "tok512.bin")
	ref, refTok, err := Open("llama2c:"+bin, tokBin)
	if err != nil {
		b.Fatal(err)
	}
	defer ref.Close()
	var g bytes.Buffer
	if err := gguf.WriteSet(&g, ref, tokenizer.GGUFVocab(refTok.(*tokenizer.BPE))); err != nil {
		b.Fatal(err)
	}
	gp := filepath.Join(b.TempDir(), "m.gguf")
	os.WriteFile(gp, g.Bytes(), 0o644)
	for b.Loop() {
		s, _, err := Open(gp, "")
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
