package tokenizer

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
)

// sameTexts are encoded by every container of a vocabulary.
var sameTexts = []string{
	"", "a", "Once upon a time, there was a little girl named Lily.",
	"  leading and  double  spaces ", "Lily's mom said, \"Let's go!\"\n\nThe end.",
	"naïve café ☃ 😀 日本語", "tabs\tand\r\nnewlines", "\x00\xff\x80 broken utf-8 \xe2\x82",
	"1234567890 !@#$%^&*()_+-=[]{};':,./?", "supercalifragilisticexpialidocious",
}

// containers returns one vocabulary as read from llama2.c's tokenizer.bin,
// from a GGUF file and from a tokenizer.json, the latter two written from
// the first.
func containers(t *testing.T, file string, n int) map[string]Tokenizer {
	t.Helper()
	bin, err := ReadLlama2CFile(testmodels.Path(t, file), n)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	v := GGUFVocab(bin)
	var kvs []gguf.KV
	kvs = append(kvs, gguf.KV{Key: "general.architecture", Value: "llama"})
	var buf bytes.Buffer
	if err := gguf.Write(&buf, append(kvs, vocabKVsForTest(v)...), nil); err != nil {
		t.Fatal(err)
	}
	gp := filepath.Join(dir, "vocab.gguf")
	if err := os.WriteFile(gp, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	fromGGUF, err := ReadGGUF(gp)
	if err != nil {
		t.Fatal(err)
	}
	js, err := HFTokenizerJSON(bin)
	if err != nil {
		t.Fatal(err)
	}
	jp := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(jp, js, 0o644); err != nil {
		t.Fatal(err)
	}
	fromJSON, err := ReadHFJSONFile(jp)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Tokenizer{"tokenizer.bin": bin, "gguf": fromGGUF, "tokenizer.json": fromJSON}
}

// vocabKVsForTest spells out the tokenizer.ggml keys, as llama.cpp's
// converter writes them.
func vocabKVsForTest(v *gguf.Vocab) []gguf.KV {
	return []gguf.KV{
		{Key: "tokenizer.ggml.model", Value: v.Model},
		{Key: "tokenizer.ggml.tokens", Value: v.Tokens},
		{Key: "tokenizer.ggml.scores", Value: v.Scores},
		{Key: "tokenizer.ggml.token_type", Value: v.Types},
		{Key: "tokenizer.ggml.bos_token_id", Value: uint32(v.BOS)},
		{Key: "tokenizer.ggml.eos_token_id", Value: uint32(v.EOS)},
		{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(v.UNK)},
	}
}

func testSameEverywhere(t *testing.T, file string, n int) {
	toks := containers(t, file, n)
	ref := toks["tokenizer.bin"]
	for name, tok := range toks {
		if tok.VocabSize() != ref.VocabSize() || tok.BOS() != ref.BOS() || tok.EOS() != ref.EOS() {
			t.Errorf("%s: vocab %d bos %d eos %d, want %d %d %d", name, tok.VocabSize(), tok.BOS(), tok.EOS(), ref.VocabSize(), ref.BOS(), ref.EOS())
		}
	}
	for _, text := range sameTexts {
		want := ref.Encode(text, true, true)
		for name, tok := range toks {
			got := tok.Encode(text, true, true)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: Encode(%q) differs from tokenizer.bin (-want +got):\n%s", name, text, diff)
				continue
			}
			var dec []byte
			for i := 1; i < len(got)-1; i++ {
				dec = append(dec, tok.Decode(got[i-1], got[i])...)
			}
			var refDec []byte
			for i := 1; i < len(want)-1; i++ {
				refDec = append(refDec, ref.Decode(want[i-1], want[i])...)
			}
			if !bytes.Equal(dec, refDec) {
				t.Errorf("%s: decoding %q gives %q, tokenizer.bin gives %q", name, text, dec, refDec)
			}
		}
	}
}

func TestSameVocabularyInThreeContainers512(t *testing.T) {
	testSameEverywhere(t, "tok512.bin", 512)
}

func TestSameVocabularyInThreeContainers32k(t *testing.T) {
	testSameEverywhere(t, "llama2c-tokenizer32k.bin", 32000)
}

// llamaStyleJSON is a hand-written tokenizer.json in the layout of
// Llama 2's, with a tiny vocabulary, "left right" merges and byte fallback.
const llamaStyleJSON = `{
  "version": "1.0",
  "added_tokens": [
    {"id": 0, "content": "<unk>", "special": true},
    {"id": 1, "content": "<s>", "special": true},
    {"id": 2, "content": "</s>", "special": true}
  ],
  "normalizer": {"type": "Sequence", "normalizers": [
    {"type": "Prepend", "prepend": "▁"},
    {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
  "pre_tokenizer": null,
  "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
    "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x0A>": 3, "<0xC3>": 4, "<0xA9>": 5,
      "▁": 6, "h": 7, "i": 8, "hi": 9, "▁hi": 10, "▁h": 11},
    "merges": ["h i", "▁ hi", "▁ h"]}
}`

