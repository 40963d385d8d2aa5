package parser

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
	"github.com/modelwhisperer/whisperc/lang/suggest"
)

// scanned is the result of scan: the significant tokens (those the
// grammar sees: no comments, whitespace or EOF), the comments, and the
// lexical diagnostics.
type scanned struct {
	toks     []lexer.Token
	comments []*ast.Comment
	diags    diag.Diagnostics
	// invalid holds the offsets of dropped invalid characters, whose
	// consequences the parser does not report again.
	invalid []int
	// stoppedAt is the offset of the first problem not reported because
	// the file already had diag.MaxPerFile (-1: none).
	stoppedAt int
}

// report adds lexical diagnostics found at off, up to diag.MaxPerFile.
func (s *scanned) report(off int, ds ...*diag.Diagnostic) {
	if len(s.diags)+len(ds) > diag.MaxPerFile {
		if s.stoppedAt < 0 {
			s.stoppedAt = off
		}
		return
	}
	s.diags = s.diags.Append(ds...)
}

// byteOrderMark is U+FEFF encoded in UTF-8, accepted at the start of a file.
const byteOrderMark = "\uFEFF"

// significant reports whether the parser sees t (it is not elided).
func significant(t lexer.Token) bool {
	return t.Type != tokComment && t.Type != tokWhitespace && !t.EOF()
}

// scan tokenises src. It never fails: bad input becomes diagnostics, and
// the token stream is repaired (an unterminated string is kept as a string,
// an invalid character is dropped) so that parsing can go on.
func scan(f *source.File) scanned {
	s := scanned{stoppedAt: -1}
	src := string(f.Src)
	tz := newTokenizer(f.Name, src)
	// A first pass counts the tokens, so that the slice of them (64 bytes
	// each) is allocated once at its size: growing it would allocate
	// about twice that, and a file of one-byte tokens holds millions.
	s.toks = make([]lexer.Token, 0, countTokens(src))
	for {
		t := tz.next()
		if t.EOF() {
			return s
		}
		off := t.Pos.Offset
		switch t.Type {
		case tokComment:
			s.comments = append(s.comments, newComment(t))
		case tokUnterminatedCmt:
			s.report(off, diag.Errorf(f.Range(off, off+2), "E102", "Unterminated comment",
				"This /* comment is never closed, so it runs to the end of the file. Close it with */."))
			t.Type = tokComment
			s.comments = append(s.comments, newComment(t))
		case tokUnterminatedStr:
			s.report(off, diag.Errorf(f.Range(off, off+len(t.Value)), "E101", "Unterminated string",
				"A string must end with \" on the line where it starts. Add the closing quote; write \\n for a line break inside a string."))
			t.Type = tokString
		case tokSingleQuoted:
			// Kept as a string of the same length, so parsing goes on.
			inner := t.Value[1 : len(t.Value)-1]
			d := diag.Errorf(f.Range(off, off+len(t.Value)), "E106", "Single-quoted string",
				"Strings are written in double quotes. Replace the single quotes with \".")
			d.Suggestion = &diag.Suggestion{Message: "replace with", Range: *d.Subject, Replacement: `"` + strings.ReplaceAll(inner, `"`, `\"`) + `"`}
			s.report(off, d)
			t.Type, t.Value = tokString, `"`+strings.ReplaceAll(inner, `"`, `'`)+`"`
		case tokInvalid:
			if off == 0 && strings.HasPrefix(t.Value, byteOrderMark) && len(t.Value) == len(byteOrderMark) {
				// A UTF-8 byte order mark, as editors on Windows write
				// one: whitespace.
				t.Type = tokWhitespace
				break
			}
			if d := invalidChar(f, off, t.Value); d != nil {
				s.report(off, d)
			}
			// `:` for `=` and `;` for `,` are common slips: read them as
			// meant (same length, so positions hold) and go on.
			switch t.Value {
			case ":":
				t.Type, t.Value = tokPunct, "="
			case ";":
				t.Type, t.Value = tokPunct, ","
			default:
				t.Type = tokWhitespace
				s.invalid = append(s.invalid, off)
			}
		case tokNumber:
			if q, after, d := mergeUnit(f, t, *tz); q != nil {
				t, *tz = *q, after
				s.report(off, d...)
			}
		}
		if significant(t) {
			s.toks = appendToken(s.toks, t)
		}
	}
}

func newComment(t lexer.Token) *ast.Comment {
	kind := ast.CommentBlock
	switch {
	case strings.HasPrefix(t.Value, "//"):
		kind = ast.CommentLine
	case strings.HasPrefix(t.Value, "#"):
		kind = ast.CommentHash
	}
	return &ast.Comment{Extent: ast.Extent{Start: t.Pos.Offset, End: t.Pos.Offset + len(t.Value)}, Kind: kind, Text: t.Value}
}

