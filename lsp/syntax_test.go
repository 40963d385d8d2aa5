package lsp

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	langparser "github.com/modelwhisperer/whisperc/lang/parser"
)

// examples returns the repository's example pipelines, as seeds.
func examples(tb testing.TB) [][]byte {
	_, here, _, _ := runtime.Caller(0)
	paths, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(here)), "examples", "*.whisper"))
	var out [][]byte
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// checkTree checks the tolerant tree's invariants: tokens ordered, within
// the source and non-empty; every block and attribute range within the
// source; children inside their parents.
func checkTree(t *testing.T, src []byte) {
	tr := parseTree(src)
	prev := 0
	for i, tk := range tr.toks {
		if tk.start < prev || tk.end <= tk.start || tk.end > len(src) {
			t.Fatalf("token %d [%d,%d) after %d in %d bytes", i, tk.start, tk.end, prev, len(src))
		}
		prev = tk.end
	}
	var visit func(b *block)
	visit = func(b *block) {
		if b.Start < 0 || b.End > len(src) || b.Start > b.End {
			t.Fatalf("block %q [%d,%d)", b.Kind, b.Start, b.End)
		}
		for _, a := range b.Attrs {
			if a.NameStart < b.Start || a.ValueStart > a.ValueEnd || a.ValueEnd > len(src) || a.ZoneEnd < a.ValueEnd || a.valFirst > a.valLast {
				t.Fatalf("attr %q: %+v in block [%d,%d)", a.Name, a, b.Start, b.End)
			}
		}
		for _, c := range b.Blocks {
			if c.Start < b.Start || c.End > b.End {
				t.Fatalf("block %q [%d,%d) outside its parent [%d,%d)", c.Kind, c.Start, c.End, b.Start, b.End)
			}
			visit(c)
		}
	}
	visit(tr.root)
	// The analysis-free views work on the tree without panicking.
	a := &analysis{tree: tr, unit: map[string]*unitFile{}}
	for off := 0; off <= len(src); off += 1 + len(src)/16 {
		completions(a, off)
		if i, ok := tr.tokenAt(off); ok {
			hoverText(a, i)
		}
	}
	semanticData(a, testMapper(string(src), EncodingUTF16))
	// The one-pass cursor agrees with the mapper at every token boundary.
	for _, enc := range []Encoding{EncodingUTF16, EncodingUTF8} {
		m := testMapper(string(src), enc)
		c := &cursor{src: src, enc: enc}
		for _, tk := range tr.toks {
			for _, off := range []int{tk.start, tk.end} {
				if got, want := c.pos(off), m.Position(off); got != want {
					t.Fatalf("enc %d offset %d: cursor %+v, mapper %+v", enc, off, got, want)
				}
			}
		}
	}
}

func TestParseTreeExamples(t *testing.T) {
	exs := examples(t)
	if len(exs) == 0 {
		t.Skip("no examples/*.whisper found")
	}
	for _, src := range exs {
		checkTree(t, src)
		tr := parseTree(src)
		if len(tr.root.Blocks) == 0 {
			t.Errorf("no blocks found in an example")
		}
	}
}

func TestParseTreeShapes(t *testing.T) {
	tr := parseTree([]byte("import \"a.whisper\"\nmodel m {\n  quantize { method = nf4, double = true }\n  x = [1,\n 2]\n  y = 3 GiB\n}\ntrack {"))
	if len(tr.imports) != 1 || tr.imports[0].Path != "a.whisper" {
		t.Errorf("imports %+v", tr.imports)
	}
	if len(tr.root.Blocks) != 2 {
		t.Fatalf("%d top-level blocks", len(tr.root.Blocks))
	}
	m := tr.root.Blocks[0]
	if m.Kind != "model" || m.Name != "m" || len(m.Blocks) != 1 || len(m.Attrs) != 2 {
		t.Fatalf("model block %+v", m)
	}
	q := m.Blocks[0]
	if len(q.Attrs) != 2 || q.Attrs[0].Name != "method" || q.Attrs[1].Name != "double" {
		t.Errorf("quantize attrs %+v", q.Attrs)
	}
	if x := m.Attrs[0]; x.Name != "x" || string(tr.src[x.ValueStart:x.ValueEnd]) != "[1,\n 2]" {
		t.Errorf("multi-line list value %q", tr.src[x.ValueStart:x.ValueEnd])
	}
	if tk := tr.toks[len(tr.toks)-4]; tk.kind != tokUnit {
		t.Errorf("3 GiB: unit not recognised: %+v", tk)
	}
	if tk := tr.root.Blocks[1]; tk.Kind != "track" || tk.Close != -1 {
		t.Errorf("unclosed track %+v", tk)
	}
}

// sameTokensAsParser checks that the tolerant view's tokens are the
// parser's lexer's tokens (whitespace aside): same ranges, and kinds that
// agree on what is a string, a comment, a number or an identifier.
func sameTokensAsParser(t *testing.T, src []byte) {
	t.Helper()
	var want []langparser.Token
	for _, lt := range langparser.Tokens(src) {
		if lt.Kind != langparser.TokenWhitespace {
			want = append(want, lt)
		}
	}
	got := parseTree(src).toks
	if len(got) != len(want) {
		t.Fatalf("%d tokens, the parser's lexer makes %d", len(got), len(want))
	}
	kinds := map[langparser.TokenKind][]tokKind{
		langparser.TokenComment:             {tokComment},
		langparser.TokenUnterminatedComment: {tokError},
		langparser.TokenString:              {tokString},
		langparser.TokenSingleQuoted:        {tokString},
		langparser.TokenUnterminatedString:  {tokError},
		langparser.TokenNumber:              {tokNumber},
		langparser.TokenIdent:               {tokIdent, tokUnit},
		langparser.TokenPunct:               {tokPunct, tokUnit},
		langparser.TokenStray:               {tokError},
	}
	for i, w := range want {
		g := got[i]
		if g.start != w.Start || g.end != w.End || !slices.Contains(kinds[w.Kind], g.kind) {
			t.Errorf("token %d: %+v %q, the parser's lexer has %+v %q", i, g, src[g.start:g.end], w, src[w.Start:w.End])
		}
	}
}

// TestTokensAreTheParsers checks the tolerant view against the parser's
// lexer on the examples and on the texts where a scanner of its own once
// disagreed with it.
func TestTokensAreTheParsers(t *testing.T) {
	texts := append(examples(t),
		[]byte("x = \"a\\\nb\"\n"),         // a backslash before the line's end
		[]byte("model 'm' { x = 'y' }"),    // single quotes
		[]byte("a\f= 1\v\n"),               // form feed and vertical tab
		[]byte("x = 1 : 2; y = 3 & 4 | 5"), // stray characters
		[]byte("/* open"),
		[]byte("y = 3 GiB, z = 5%, w = 2 Gb"),
	)
	for _, src := range texts {
		sameTokensAsParser(t, src)
	}
	tr := parseTree([]byte("model 'm' { x = 'y' }"))
	if len(tr.root.Blocks) != 1 || tr.root.Blocks[0].Name != "m" {
		t.Errorf("single-quoted block name: %+v", tr.root.Blocks)
	}
}

func FuzzParseTree(f *testing.F) {
	for _, src := range examples(f) {
		f.Add(src)
	}
	f.Add([]byte(program))
	f.Add([]byte("model { = [ ( \"\\u{1F600 /* 😀"))
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 1<<13 {
			return
		}
		checkTree(t, src)
		sameTokensAsParser(t, src)
	})
}
