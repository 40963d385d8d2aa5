package lsp

import (
	langparser "github.com/modelwhisperer/whisperc/lang/parser"
	"github.com/modelwhisperer/whisperc/stdlib"
)

// This file is the server's tolerant view of a document: the parser's own
// tokens and a block/attribute tree that accept any text, half-typed or
// invalid, and never fail. The parser in lang/parser is the authority on what a program
// means and reports the errors; this view only has to say, at a cursor,
// which block it is in, which attribute it is typing and what each token
// looks like, so that completion, hover, the outline and highlighting keep
// working while the file does not parse.

// tokKind classifies a scanned token. The zero value is invalid.
type tokKind int

const (
	tokInvalid tokKind = iota
	tokIdent
	tokNumber
	tokUnit // a unit right after a number on the same line: 24GiB, 500 steps
	tokString
	tokComment
	tokPunct // { } [ ] ( ) = , . and operators
	tokError // a stray character or an unterminated string or comment
)

// token is one scanned token: its kind, byte range and whether a newline
// separates it from the previous token.
type token struct {
	kind       tokKind
	start, end int
	nlBefore   bool
}

// scan splits src into tokens with the parser's own lexer
// (langparser.Tokens), so that the tolerant view and the parser never
// disagree on where a string, a comment or a number ends. It never fails:
// an unterminated string or comment, and a character no token may start
// with, become tokError tokens. A single-quoted string, which the parser
// reports and then reads as a string, is a string here too.
func scan(src []byte) []token {
	toks := make([]token, 0, len(src)/4+1)
	units := map[string]bool{}
	for _, u := range stdlib.Units() {
		units[u.Name] = true
	}
	nl := false
	for _, lt := range langparser.Tokens(src) {
		var kind tokKind
		switch lt.Kind {
		case langparser.TokenWhitespace:
			if containsNewline(src[lt.Start:lt.End]) {
				nl = true
			}
			continue
		case langparser.TokenComment:
			kind = tokComment
		case langparser.TokenString, langparser.TokenSingleQuoted:
			kind = tokString
		case langparser.TokenNumber:
			kind = tokNumber
		case langparser.TokenIdent:
			kind = tokIdent
		case langparser.TokenPunct:
			kind = tokPunct
		default: // unterminated strings and comments, stray characters
			kind = tokError
		}
		// A unit follows its number on the same line: 24GiB, 500 steps.
		if kind == tokIdent && len(toks) > 0 && !nl {
			if prev := toks[len(toks)-1]; prev.kind == tokNumber && onlySpaces(src[prev.end:lt.Start]) && units[string(src[lt.Start:lt.End])] {
				kind = tokUnit
			}
		}
		if kind == tokPunct && src[lt.Start] == '%' && len(toks) > 0 && !nl {
			if prev := toks[len(toks)-1]; prev.kind == tokNumber && onlySpaces(src[prev.end:lt.Start]) {
				kind = tokUnit
			}
		}
		toks = append(toks, token{kind: kind, start: lt.Start, end: lt.End, nlBefore: nl})
		nl = kind == tokComment && containsNewline(src[lt.Start:lt.End])
	}
	return toks
}

func onlySpaces(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}

func containsNewline(b []byte) bool {
	for _, c := range b {
		if c == '\n' {
			return true
		}
	}
	return false
}

