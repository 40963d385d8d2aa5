package lsp

import (
	"testing"

	"github.com/modelwhisperer/whisperc/lang/source"
	"go.lsp.dev/protocol"
)

func testMapper(text string, enc Encoding) Mapper {
	return Mapper{File: source.NewFile("t.whisper", []byte(text)), Enc: enc}
}

// TestMapperNonASCII checks both encodings on a line with two-byte,
// three-byte and four-byte (surrogate pair) characters before the target.
func TestMapperNonASCII(t *testing.T) {
	text := "// é 日本 😀\nmodel é日😀x { }\n"
	off := len("// é 日本 😀\nmodel é日😀") // the x
	cases := []struct {
		enc  Encoding
		want protocol.Position
	}{
		// é is 1 UTF-16 unit, 日 1, 😀 2; in bytes 2, 3 and 4.
		{EncodingUTF16, protocol.Position{Line: 1, Character: uint32(len("model ") + 1 + 1 + 2)}},
		{EncodingUTF8, protocol.Position{Line: 1, Character: uint32(len("model ") + 2 + 3 + 4)}},
	}
	for _, c := range cases {
		m := testMapper(text, c.enc)
		if got := m.Position(off); got != c.want {
			t.Errorf("enc %d: Position = %+v, want %+v", c.enc, got, c.want)
		}
		if got := m.Offset(c.want); got != off {
			t.Errorf("enc %d: Offset(%+v) = %d, want %d", c.enc, c.want, got, off)
		}
	}
	// A UTF-16 column inside the surrogate pair resolves to the emoji's start.
	m := testMapper(text, EncodingUTF16)
	emoji := len("// é 日本 😀\nmodel é日")
	if got := m.Offset(protocol.Position{Line: 1, Character: uint32(len("model ") + 2 + 1)}); got != emoji {
		t.Errorf("inside surrogate pair: %d, want %d", got, emoji)
	}
	// Past the end of a line clamps to the line end; past the last line to EOF.
	if got := m.Offset(protocol.Position{Line: 0, Character: 999}); got != len("// é 日本 😀") {
		t.Errorf("clamp to line end: %d", got)
	}
	if got := m.Offset(protocol.Position{Line: 99, Character: 0}); got != len(text) {
		t.Errorf("clamp to EOF: %d", got)
	}
}

func TestNegotiateEncoding(t *testing.T) {
	if e := negotiateEncoding(nil); e != EncodingUTF16 {
		t.Errorf("no offer: %v", e)
	}
	if e := negotiateEncoding([]protocol.PositionEncodingKind{protocol.PositionEncodingKindUTF16, protocol.PositionEncodingKindUTF8}); e != EncodingUTF8 {
		t.Errorf("utf-8 offered: %v", e)
	}
	if e := negotiateEncoding([]protocol.PositionEncodingKind{protocol.PositionEncodingKindUTF32}); e != EncodingUTF16 {
		t.Errorf("utf-32 only: %v", e)
	}
}
