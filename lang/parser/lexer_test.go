package parser

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/google/go-cmp/cmp"

	"github.com/modelwhisperer/whisperc/lang/chunkedfile"
)

// regexpLexDef is the reference for the hand-written tokenizer: the
// regular-expression lexer whisperc used before, rule for rule. It is
// correct by construction but quadratic (the regexp backtracker clears
// state proportional to the remaining input on every token), so the
// tokenizer replaced it; the tests below keep the two equal.
var regexpLexDef = lexer.MustSimple([]lexer.SimpleRule{
	{Name: "Comment", Pattern: `//[^\n]*|#[^\n]*|/\*([^*]|\*+[^*/])*\*+/`},
	{Name: "UnterminatedComment", Pattern: `/\*(?s:.)*`},
	{Name: "String", Pattern: `"(\\[^\n]|[^"\\\n])*"`},
	{Name: "UnterminatedString", Pattern: `"(\\[^\n]|[^"\\\n])*\\?`},
	{Name: "SingleQuoted", Pattern: `'[^'\n]*'`},
	{Name: "Number", Pattern: `[0-9][0-9_]*(\.[0-9][0-9_]*)?([eE][+-]?[0-9][0-9_]*)?`},
	{Name: "Ident", Pattern: `[A-Za-z_][A-Za-z0-9_]*`},
	{Name: "Punct", Pattern: `==|!=|<=|>=|&&|\|\||[-+*/!<>=(){}\[\],.%]`},
	{Name: "Whitespace", Pattern: `[ \t\r\n]+`},
	{Name: "Invalid", Pattern: `(?s:.)`},
})

// regexpTokens lexes src with the reference lexer.
func regexpTokens(t testing.TB, src string) []lexer.Token {
	t.Helper()
	lex, err := regexpLexDef.LexString("f.whisper", src)
	if err != nil {
		t.Fatal(err)
	}
	toks, err := lexer.ConsumeAll(lex)
	if err != nil {
		t.Fatalf("reference lexer failed on %q: %v", src, err)
	}
	return toks
}

// tokenize returns every token of src, ending with EOF.
func tokenize(filename, src string) []lexer.Token {
	t := newTokenizer(filename, src)
	var toks []lexer.Token
	for {
		tok := t.next()
		toks = append(toks, tok)
		if tok.EOF() {
			return toks
		}
	}
}

// checkSameTokens fails unless the tokenizer gives src the reference
// lexer's tokens: the same types, values and positions, EOF included.
func checkSameTokens(t testing.TB, name, src string) {
	t.Helper()
	want := regexpTokens(t, src)
	got := tokenize("f.whisper", src)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%s: tokens of %q differ from the regexp lexer's (-want +got):\n%s", name, src, diff)
	}
}

func TestTokenSymbolsMatchRegexpLexer(t *testing.T) {
	want := regexpLexDef.Symbols()
	got := lexDef.Symbols()
	for name, typ := range want {
		if got[name] != typ {
			t.Errorf("token type %s = %d, the regexp lexer's is %d", name, got[name], typ)
		}
	}
	if len(got) != len(want)+1 || got["Quantity"] != tokQuantity {
		t.Errorf("symbols %v: want the regexp lexer's and Quantity", got)
	}
}

// TestTokenizerMatchesRegexpOnFiles compares the two lexers on every
// .whisper file of the repository's examples and of this package's test
// data, and on each chunk of the chunked test files.
func TestTokenizerMatchesRegexpOnFiles(t *testing.T) {
	files := exampleFiles(t)
	more, err := filepath.Glob("testdata/*.whisper")
	if err != nil {
		t.Fatal(err)
	}
	render, err := filepath.Glob("testdata/render/*.whisper")
	if err != nil {
		t.Fatal(err)
	}
	files = append(append(files, more...), render...)
	for _, fn := range files {
		src, err := os.ReadFile(fn)
		if err != nil {
			t.Fatal(err)
		}
		checkSameTokens(t, fn, string(src))
		for _, c := range chunkedfile.Read(t, fn) {
			checkSameTokens(t, fn+" chunk", string(c.Source))
		}
	}
	checkSameTokens(t, "bench program", string(benchProgram(300)))
}

// lexFragments are the pieces random inputs are made of: every character
// that starts or ends a token, in the combinations where the rules
// interact, and bytes that are not UTF-8.
var lexFragments = []string{
	"/", "*", "/*", "*/", "**/", "//", "#", "\n", "\r\n", " ", "\t", "\r",
	`"`, `\`, `\"`, `\\`, `\n`, "'", "a", "Z", "_", "x1", "import", "true",
	"0", "9", "1_000", ".", "e", "E", "+", "-", "1e5", "2.5", "3.", "_1",
	"=", "==", "!", "!=", "<", "<=", ">", ">=", "&", "&&", "|", "||",
	"(", ")", "{", "}", "[", "]", ",", "%", ":", ";", "@", "$", "~", "`",
	"é", "日本", "\u2028", "\uFFFD", "\x00", "\xff", "\xc3", "\xe6\x97", "\x80", "\x7f",
	"GiB", "steps", "24GB", "500 steps",
}

// TestTokenizerMatchesRegexpOnRandomText compares the two lexers on
// random texts built from lexFragments (a fixed seed, so a failure is
// reproducible).
func TestTokenizerMatchesRegexpOnRandomText(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 2000
	}
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.Reset()
		for k := r.IntN(24); k >= 0; k-- {
			b.WriteString(lexFragments[r.IntN(len(lexFragments))])
		}
		checkSameTokens(t, "random", b.String())
	}
	// Random bytes, for whatever the fragments miss.
	buf := make([]byte, 64)
	for i := 0; i < n/4; i++ {
		for k := range buf {
			buf[k] = byte(r.UintN(256))
		}
		checkSameTokens(t, "random bytes", string(buf[:r.IntN(len(buf))]))
	}
}

// TestTokenizerThroughParticipleInterfaces checks the lexer.Definition
// entry points participle may call: Lex, LexString and LexBytes.
func TestTokenizerThroughParticipleInterfaces(t *testing.T) {
	const src = "model m { rank = 16 } // c\n\"s"
	want := regexpTokens(t, src)
	for name, mk := range map[string]func() (lexer.Lexer, error){
		"Lex":       func() (lexer.Lexer, error) { return lexDef.Lex("f.whisper", strings.NewReader(src)) },
		"LexString": func() (lexer.Lexer, error) { return lexDef.LexString("f.whisper", src) },
		"LexBytes":  func() (lexer.Lexer, error) { return lexDef.LexBytes("f.whisper", []byte(src)) },
	} {
		lex, err := mk()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := lexer.ConsumeAll(lex)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

// FuzzTokenizerMatchesRegexp compares the two lexers on arbitrary text.
func FuzzTokenizerMatchesRegexp(f *testing.F) {
	for _, s := range lexFragments {
		f.Add(s)
	}
	f.Add(string(benchProgram(40)))
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 4096 {
			return // the reference lexer is quadratic
		}
		checkSameTokens(t, "fuzz", src)
	})
}
