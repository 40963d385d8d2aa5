package parser

import (
	"io"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// Token types. The tokenizer tries the token kinds in this order at each
// position, so that lexing never fails: the kinds after the first ones
// match what no earlier kind does (an unterminated string or comment, any
// other character), and scan turns them into positioned diagnostics.
//
//	Comment              //... or #... to the end of the line; /* ... */
//	UnterminatedComment  /* without */: the rest of the file
//	String               "..." on one line, with \ escaping any character
//	UnterminatedString   " to the end of the line (a final \ included)
//	SingleQuoted         '...' on one line
//	Number               [0-9][0-9_]*(\.[0-9][0-9_]*)?([eE][+-]?[0-9][0-9_]*)?
//	Ident                [A-Za-z_][A-Za-z0-9_]*
//	Punct                == != <= >= && || and one of -+*/!<>=(){}[],.%
//	Whitespace           a run of spaces, tabs, CRs and LFs
//	Invalid              any other character (one invalid UTF-8 byte alone)
//
// Quantity is made by scan, merging a number with its unit. The values
// are those participle's regular-expression lexer gave the same rules
// (EOF is -1 and each rule one less than the previous), so that the
// tokens are the same whichever lexer made them.
const (
	tokComment         lexer.TokenType = -2
	tokUnterminatedCmt lexer.TokenType = -3
	tokString          lexer.TokenType = -4
	tokUnterminatedStr lexer.TokenType = -5
	tokSingleQuoted    lexer.TokenType = -6
	tokNumber          lexer.TokenType = -7
	tokIdent           lexer.TokenType = -8
	tokPunct           lexer.TokenType = -9
	tokWhitespace      lexer.TokenType = -10
	tokInvalid         lexer.TokenType = -11
	tokQuantity        lexer.TokenType = -100
	// tokSyntheticBrace is the type of the `}` recovery adds where one is
	// missing (see closeBrace): the grammar's "}" matches any token type.
	tokSyntheticBrace lexer.TokenType = -101
)

// elidedTokenTypeName names the token types the grammar does not see.
var elidedTokenTypeName = []string{"Comment", "Whitespace"}

// definition is the lexer as participle sees it: a lexer.Definition whose
// lexers are hand-written scanners (one pass, no backtracking, no
// allocation but the tokens).
type definition struct{}

// lexDef is the lexer definition.
var lexDef definition

// Symbols returns the name of every token type, Quantity and EOF included.
// It returns a new map on each call.
func (definition) Symbols() map[string]lexer.TokenType {
	return map[string]lexer.TokenType{
		"EOF":                 lexer.EOF,
		"Comment":             tokComment,
		"UnterminatedComment": tokUnterminatedCmt,
		"String":              tokString,
		"UnterminatedString":  tokUnterminatedStr,
		"SingleQuoted":        tokSingleQuoted,
		"Number":              tokNumber,
		"Ident":               tokIdent,
		"Punct":               tokPunct,
		"Whitespace":          tokWhitespace,
		"Invalid":             tokInvalid,
		"Quantity":            tokQuantity,
	}
}

// Lex returns a lexer of everything r holds.
func (d definition) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	var b strings.Builder
	if _, err := io.Copy(&b, r); err != nil {
		return nil, err
	}
	return d.LexString(filename, b.String())
}

// LexString returns a lexer of s.
func (definition) LexString(filename string, s string) (lexer.Lexer, error) {
	return newTokenizer(filename, s), nil
}

// LexBytes returns a lexer of a copy of b.
func (definition) LexBytes(filename string, b []byte) (lexer.Lexer, error) {
	return newTokenizer(filename, string(b)), nil
}

// tokenizer splits a text into tokens. Every byte belongs to exactly one
// token; after the last one, Next returns EOF tokens.
type tokenizer struct {
	src string
	pos lexer.Position // of src[pos.Offset], the next token
}

func newTokenizer(filename, src string) *tokenizer {
	return &tokenizer{src: src, pos: lexer.Position{Filename: filename, Line: 1, Column: 1}}
}

// Next returns the next token, or EOF at the end of the text. It never
// fails.
func (t *tokenizer) Next() (lexer.Token, error) {
	return t.next(), nil
}

func (t *tokenizer) next() lexer.Token {
	start := t.pos.Offset
	if start >= len(t.src) {
		return lexer.EOFToken(t.pos)
	}
	typ, end := tokenAt(t.src, start)
	tok := lexer.Token{Type: typ, Value: t.src[start:end], Pos: t.pos}
	t.advance(tok.Value)
	return tok
}

