package parser

import (
	"testing"

	"github.com/alecthomas/participle/v2/lexer"
)

// TestTokensMatchTokenizer checks that Tokens gives, for every file and
// random text the lexer tests use, the tokenizer's own tokens: same
// ranges, same kinds, every byte covered.
func TestTokensMatchTokenizer(t *testing.T) {
	texts := []string{
		"", "model m {\n  x = 24GiB // c\n}\n", "/* open", "\"open\n'q'\t#h\r\n:;|&\x00\xff😀",
		"a == b != c <= d >= e && f || !g -1.5e-3_0 % [](){},.",
	}
	for _, src := range texts {
		toks := Tokens([]byte(src))
		tz := newTokenizer("x", src)
		end := 0
		for k := 0; ; k++ {
			want := tz.next()
			if want.EOF() {
				if k != len(toks) {
					t.Errorf("%q: %d tokens, the tokenizer made %d", src, len(toks), k)
				}
				break
			}
			if k >= len(toks) {
				t.Fatalf("%q: Tokens stops after %d tokens", src, k)
			}
			got := toks[k]
			if got.Start != want.Pos.Offset || got.End != want.Pos.Offset+len(want.Value) || got.Kind != tokenKinds[want.Type] || got.Kind == TokenKindInvalid {
				t.Errorf("%q token %d: %+v, want %v %q at %d", src, k, got, want.Type, want.Value, want.Pos.Offset)
			}
			if got.Start != end {
				t.Errorf("%q token %d starts at %d, not %d", src, k, got.Start, end)
			}
			end = got.End
		}
		if end != len(src) {
			t.Errorf("%q: tokens end at %d of %d", src, end, len(src))
		}
	}
	for _, typ := range lexDef.Symbols() {
		if _, ok := tokenKinds[typ]; !ok && typ != lexer.EOF && typ != tokQuantity {
			t.Errorf("token type %d has no TokenKind", typ)
		}
	}
}
