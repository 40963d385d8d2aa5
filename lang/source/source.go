// Package source holds .whisper source files and positions within them.
//
// Byte offsets are the canonical position. Lines and columns are derived
// from a per-file line table; columns count Unicode characters (runes) from
// 1, as editors and humans do. Conversion to UTF-16 code units happens only
// at the language-server boundary (see File.UTF16Column).
package source

import (
	"bytes"
	"fmt"
	"sort"
	"unicode/utf16"
	"unicode/utf8"
)

// Pos is a position in a source file. Byte is the canonical offset (0-based);
// Line and Column are 1-based, Column counting runes.
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// String returns "line:column".
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Column) }

// Range is a half-open span [Start, End) of a named file.
type Range struct {
	Filename string `json:"filename"`
	Start    Pos    `json:"start"`
	End      Pos    `json:"end"`
}

// String returns "file:line:col".
func (r Range) String() string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// Empty reports whether the range covers no bytes.
func (r Range) Empty() bool { return r.End.Byte <= r.Start.Byte }

// ContainsOffset reports whether the byte offset lies within the range
// (the end offset included, so a cursor just after a token is inside it).
func (r Range) ContainsOffset(off int) bool { return r.Start.Byte <= off && off <= r.End.Byte }

// Cover returns the smallest range containing both r and o. Both must be in
// the same file.
func (r Range) Cover(o Range) Range {
	out := r
	if o.Start.Byte < out.Start.Byte {
		out.Start = o.Start
	}
	if o.End.Byte > out.End.Byte {
		out.End = o.End
	}
	return out
}

// File is one source file: its name, its bytes and a line table.
type File struct {
	Name string
	Src  []byte
	// lines[i] is the byte offset at which line i+1 starts.
	lines []int
}

// NewFile returns a File for src. The slice is retained, not copied.
func NewFile(name string, src []byte) *File {
	lines := make([]int, 1, bytes.Count(src, []byte{'\n'})+1)
	for i, c := range src {
		if c == '\n' {
			lines = append(lines, i+1)
		}
	}
	return &File{Name: name, Src: src, lines: lines}
}

// LineCount returns the number of lines (a trailing newline starts an empty
// last line).
func (f *File) LineCount() int { return len(f.lines) }

// clamp limits off to [0, len(Src)].
func (f *File) clamp(off int) int {
	if off < 0 {
		return 0
	}
	if off > len(f.Src) {
		return len(f.Src)
	}
	return off
}

// Pos returns the position of a byte offset. Offsets outside the file are
// clamped to it; an offset inside a multi-byte character counts as that
// character.
func (f *File) Pos(off int) Pos {
	off = f.clamp(off)
	line := sort.Search(len(f.lines), func(i int) bool { return f.lines[i] > off }) - 1
	start := f.lines[line]
	col := 1 + utf8.RuneCount(f.Src[start:off])
	return Pos{Line: line + 1, Column: col, Byte: off}
}

// Range returns the range [start, end) of byte offsets in this file.
func (f *File) Range(start, end int) Range {
	if end < start {
		end = start
	}
	return Range{Filename: f.Name, Start: f.Pos(start), End: f.Pos(end)}
}

// LineStart returns the byte offset at which 1-based line starts, clamped to
// the file.
func (f *File) LineStart(line int) int {
	if line < 1 {
		return 0
	}
	if line > len(f.lines) {
		return len(f.Src)
	}
	return f.lines[line-1]
}

// LineEnd returns the byte offset of the end of 1-based line, excluding its
// newline (and a preceding carriage return).
func (f *File) LineEnd(line int) int {
	end := len(f.Src)
	if line < len(f.lines) {
		end = f.lines[line] - 1
	}
	if line >= 1 && line <= len(f.lines) && end > f.lines[line-1] && f.Src[end-1] == '\r' {
		end--
	}
	if end < f.LineStart(line) {
		end = f.LineStart(line)
	}
	return end
}

// Line returns the text of 1-based line without its line ending.
func (f *File) Line(line int) []byte { return f.Src[f.LineStart(line):f.LineEnd(line)] }

// UTF16Column returns the 0-based UTF-16 code-unit column of a byte offset on
// its line, as the Language Server Protocol counts by default.
func (f *File) UTF16Column(off int) int {
	off = f.clamp(off)
	p := f.Pos(off)
	n := 0
	for _, r := range string(f.Src[f.LineStart(p.Line):off]) {
		n += utf16.RuneLen(r)
	}
	return n
}

// OffsetOfUTF16 returns the byte offset of 0-based line and UTF-16 column,
// clamped to the line's end. A column that falls inside a surrogate pair
// resolves to the start of that character.
func (f *File) OffsetOfUTF16(line0, col16 int) int {
	start, end := f.LineStart(line0+1), f.LineEnd(line0+1)
	if line0+1 > len(f.lines) {
		return len(f.Src)
	}
	n := 0
	for i, r := range string(f.Src[start:end]) {
		w := utf16.RuneLen(r)
		if w < 0 {
			w = 1
		}
		if n+w > col16 {
			return start + i
		}
		n += w
	}
	return end
}

// OffsetOfByteColumn returns the byte offset of 0-based line and 0-based byte
// column (LSP's utf-8 position encoding), clamped to the line's end.
func (f *File) OffsetOfByteColumn(line0, col int) int {
	if line0+1 > len(f.lines) {
		return len(f.Src)
	}
	start, end := f.LineStart(line0+1), f.LineEnd(line0+1)
	if col < 0 {
		col = 0
	}
	if start+col > end {
		return end
	}
	return start + col
}
