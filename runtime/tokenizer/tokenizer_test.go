package tokenizer

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/modelwhisperer/whisperc/internal/testmodels"
)

// modelPath returns the path of a file in /work/shared/models (the repo's
// ../shared/models), skipping the test when it is absent.

func TestLlama2CTok512(t *testing.T) {
	tok, err := ReadLlama2CFile(testmodels.Path(t, "tok512.bin"), 512)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 512 {
		t.Fatalf("VocabSize = %d, want 512", tok.VocabSize())
	}
	// Reading to the end of the file finds the same 512 tokens.
	all, err := ReadLlama2CFile(testmodels.Path(t, "tok512.bin"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if all.VocabSize() != 512 {
		t.Fatalf("VocabSize to EOF = %d, want 512", all.VocabSize())
	}
	if got := tok.Encode("", true, false); !cmp.Equal(got, []int{1}) {
		t.Errorf("Encode(\"\") = %v, want [1]", got)
	}
	// Round trip: decoding the encoding gives the text back, with the
	// dummy-prefix space dropped after BOS.
	for _, text := range []string{"Once upon a time", "Lily's mom said, \"hi\"\n", "naïve ☃ 😀", "\x00\xff"} {
		ids := tok.Encode(text, true, false)
		var got []byte
		for i := 1; i < len(ids); i++ {
			got = append(got, tok.Decode(ids[i-1], ids[i])...)
		}
		if string(got) != text {
			t.Errorf("round trip of %q: got %q (ids %v)", text, got, ids)
		}
	}
	// Byte-fallback pieces decode to their byte.
	nl := tok.Encode("\n", false, false)
	if got := string(tok.Decode(5, nl[len(nl)-1])); got != "\n" {
		t.Errorf("newline decodes to %q", got)
	}
}

func TestLlama2C32k(t *testing.T) {
	tok, err := ReadLlama2CFile(testmodels.Path(t, "llama2c-tokenizer32k.bin"), 32000)
	if err != nil {
		t.Fatal(err)
	}
	// Ids from the Llama-2 SentencePiece model (sentencepiece's own
	// encoding of "Hello world", with BOS).
	if got, want := tok.Encode("Hello world", true, false), []int{1, 15043, 3186}; !cmp.Equal(got, want) {
		t.Errorf("Encode(Hello world) = %v, want %v", got, want)
	}
	if got := string(tok.Decode(1, 15043)); got != "Hello" {
		t.Errorf("Decode after BOS = %q, want %q", got, "Hello")
	}
	if got := string(tok.Decode(15043, 3186)); got != " world" {
		t.Errorf("Decode = %q, want %q", got, " world")
	}
}

func TestReadLlama2CErrors(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":        nil,
		"zero max":     {0, 0, 0, 0},
		"truncated":    {4, 0, 0, 0, 0, 0, 0x80, 0x3f, 9, 0, 0, 0},
		"long piece":   {4, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0},
		"negative len": {4, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff},
		"too few":      {4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 'a'},
	} {
		if _, err := ReadLlama2C(data, 0); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestPrintable(t *testing.T) {
	for piece, want := range map[string]bool{"": false, "a": true, "\n": true, "\x01": false, "\xe2": false, "\xe2\x98": true, " the": true} {
		if got := Printable([]byte(piece)); got != want {
			t.Errorf("Printable(%q) = %v, want %v", piece, got, want)
		}
	}
}

func FuzzReadLlama2C(f *testing.F) {
	if data, err := os.ReadFile(testmodels.Path(f, "tok512.bin")); err == nil {
		f.Add(data[:min(len(data), 400)])
	}
	f.Add([]byte{4, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ReadLlama2C(data, 0)
		if err != nil {
			return
		}
		ids := tok.Encode(string(data), true, true)
		for i := 1; i < len(ids); i++ {
			tok.Decode(ids[i-1], ids[i])
		}
	})
}