// isIdentStart reports whether an identifier starts at src[i]. Like the
// parser's lexer, identifiers are ASCII: [A-Za-z_][A-Za-z0-9_]*.
func isIdentStart(src []byte, i int) bool {
	c := src[i]
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func scanIdent(src []byte, i int) int {
	for i < len(src) && (isIdentStart(src, i) || '0' <= src[i] && src[i] <= '9') {
		i++
	}
	return i
}

// block is a block in the tolerant tree. The root block stands for the file
// and has no kind.
type block struct {
	Kind               string
	KindStart, KindEnd int
	Name               string
	NameStart, NameEnd int // equal when the block has no name
	Open, Close        int // offsets of the braces; Close is -1 while unclosed
	Start, End         int
	Parent             *block
	Blocks             []*block
	Attrs              []*attr
	schema             *stdlib.Block // set by parseTree
}

// attr is an attribute `name = value` in the tolerant tree.
type attr struct {
	Name               string
	NameStart, NameEnd int
	Eq                 int // offset of '='
	ValueStart         int
	ValueEnd           int // end of the last value token, or after '=' when empty
	// ZoneEnd is where a cursor stops counting as "in this value": the end
	// of the line for a value that ran to its line's end, else the
	// separator that ended it.
	ZoneEnd           int
	Block             *block
	valFirst, valLast int // token indices of the value [valFirst, valLast)
}

// importStmt is `import "path"` at the top level.
type importStmt struct {
	Path               string
	Start, End         int
	PathStart, PathEnd int
}

// syntaxTree is a document's tolerant structure.
type syntaxTree struct {
	src     []byte
	toks    []token
	code    []int // indices into toks of the non-comment tokens
	root    *block
	imports []importStmt
}

// parseTree builds the tolerant tree of src.
func parseTree(src []byte) *syntaxTree {
	if len(src) > langparser.MaxFileSize {
		// Not a .whisper file the command line would read (the parser
		// says so, E114): no structure, rather than seconds of work per
		// keystroke.
		src = src[:0]
	}
	t := &syntaxTree{src: src, toks: scan(src)}
	for i, tk := range t.toks {
		if tk.kind != tokComment {
			t.code = append(t.code, i)
		}
	}
	t.root = &block{Open: -1, Close: -1, Start: 0, End: len(src)}
	p := parser{t: t}
	p.body(t.root)
	// Settle every block's schema now: the tree is shared by concurrent
	// requests and must not change after it is built.
	kinds := map[string]*stdlib.Block{}
	for _, blk := range stdlib.Blocks() {
		kinds[blk.Kind] = &blk
	}
	t.root.walk(func(b *block) { b.resolveSchema(kinds) })
	return t
}

// parser walks the code tokens once, building blocks and attributes.
type parser struct {
	t *syntaxTree
	i int // index into t.code
}

func (p *parser) tok(k int) (token, bool) {
	if k < 0 || k >= len(p.t.code) {
		return token{}, false
	}
	return p.t.toks[p.t.code[k]], true
}

func (p *parser) text(tk token) string { return string(p.t.src[tk.start:tk.end]) }

func (p *parser) is(k int, kind tokKind, text string) bool {
	tk, ok := p.tok(k)
	if !ok || tk.kind != kind {
		return false
	}
	return text == "" || p.text(tk) == text
}

// body parses items until the closing brace of b (or the end of input for
// the root) and records b's end.
func (p *parser) body(b *block) {
	for p.i < len(p.t.code) {
		tk, _ := p.tok(p.i)
		switch {
		case p.is(p.i, tokPunct, "}"):
			if b.Parent == nil {
				p.i++ // a stray brace at the top level
				continue
			}
			b.Close = tk.start
			b.End = tk.end
			p.i++
			return
		case b.Parent == nil && p.is(p.i, tokIdent, "import") && p.is(p.i+1, tokString, ""):
			s, _ := p.tok(p.i + 1)
			path := unquote(p.t.src[s.start:s.end])
			p.t.imports = append(p.t.imports, importStmt{Path: path, Start: tk.start, End: s.end, PathStart: s.start, PathEnd: s.end})
			p.i += 2
		case tk.kind == tokIdent && p.is(p.i+1, tokPunct, "="):
			p.attribute(b)
		case tk.kind == tokIdent && p.is(p.i+1, tokPunct, "{"):
			p.block(b, false)
		case tk.kind == tokIdent && (p.is(p.i+1, tokIdent, "") || p.is(p.i+1, tokString, "")) && p.is(p.i+2, tokPunct, "{"):
			p.block(b, true)
		default:
			p.i++
		}
	}
	if b.Parent != nil {
		b.Close = -1
		b.End = len(p.t.src)
	}
}

func (p *parser) block(parent *block, named bool) {
	kind, _ := p.tok(p.i)
	b := &block{Kind: p.text(kind), KindStart: kind.start, KindEnd: kind.end, Start: kind.start, Parent: parent, NameStart: kind.end, NameEnd: kind.end}
	p.i++
	if named {
		name, _ := p.tok(p.i)
		b.Name = p.text(name)
		if name.kind == tokString {
			b.Name = unquote(p.t.src[name.start:name.end])
		}
		b.NameStart, b.NameEnd = name.start, name.end
		p.i++
	}
	open, _ := p.tok(p.i)
	b.Open = open.start
	p.i++
	parent.Blocks = append(parent.Blocks, b)
	p.body(b)
}

func (p *parser) attribute(b *block) {
	name, _ := p.tok(p.i)
	eq, _ := p.tok(p.i + 1)
	a := &attr{Name: p.text(name), NameStart: name.start, NameEnd: name.end, Eq: eq.start, ValueStart: eq.end, ValueEnd: eq.end, Block: b}
	p.i += 2
	a.valFirst = p.i
	depth := 0
	a.ZoneEnd = -1
	for p.i < len(p.t.code) {
		tk, _ := p.tok(p.i)
		if p.i > a.valFirst && tk.nlBefore && depth == 0 {
			break
		}
		if tk.kind == tokPunct {
			switch p.text(tk) {
			case "(", "[", "{":
				depth++
			case ")", "]":
				if depth > 0 {
					depth--
				}
			case "}":
				if depth == 0 {
					a.ZoneEnd = tk.start
					goto done
				}
				depth--
			case ",":
				if depth == 0 {
					a.ZoneEnd = tk.start
					p.i++
					goto done
				}
			}
		}
		if a.valFirst == p.i && tk.nlBefore {
			break // `name =` followed by a newline: the value is missing
		}
		a.ValueEnd = tk.end
		p.i++
	}
done:
	a.valLast = p.i
	if a.ZoneEnd < 0 {
		a.ZoneEnd = lineEnd(p.t.src, a.ValueEnd)
	} else if p.is(a.valLast-1, tokPunct, ",") {
		a.valLast-- // the separator is not part of the value
	}
	a.ValueStart = a.ValueEnd
	if a.valLast > a.valFirst {
		first, _ := p.tok(a.valFirst)
		a.ValueStart = first.start
	}
	b.Attrs = append(b.Attrs, a)
}

// lineEnd returns the offset of the end of the line containing off.
func lineEnd(src []byte, off int) int {
	for off < len(src) && src[off] != '\n' {
		off++
	}
	return off
}

// unquote returns the contents of a string literal with the common escapes
// resolved; malformed escapes are kept as written.
func unquote(lit []byte) string {
	if len(lit) >= 1 && (lit[0] == '"' || lit[0] == '\'') {
		q := lit[0]
		lit = lit[1:]
		if len(lit) >= 1 && lit[len(lit)-1] == q {
			lit = lit[:len(lit)-1]
		}
	}
	out := make([]byte, 0, len(lit))
	for i := 0; i < len(lit); i++ {
		if lit[i] != '\\' || i+1 >= len(lit) {
			out = append(out, lit[i])
			continue
		}
		i++
		switch lit[i] {
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case '"', '\\':
			out = append(out, lit[i])
		default:
			out = append(out, '\\', lit[i])
		}
	}
	return string(out)
}

// Schema returns the stdlib description of the block, if its kind is known
// where it appears.
func (b *block) Schema() (*stdlib.Block, bool) { return b.schema, b.schema != nil }

// resolveSchema looks up the block's schema among the top-level kinds
// given; its parent's must be settled.
func (b *block) resolveSchema(kinds map[string]*stdlib.Block) {
	switch {
	case b.Parent == nil:
	case b.Parent.Parent == nil:
		b.schema = kinds[b.Kind]
	default:
		if ps, ok := b.Parent.Schema(); ok {
			if s, ok := ps.NestedBlock(b.Kind); ok {
				b.schema = s
			}
		}
	}
}

// AttrSchema returns the stdlib description of an attribute of its block.
func (a *attr) Schema() (*stdlib.Attr, bool) {
	s, ok := a.Block.Schema()
	if !ok {
		return nil, false
	}
	return s.Attr(a.Name)
}

// innermost returns the innermost block whose body contains off.
func (t *syntaxTree) innermost(off int) *block {
	b := t.root
	for {
		var next *block
		for _, c := range b.Blocks {
			if c.Open < off && (c.Close < 0 || off <= c.Close) {
				next = c
			}
		}
		if next == nil {
			return b
		}
		b = next
	}
}

// tokenAt returns the index of the token containing off, or ending at it
// (so a cursor just after a word is on that word), preferring identifiers.
func (t *syntaxTree) tokenAt(off int) (int, bool) {
	best := -1
	for i, tk := range t.toks {
		if tk.start > off {
			break
		}
		if tk.start <= off && off < tk.end {
			return i, true
		}
		if tk.end == off && (tk.kind == tokIdent || tk.kind == tokUnit || tk.kind == tokNumber || tk.kind == tokString) {
			best = i
		}
	}
	return best, best >= 0
}

// text returns the source text of token i.
func (t *syntaxTree) text(i int) string { return string(t.src[t.toks[i].start:t.toks[i].end]) }

// attrAt returns the attribute whose value zone contains off.
func (t *syntaxTree) attrAt(b *block, off int) (*attr, bool) {
	for _, a := range b.Attrs {
		if a.Eq < off && off <= a.ZoneEnd {
			return a, true
		}
	}
	return nil, false
}

// walk calls f for every block below b, parents first.
func (b *block) walk(f func(*block)) {
	for _, c := range b.Blocks {
		f(c)
		c.walk(f)
	}
}
