package source

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPos(t *testing.T) {
	src := "ab\ncé日\n\n😀x"
	f := NewFile("t.whisper", []byte(src))
	tests := []struct {
		off  int
		want Pos
	}{
		{0, Pos{1, 1, 0}},
		{2, Pos{1, 3, 2}},   // the newline itself
		{3, Pos{2, 1, 3}},   // c
		{4, Pos{2, 2, 4}},   // é (2 bytes)
		{6, Pos{2, 3, 6}},   // 日 (3 bytes)
		{9, Pos{2, 4, 9}},   // newline after 日
		{10, Pos{3, 1, 10}}, // empty line
		{11, Pos{4, 1, 11}}, // 😀 (4 bytes)
		{15, Pos{4, 2, 15}}, // x
		{16, Pos{4, 3, 16}}, // end of file
		{99, Pos{4, 3, 16}}, // clamped
		{-5, Pos{1, 1, 0}},  // clamped
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, f.Pos(tt.off)); diff != "" {
			t.Errorf("Pos(%d) (-want +got):\n%s", tt.off, diff)
		}
	}
	if got := f.LineCount(); got != 4 {
		t.Errorf("LineCount = %d, want 4", got)
	}
	if got := string(f.Line(2)); got != "cé日" {
		t.Errorf("Line(2) = %q", got)
	}
}

func TestUTF16(t *testing.T) {
	f := NewFile("t", []byte("é日😀x = 1\r\nnext"))
	// é=1 unit, 日=1 unit, 😀=2 units (surrogate pair).
	offX := len("é日😀")
	if got := f.UTF16Column(offX); got != 4 {
		t.Errorf("UTF16Column(x) = %d, want 4", got)
	}
	if got := f.OffsetOfUTF16(0, 4); got != offX {
		t.Errorf("OffsetOfUTF16(0,4) = %d, want %d", got, offX)
	}
	// Inside the surrogate pair resolves to the emoji's start.
	if got := f.OffsetOfUTF16(0, 3); got != len("é日") {
		t.Errorf("OffsetOfUTF16(0,3) = %d, want %d", got, len("é日"))
	}
	// Past the end of the line clamps before "\r\n".
	if got, want := f.OffsetOfUTF16(0, 100), len("é日😀x = 1"); got != want {
		t.Errorf("OffsetOfUTF16(0,100) = %d, want %d", got, want)
	}
	if got, want := f.OffsetOfUTF16(1, 2), len("é日😀x = 1\r\nne"); got != want {
		t.Errorf("OffsetOfUTF16(1,2) = %d, want %d", got, want)
	}
	if got, want := f.OffsetOfUTF16(7, 0), len(f.Src); got != want {
		t.Errorf("OffsetOfUTF16 beyond last line = %d, want %d", got, want)
	}
	if got, want := f.OffsetOfByteColumn(0, 2), 2; got != want {
		t.Errorf("OffsetOfByteColumn = %d, want %d", got, want)
	}
}

func TestRange(t *testing.T) {
	f := NewFile("a.whisper", []byte("model m {\n  rank = 64\n}\n"))
	r := f.Range(19, 21)
	if r.String() != "a.whisper:2:10" || r.End.Column != 12 {
		t.Errorf("Range = %v (end %v)", r, r.End)
	}
	if !r.ContainsOffset(21) || r.ContainsOffset(22) {
		t.Error("ContainsOffset is wrong at the end boundary")
	}
	c := f.Range(0, 5).Cover(r)
	if c.Start.Byte != 0 || c.End.Byte != 21 {
		t.Errorf("Cover = %d..%d", c.Start.Byte, c.End.Byte)
	}
}
