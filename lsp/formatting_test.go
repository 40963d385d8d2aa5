package lsp

import (
	"testing"

	"github.com/modelwhisperer/whisperc/lang/format"
	"go.lsp.dev/protocol"
)

// TestFormatting checks the server's edit turns the buffer into exactly
// what lang/format (and so `whisperc fmt`) prints, with non-ASCII text in
// the changed lines, and that formatted or broken text gets no edit.
func TestFormatting(t *testing.T) {
	eachEncoding(t, func(t *testing.T, s *session) {
		u := testURI(t, "main.whisper")
		text := "// é 日本 😀\nmodel   base {\nsource=\"hf:meta-llama/Llama-2-7b-hf\" // 😀\n  quantize {method=nf4,double=true}\n}\n"
		s.open(u, text)
		edits, err := s.server.Formatting(s.ctx, &protocol.DocumentFormattingParams{TextDocument: protocol.TextDocumentIdentifier{URI: u}})
		if err != nil {
			t.Fatal(err)
		}
		want, ds := format.Source("main.whisper", []byte(text))
		if want == nil {
			t.Fatalf("format.Source refused the input: %v", ds)
		}
		if len(edits) != 1 {
			t.Fatalf("%d edits", len(edits))
		}
		if edits[0].Range.Start.Line != 1 {
			t.Errorf("the edit starts at line %d; the unchanged first line should be kept", edits[0].Range.Start.Line)
		}
		got := applyEdits(t, s, text, edits)
		if got != string(want) {
			t.Errorf("formatted\n%s\nwant\n%s", got, want)
		}
		// Formatting the result changes nothing.
		s.edit(u, 2, text, 0, len(text), got)
		edits, err = s.server.Formatting(s.ctx, &protocol.DocumentFormattingParams{TextDocument: protocol.TextDocumentIdentifier{URI: u}})
		if err != nil || len(edits) != 0 {
			t.Errorf("second format: %v, %v", edits, err)
		}
		// Broken text is left alone.
		s.edit(u, 3, got, 0, 0, "model { = ")
		edits, err = s.server.Formatting(s.ctx, &protocol.DocumentFormattingParams{TextDocument: protocol.TextDocumentIdentifier{URI: u}})
		if err != nil || len(edits) != 0 {
			t.Errorf("format of broken text: %v, %v", edits, err)
		}
	})
}
