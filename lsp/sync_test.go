package lsp

import (
	"testing"

	"go.lsp.dev/protocol"
)

// TestIncrementalSync edits a document with non-ASCII text before the edit
// point in both encodings and checks the server's copy byte for byte.
func TestIncrementalSync(t *testing.T) {
	for _, enc := range []protocol.PositionEncodingKind{protocol.PositionEncodingKindUTF16, protocol.PositionEncodingKindUTF8} {
		t.Run(string(enc), func(t *testing.T) {
			s := newSession(t, testOpts(), enc)
			if string(s.enc.Kind()) != string(enc) {
				t.Fatalf("negotiated %s, offered %s", s.enc.Kind(), enc)
			}
			u := testURI(t, "a.whisper")
			text := "// é 日本 😀\nmodel base { source = \"😀\" }\n"
			s.open(u, text)
			i := len("// é 日本 😀\nmodel base { source = \"😀")
			text = s.edit(u, 2, text, i, i, "é")
			j := len("// é 日本 😀\nmodel ")
			text = s.edit(u, 3, text, j, j+len("base"), "日本")
			s.sync(u)
			d, ok := s.srv(t).docs.get(u)
			if !ok {
				t.Fatal("document not open")
			}
			if got := string(d.File.Src); got != text {
				t.Errorf("server text\n%q\nwant\n%q", got, text)
			}
			if d.Version != 3 {
				t.Errorf("version %d", d.Version)
			}
		})
	}
}

// TestApplyChangesWhole checks a whole-document change followed by a
// partial one computed on its result.
func TestApplyChangesWhole(t *testing.T) {
	f := testMapper("abc", EncodingUTF16).File
	got, err := applyChanges(f, []protocol.TextDocumentContentChangeEvent{
		&protocol.TextDocumentContentChangeWholeDocument{Text: "xyz\n"},
		&protocol.TextDocumentContentChangePartial{Range: protocol.Range{Start: protocol.Position{Line: 0, Character: 1}, End: protocol.Position{Line: 0, Character: 2}}, Text: "Y"},
	}, EncodingUTF16)
	if err != nil || string(got) != "xYz\n" {
		t.Errorf("got %q, %v", got, err)
	}
}