// advance moves the position past span, counting lines and columns as
// participle does: a column counts characters (an invalid UTF-8 byte as
// one), and starts at 1.
func (t *tokenizer) advance(span string) {
	t.pos.Offset += len(span)
	nl := strings.LastIndexByte(span, '\n')
	if nl < 0 {
		t.pos.Column += runeCount(span)
		return
	}
	t.pos.Line += strings.Count(span[:nl+1], "\n")
	t.pos.Column = 1 + runeCount(span[nl+1:])
}

// runeCount is utf8.RuneCountInString with a fast path for ASCII.
func runeCount(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return i + utf8.RuneCountInString(s[i:])
		}
	}
	return len(s)
}

// tokenAt returns the type and the end of the token that starts at
// src[i], which must exist.
func tokenAt(src string, i int) (lexer.TokenType, int) {
	c := src[i]
	switch {
	case c == '/' && i+1 < len(src) && src[i+1] == '/', c == '#':
		if nl := strings.IndexByte(src[i:], '\n'); nl >= 0 {
			return tokComment, i + nl
		}
		return tokComment, len(src)
	case c == '/' && i+1 < len(src) && src[i+1] == '*':
		if e := strings.Index(src[i+2:], "*/"); e >= 0 {
			return tokComment, i + 2 + e + 2
		}
		return tokUnterminatedCmt, len(src)
	case c == '"':
		return stringAt(src, i)
	case c == '\'':
		for j := i + 1; j < len(src); j++ {
			switch src[j] {
			case '\'':
				return tokSingleQuoted, j + 1
			case '\n':
				return tokInvalid, i + 1
			}
		}
		return tokInvalid, i + 1
	case isDigit(c):
		return tokNumber, numberEnd(src, i)
	case isLetter(c):
		j := i + 1
		for j < len(src) && (isLetter(src[j]) || isDigit(src[j])) {
			j++
		}
		return tokIdent, j
	case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		j := i + 1
		for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '\r' || src[j] == '\n') {
			j++
		}
		return tokWhitespace, j
	}
	if i+1 < len(src) && src[i+1] == punct2[c] && punct2[c] != 0 {
		return tokPunct, i + 2
	}
	if punct1[c] {
		return tokPunct, i + 1
	}
	if c < 0x80 {
		return tokInvalid, i + 1
	}
	_, size := utf8.DecodeRuneInString(src[i:])
	return tokInvalid, i + size
}

// stringAt scans the string that starts with the quote at src[i]: up to
// the closing quote (a String), or, when the line or the text ends first,
// up to the end of the line (an UnterminatedString, which keeps a final
// backslash).
func stringAt(src string, i int) (lexer.TokenType, int) {
	j := i + 1
	for j < len(src) {
		switch src[j] {
		case '"':
			return tokString, j + 1
		case '\n':
			return tokUnterminatedStr, j
		case '\\':
			if j+1 >= len(src) || src[j+1] == '\n' {
				return tokUnterminatedStr, j + 1
			}
			// The escaped character's other bytes, if any, are not
			// ASCII, so the loop steps over them as ordinary bytes.
			j += 2
		default:
			j++
		}
	}
	return tokUnterminatedStr, j
}

// numberEnd returns the end of the number that starts with the digit at
// src[i]: digits and underscores, then optionally a fraction (a dot and a
// digit) and an exponent (e or E, an optional sign and a digit), each
// followed by more digits and underscores.
func numberEnd(src string, i int) int {
	digits := func(j int) int {
		for j < len(src) && (isDigit(src[j]) || src[j] == '_') {
			j++
		}
		return j
	}
	j := digits(i + 1)
	if j+1 < len(src) && src[j] == '.' && isDigit(src[j+1]) {
		j = digits(j + 2)
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < len(src) && isDigit(src[k]) {
			j = digits(k + 1)
		}
	}
	return j
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }

// punct2 maps the first character of each two-character operator to its
// second; punct1 holds the one-character punctuation.
var (
	punct2 = [256]byte{'=': '=', '!': '=', '<': '=', '>': '=', '&': '&', '|': '|'}
	punct1 = [256]bool{'-': true, '+': true, '*': true, '/': true, '!': true, '<': true, '>': true, '=': true,
		'(': true, ')': true, '{': true, '}': true, '[': true, ']': true, ',': true, '.': true, '%': true}
)