// invalidChar reports a character no token may contain.
func invalidChar(f *source.File, off int, v string) *diag.Diagnostic {
	r, size := utf8.DecodeRuneInString(v)
	rng := f.Range(off, off+max(size, 1))
	if r == 0 || r == utf8.RuneError && size <= 1 {
		return nil // checkEncoding reports it
	}
	detail := "This character cannot start any token here."
	switch r {
	case '\'':
		detail += " Strings are written in double quotes: \"text\"."
	case ';':
		detail += " Separate items with a newline or a comma instead."
	case ':':
		detail += " Attributes are written `name = value`, with `=`."
	case '|', '&':
		detail += " The logical operators are `||` and `&&`."
	default:
		detail += " Remove it, or put it inside a string."
	}
	return diag.Errorf(rng, "E106", "Unexpected character "+quoteRune(r), detail)
}

func quoteRune(r rune) string {
	if r < ' ' || r == 0x7f {
		return fmt.Sprintf("U+%04X", r)
	}
	return "`" + string(r) + "`"
}

// sameLineSpace reports whether the bytes between offsets a and b are only
// spaces and tabs.
func sameLineSpace(src []byte, a, b int) bool {
	for _, c := range src[a:b] {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}

// mergeUnit looks at the number num and what follows it on the same line,
// reading ahead with rest, a copy of the tokenizer just after num. A unit
// (optionally after spaces) makes the pair one Quantity token, which
// mergeUnit returns with the tokenizer just after the unit. An identifier
// glued to the number that is no unit (`24Gb`) is reported as an unknown
// unit and merged anyway; so is a spaced identifier that does not start the
// next item on its line (`500 stpes`).
func mergeUnit(f *source.File, num lexer.Token, rest tokenizer) (*lexer.Token, tokenizer, diag.Diagnostics) {
	u := rest.next()
	glued := true
	if u.Type == tokWhitespace && sameLineSpace(f.Src, u.Pos.Offset, u.Pos.Offset+len(u.Value)) {
		u, glued = rest.next(), false
	}
	isPercent := u.Type == tokPunct && u.Value == "%"
	if u.Type != tokIdent && !isPercent {
		return nil, rest, nil
	}
	var ds diag.Diagnostics
	if !isPercent && !isUnit(u.Value) {
		if !glued {
			// `batch = 4 grad_accum = 8` is two items; only a word that
			// looks like a unit and starts no item is taken for one.
			next, ok := nextSignificant(rest)
			if ok && next.Pos.Line == u.Pos.Line &&
				(next.Value == "=" || next.Value == "{" || next.Type == tokIdent || next.Value == "(" || next.Value == ".") {
				return nil, rest, nil
			}
		}
		ds = ds.Append(unknownUnit(f, u))
	}
	start := num.Pos.Offset
	end := u.Pos.Offset + len(u.Value)
	q := lexer.Token{Type: tokQuantity, Value: rest.src[start:end], Pos: num.Pos}
	return &q, rest, ds
}

// nextSignificant returns the next token of t (a copy) that is not a
// comment or whitespace, as the tokenizer makes it (before scan's repairs).
func nextSignificant(t tokenizer) (lexer.Token, bool) {
	for {
		tok := t.next()
		if tok.EOF() {
			return tok, false
		}
		if significant(tok) {
			return tok, true
		}
	}
}

func unknownUnit(f *source.File, u lexer.Token) *diag.Diagnostic {
	off := u.Pos.Offset
	d := diag.Errorf(f.Range(off, off+len(u.Value)), "E105", "Unknown unit `"+u.Value+"`",
		"A number may be followed by one of the units "+strings.Join(suggestUnits, " ")+" (or the singular step, epoch, token)."+
			suggest.DidYouMean(u.Value, suggestUnits)+" Write one of them, or end the value with a comma or a newline before the next item.")
	if c := suggest.Closest(u.Value, suggestUnits); c != "" && c != u.Value {
		d.Suggestion = &diag.Suggestion{Message: "replace with", Range: *d.Subject, Replacement: c}
	}
	return d
}

// countTokens returns the number of tokens of src that are neither
// whitespace nor comments: at least as many as scan keeps.
func countTokens(src string) int {
	n := 0
	for off := 0; off < len(src); {
		typ, end := tokenAt(src, off)
		if typ != tokWhitespace && typ != tokComment && typ != tokUnterminatedCmt {
			n++
		}
		off = end
	}
	return n
}

// appendToken appends t, doubling the capacity when full: append grows
// large slices by a quarter, which for the millions of tokens of a large
// file allocates five times the final slice instead of twice.
func appendToken(toks []lexer.Token, t lexer.Token) []lexer.Token {
	if len(toks) == cap(toks) {
		grown := make([]lexer.Token, len(toks), 2*cap(toks)+16)
		copy(grown, toks)
		toks = grown
	}
	return append(toks, t)
}
