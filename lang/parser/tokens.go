package parser

import "github.com/alecthomas/participle/v2/lexer"

// TokenKind classifies a token of Tokens. The zero value is invalid.
type TokenKind int

// The kinds of Tokens, one per rule of the lexer (see the token types in
// lexer.go).
const (
	TokenKindInvalid TokenKind = iota
	// TokenComment is //... or #... to the end of the line, or /* ... */.
	TokenComment
	// TokenUnterminatedComment is /* without */: the rest of the text.
	TokenUnterminatedComment
	// TokenString is "..." on one line.
	TokenString
	// TokenUnterminatedString is " to the end of its line.
	TokenUnterminatedString
	// TokenSingleQuoted is '...' on one line (an error the parser repairs
	// into a string).
	TokenSingleQuoted
	// TokenNumber is a number without its unit.
	TokenNumber
	// TokenIdent is an identifier, a keyword or a unit name.
	TokenIdent
	// TokenPunct is an operator or a bracket.
	TokenPunct
	// TokenWhitespace is a run of spaces, tabs, CRs and LFs.
	TokenWhitespace
	// TokenStray is a character no token may start with (one invalid
	// UTF-8 byte alone).
	TokenStray
)

// Token is one token of Tokens: its kind and byte range [Start, End).
type Token struct {
	Kind       TokenKind
	Start, End int
}

var tokenKinds = map[lexer.TokenType]TokenKind{
	tokComment:         TokenComment,
	tokUnterminatedCmt: TokenUnterminatedComment,
	tokString:          TokenString,
	tokUnterminatedStr: TokenUnterminatedString,
	tokSingleQuoted:    TokenSingleQuoted,
	tokNumber:          TokenNumber,
	tokIdent:           TokenIdent,
	tokPunct:           TokenPunct,
	tokWhitespace:      TokenWhitespace,
	tokInvalid:         TokenStray,
}

// Tokens splits src into the tokens of the parser's own lexer, before the
// parser's repairs and before numbers and units are joined: every byte
// belongs to exactly one token, in order. Tools that must see a text as the
// parser does (the language server's tolerant view) use it rather than a
// lexer of their own.
func Tokens(src []byte) []Token {
	s := string(src)
	out := make([]Token, 0, len(s)/4+1)
	for i := 0; i < len(s); {
		typ, end := tokenAt(s, i)
		out = append(out, Token{Kind: tokenKinds[typ], Start: i, End: end})
		i = end
	}
	return out
}
