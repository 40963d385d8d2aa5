package lsp

import (
	"unicode/utf16"
	"unicode/utf8"

	"github.com/modelwhisperer/whisperc/lang/source"
	"go.lsp.dev/protocol"
)

// Encoding is the position encoding agreed with the client. The zero value
// is invalid.
type Encoding int

// The position encodings whisperc speaks.
const (
	EncodingInvalid Encoding = iota
	// EncodingUTF16 counts UTF-16 code units, the protocol's default.
	EncodingUTF16
	// EncodingUTF8 counts bytes; whisperc's own offsets need no conversion.
	EncodingUTF8
)

// Kind returns the protocol's name for the encoding.
func (e Encoding) Kind() protocol.PositionEncodingKind {
	if e == EncodingUTF8 {
		return protocol.PositionEncodingKindUTF8
	}
	return protocol.PositionEncodingKindUTF16
}

// negotiateEncoding picks utf-8 when the client lists it and utf-16
// otherwise (every client must support utf-16).
func negotiateEncoding(offered []protocol.PositionEncodingKind) Encoding {
	for _, k := range offered {
		if k == protocol.PositionEncodingKindUTF8 {
			return EncodingUTF8
		}
	}
	return EncodingUTF16
}

// Mapper converts between byte offsets in a source file and protocol
// positions in one encoding. It never says Character = Column-1: columns
// are recomputed from the line's bytes in the agreed encoding.
type Mapper struct {
	File *source.File
	Enc  Encoding
}

// Offset returns the byte offset of a protocol position, clamped to the
// file (a line past the end maps to the end of the file, a character past
// the end of its line to the line's end).
func (m Mapper) Offset(p protocol.Position) int {
	if m.Enc == EncodingUTF8 {
		return m.File.OffsetOfByteColumn(int(p.Line), int(p.Character))
	}
	return m.File.OffsetOfUTF16(int(p.Line), int(p.Character))
}

// Position returns the protocol position of a byte offset. An offset
// between a line's CR and LF is the end of the line: the protocol's lines
// end before their CR LF.
func (m Mapper) Position(off int) protocol.Position {
	p := m.File.Pos(off)
	if end := m.File.LineEnd(p.Line); p.Byte > end {
		p = m.File.Pos(end)
	}
	var col int
	if m.Enc == EncodingUTF8 {
		col = p.Byte - m.File.LineStart(p.Line)
	} else {
		col = m.File.UTF16Column(p.Byte)
	}
	return protocol.Position{Line: uint32(p.Line - 1), Character: uint32(col)}
}

// Range returns the protocol range of the byte offsets [start, end).
func (m Mapper) Range(start, end int) protocol.Range {
	if end < start {
		end = start
	}
	return protocol.Range{Start: m.Position(start), End: m.Position(end)}
}

// SourceRange returns the protocol range of a source.Range of this file. It
// uses the byte offsets only, so a range built for the same bytes under a
// different line table still maps correctly.
func (m Mapper) SourceRange(r source.Range) protocol.Range {
	return m.Range(r.Start.Byte, r.End.Byte)
}

// Offsets returns the byte offsets of a protocol range, ordered.
func (m Mapper) Offsets(r protocol.Range) (start, end int) {
	start, end = m.Offset(r.Start), m.Offset(r.End)
	if end < start {
		start, end = end, start
	}
	return start, end
}

// cursor computes protocol positions for increasing byte offsets in one
// pass, where calling Mapper.Position for every token of a long line would
// rescan the line each time. It gives the same answers as Mapper.Position.
type cursor struct {
	src       []byte
	enc       Encoding
	line, col int // of at
	at        int
}

// pos returns the position of off; offsets must not decrease between
// calls (a smaller one restarts from the beginning).
func (c *cursor) pos(off int) protocol.Position {
	if off > len(c.src) {
		off = len(c.src)
	}
	if off > 0 && off < len(c.src) && c.src[off] == '\n' && c.src[off-1] == '\r' {
		off-- // the end of a CR LF line is before its CR
	}
	if off < c.at {
		c.line, c.col, c.at = 0, 0, 0
	}
	for c.at < off {
		b := c.src[c.at]
		switch {
		case b == '\n':
			c.line++
			c.col = 0
			c.at++
			continue
		case c.enc == EncodingUTF8 || b < utf8.RuneSelf:
			c.col++
			c.at++
			continue
		}
		r, w := utf8.DecodeRune(c.src[c.at:])
		if c.at+w > off {
			break // off is inside a character: it counts as that character
		}
		n := utf16.RuneLen(r)
		if n < 0 {
			n = 1
		}
		c.col += n
		c.at += w
		continue
	}
	return protocol.Position{Line: uint32(c.line), Character: uint32(c.col)}
}
