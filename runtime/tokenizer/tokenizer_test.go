package tokenizer

import (
	"os"
	goruntime "runtime"
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

// TestDuplicatePieces checks that when two pieces spell the same text the
// lower id is the one encoding finds, and that every other piece is found
// by its own text.
func TestDuplicatePieces(t *testing.T) {
	pieces := []string{"<unk>", "<s>", "</s>", " ", "a", "b", "ab", "ab", " ab", "<0x41>"}
	scores := []float32{0, 0, 0, -1, -2, -2, 5, 9, 3, 0}
	tok, err := NewBPE(pieces, scores, 1, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("ab", false, false); !cmp.Equal(got, []int{8}) {
		t.Errorf("Encode(ab) = %v, want [8] (\" \"+\"ab\" merged, the first \"ab\" being 6)", got)
	}
	for id, p := range pieces {
		if got, ok := tok.findString(p); !ok || (got != id && !(p == "ab" && got == 6)) {
			t.Errorf("piece %d %q found as %d, %v", id, p, got, ok)
		}
		if got, ok := tok.findBytes([]byte(p)); !ok || (got != id && !(p == "ab" && got == 6)) {
			t.Errorf("piece %d %q found from bytes as %d, %v", id, p, got, ok)
		}
	}
	if _, ok := tok.findString("abc"); ok {
		t.Errorf("a text that is no piece was found")
	}
	if got := tok.Encode("A", false, false); !cmp.Equal(got, []int{3, 9}) {
		t.Errorf("Encode(A) = %v, want the space and the byte token 9", got)
	}
}

// TestTokenizerHeap checks what a loaded 32,000-piece vocabulary keeps on
// the heap (every run holds it for its whole life; planner/cost's
// TokenizerHeapFactor predicts it from the file's size): under 1 MB, where
// a slice of pieces and a map of strings kept 3.2 MB.
func TestTokenizerHeap(t *testing.T) {
	name := testmodels.Path(t, "llama2c-tokenizer32k.bin")
	var before, after goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&before)
	tok, err := ReadLlama2CFile(name, 32000)
	if err != nil {
		t.Fatal(err)
	}
	goruntime.GC()
	goruntime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	goruntime.KeepAlive(tok)
	st, _ := os.Stat(name)
	t.Logf("32k vocabulary: %d bytes held, %.2f× its %d-byte file", held, float64(held)/float64(st.Size()), st.Size())
	if held > 1<<20 {
		t.Errorf("the 32k vocabulary holds %d bytes on the heap, want under 1 MiB", held)
	}
}
