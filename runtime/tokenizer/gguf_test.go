package tokenizer

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
)

func TestGGUFVocabTypes(t *testing.T) {
	bin, err := ReadLlama2CFile(testmodels.Path(t, "tok512.bin"), 512)
	if err != nil {
		t.Fatal(err)
	}
	v := GGUFVocab(bin)
	if v.Types[0] != gguf.TokenUnknown || v.Types[1] != gguf.TokenControl || v.Types[2] != gguf.TokenControl {
		t.Errorf("special types %v", v.Types[:3])
	}
	// tokenizer.bin's "\n<s>\n" and "\n</s>\n" are written under their
	// SentencePiece names, by which llama.cpp finds its end-of-generation
	// token.
	if v.Tokens[1] != "<s>" || v.Tokens[2] != "</s>" {
		t.Errorf("BOS, EOS pieces %q, %q; want <s>, </s>", v.Tokens[1], v.Tokens[2])
	}
	if v.Tokens[3+0x0A] != "<0x0A>" || v.Types[3+0x0A] != gguf.TokenByte {
		t.Errorf("token %d = %q type %d, want the newline byte token", 3+0x0A, v.Tokens[13], v.Types[13])
	}
	spaced := 0
	for i, p := range v.Tokens {
		if strings.Contains(p, " ") {
			t.Fatalf("token %d %q keeps a plain space", i, p)
		}
		if strings.HasPrefix(p, "▁") {
			spaced++
		}
	}
	if spaced == 0 {
		t.Error("no token starts with ▁")
	}
	back, err := FromGGUFVocab(v)
	if err != nil {
		t.Fatal(err)
	}
	text := "Once upon a time"
	if diff := cmp.Diff(bin.Encode(text, true, true), back.Encode(text, true, true)); diff != "" {
		t.Errorf("(-tokenizer.bin +gguf):\n%s", diff)
	}
}

func TestFromGGUFVocabErrors(t *testing.T) {
	ok := &gguf.Vocab{Model: "llama", Tokens: []string{"<unk>", "<s>", "</s>", "▁a"}, Scores: []float32{0, 0, 0, -1}, BOS: -1, EOS: -1, UNK: -1}
	if tok, err := FromGGUFVocab(ok); err != nil || tok.BOS() != 1 || tok.EOS() != 2 {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		edit func(v *gguf.Vocab)
		want string
	}{
		{func(v *gguf.Vocab) { v.Model = "gpt2" }, `"gpt2" is not supported`},
		{func(v *gguf.Vocab) { v.Scores = v.Scores[:2] }, "2 entries for 4 tokens"},
		{func(v *gguf.Vocab) { v.Tokens, v.Scores = v.Tokens[:2], v.Scores[:2] }, "too few"},
		{func(v *gguf.Vocab) { v.BOS = 9 }, "outside the vocabulary"},
	} {
		v := *ok
		c.edit(&v)
		if _, err := FromGGUFVocab(&v); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
}

// FuzzGGUFTokenizer feeds arbitrary GGUF files through the embedded
// vocabulary reader and the tokenizer built from it.
func FuzzGGUFTokenizer(f *testing.F) {
	v := &gguf.Vocab{Model: "llama", Tokens: []string{"<unk>", "<s>", "</s>", "<0x0A>", "▁", "a", "▁a"}, Scores: []float32{0, 0, 0, 0, -1, -2, -0.5},
		Types: []int32{2, 3, 3, 6, 1, 1, 1}, BOS: 1, EOS: 2, UNK: 0, PAD: -1, AddBOS: true}
	var buf bytes.Buffer
	if err := gguf.Write(&buf, append([]gguf.KV{{Key: "general.architecture", Value: "llama"}}, vocabKVsForTest(v)...), nil); err == nil {
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := gguf.ParseBytes("fuzz.gguf", data)
		if err != nil {
			return
		}
		voc, err := file.Vocab()
		if err != nil {
			return
		}
		tok, err := FromGGUFVocab(voc)
		if err != nil {
			return
		}
		ids := tok.Encode("a a\n\xff", true, true)
		for i, id := range ids {
			if id < 0 || id >= tok.VocabSize() {
				t.Fatalf("id %d outside the vocabulary of %d", id, tok.VocabSize())
			}
			if i > 0 {
				tok.Decode(ids[i-1], id)
			}
		}
	})
}