func TestHFJSONHandWritten(t *testing.T) {
	tok, err := ReadHFJSON([]byte(llamaStyleJSON))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		text string
		want []int
	}{
		// "▁hi": h+i (rank 0) before ▁+h (rank 2), then ▁+hi (rank 1).
		{"hi", []int{1, 10}},
		{"hi hi", []int{1, 10, 10}},
		// "é" is not in the vocabulary: its two bytes fall back.
		{"hé", []int{1, 11, 4, 5}},
		{"\n", []int{1, 6, 3}},
		// Added tokens are matched literally and split the text.
		{"hi</s>hi", []int{1, 10, 2, 10}},
		// No byte token for "x": unknown.
		{"xx", []int{1, 6, 0}},
	} {
		if got := tok.Encode(c.text, true, false); !cmp.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.want)
		}
	}
	if got := string(tok.Decode(1, 10)); got != "hi" {
		t.Errorf("Decode after BOS = %q", got)
	}
	if got := string(tok.Decode(10, 10)); got != " hi" {
		t.Errorf("Decode = %q", got)
	}
	if got := string(tok.Decode(6, 3)); got != "\n" {
		t.Errorf("byte token decodes to %q", got)
	}
	if tok.Decode(0, 99) != nil || tok.Decode(0, -1) != nil {
		t.Error("out-of-range ids must decode to nil")
	}
	// The pair form of merges and a Metaspace pre-tokenizer give the same.
	alt := strings.Replace(llamaStyleJSON, `["h i", "▁ hi", "▁ h"]`, `[["h","i"],["▁","hi"],["▁","h"]]`, 1)
	alt = strings.Replace(alt, `"pre_tokenizer": null`, `"pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}`, 1)
	alt = strings.Replace(alt, `"type": "Prepend", "prepend": "▁"}`, `"type": "Replace", "pattern": {"String": " "}, "content": "▁"}`, 1)
	tok2, err := ReadHFJSON([]byte(alt))
	if err != nil {
		t.Fatal(err)
	}
	if got := tok2.Encode("hi hi", true, false); !cmp.Equal(got, []int{1, 10, 10}) {
		t.Errorf("Metaspace: Encode = %v", got)
	}
}

func TestHFJSONErrors(t *testing.T) {
	for _, c := range []struct{ edit, want string }{
		{`"type": "BPE"|"type": "WordPiece"`, `model type "WordPiece"`},
		{`"unk_token": "<unk>"|"unk_token": "<nope>"`, "unk_token"},
		{`"▁ h"]|"▁ x"]`, `yields "▁x"`},
		{`"▁ h"]|"▁h"]`, "not two tokens"},
		{`"h": 7|"h": -7`, "id -7"},
		{`"h": 7|"h": 1e12`, "tokenizer.json"},
		{`{"id": 2, |{"id": 99999999, `, "outside"},
		{`{"id": 2, |{"id": 99999, `, "largest token id is 99999"},
		{`"type": "Prepend", "prepend": "▁"|"type": "NFKC"`, `normalizer "NFKC"`},
		{`"pre_tokenizer": null|"pre_tokenizer": {"type": "ByteLevel"}`, `"ByteLevel" is not supported`},
		{`{|[`, "tokenizer.json"},
	} {
		from, to, _ := strings.Cut(c.edit, "|")
		src := strings.Replace(llamaStyleJSON, from, to, 1)
		if src == llamaStyleJSON {
			t.Fatalf("edit %q does not apply", c.edit)
		}
		if _, err := ReadHFJSON([]byte(src)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.edit, err, c.want)
		}
	}
}

func FuzzReadHFJSON(f *testing.F) {
	f.Add([]byte(llamaStyleJSON))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ReadHFJSON(data)
		if err != nil {
			return
		}
		for _, id := range tok.Encode("hi é\n</s>x", true, true) {
			if id < 0 || id >= tok.VocabSize() {
				t.Fatalf("Encode produced id %d outside the vocabulary of %d", id, tok.VocabSize())
			}
			tok.Decode(id, id)
		}
	})
}

func BenchmarkHFJSONEncode32k(b *testing.B) {
	bin, err := ReadLlama2CFile(testmodels.Path(b, "llama2c-tokenizer32k.bin"), 32000)
	if err != nil {
		b.Fatal(err)
	}
	js, err := HFTokenizerJSON(bin)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := ReadHFJSON(js)
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("Once upon a time, there was a little girl named Lily. ", 4)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tok.Encode(text, true, false)
	}
}
