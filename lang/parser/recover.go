package parser

import (
	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
	"sort"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
)

// parser holds one file's tokens during parsing and recovery. Positions
// below are indices into toks.
type parser struct {
	f *source.File
	// toks are the significant tokens: participle parses them without
	// eliding anything, and a node's extent is that of its first and last
	// tokens.
	toks []lexer.Token
	// match[i] is the index of the bracket matching the bracket at i, or
	// -1 for an unclosed opener or an unmatched closer; 0 elsewhere (0 is
	// never a matching bracket's index, as a closer cannot come first).
	match []int
	// closedBy[i] is, for an unclosed opener, the closer that ended its
	// enclosing bracket (-1 at the end of the file).
	closedBy []int
	// invalid holds the offsets of dropped invalid characters.
	invalid []int
	// depth[i] is the number of brackets open before token i.
	depth []int
	// bracketsOK reports whether every bracket is matched.
	bracketsOK bool
	diags      diag.Diagnostics
	conv       *converter
	// reported counts the pieces reported broken (or found broken by an
	// already reported bracket), so that recovery never swallows an error.
	reported int
	// preDiags counts the diagnostics found before parsing (encoding,
	// lexical), which take from the same budget of diag.MaxPerFile.
	preDiags int
	// stopped is the token where the parser stopped reporting because the
	// file had diag.MaxPerFile diagnostics (-1: it did not stop).
	stopped int
	// wholeFileTokens is the most tokens parseFile gives participle in
	// one piece; larger files are parsed a declaration at a time, as
	// participle copies the tokens of each piece it parses.
	wholeFileTokens int
}

// maxWholeFileTokens is parser.wholeFileTokens: about 5,000 lines.
const maxWholeFileTokens = 50_000

func newParser(f *source.File, toks []lexer.Token) *parser {
	p := &parser{f: f, toks: toks, conv: &converter{f: f, toks: toks}, stopped: -1, wholeFileTokens: maxWholeFileTokens}
	p.matchBrackets()
	return p
}

// tok returns the i-th token.
func (p *parser) tok(i int) lexer.Token { return p.toks[i] }

// is reports whether the i-th significant token exists and is the
// punctuation or keyword v.
func (p *parser) is(i int, v string) bool {
	if i < 0 || i >= len(p.toks) {
		return false
	}
	t := p.tok(i)
	return (t.Type == tokPunct || t.Type == tokIdent) && t.Value == v
}

func (p *parser) isIdent(i int) bool {
	return i >= 0 && i < len(p.toks) && p.tok(i).Type == tokIdent
}

// start and end return the byte offsets of the i-th significant token.
func (p *parser) start(i int) int { return p.tok(i).Pos.Offset }
func (p *parser) end(i int) int   { t := p.tok(i); return t.Pos.Offset + len(t.Value) }

// firstOnLine reports whether no significant token precedes token i on its
// line.
func (p *parser) firstOnLine(i int) bool {
	return i == 0 || p.tok(i-1).Pos.Line != p.tok(i).Pos.Line
}

// closerOf returns the bracket that closes the opening bracket open.
func closerOf(open string) string {
	switch open {
	case "{":
		return "}"
	case "[":
		return "]"
	case "(":
		return ")"
	}
	return ""
}

func isOpener(t lexer.Token) bool {
	return t.Type == tokPunct && (t.Value == "{" || t.Value == "[" || t.Value == "(")
}

func isCloser(t lexer.Token) bool {
	return t.Type == tokPunct && (t.Value == "}" || t.Value == "]" || t.Value == ")")
}

// matchBrackets pairs brackets. A closer that matches an opener deeper in
// the stack closes it and leaves the openers above it unclosed; a closer
// that matches nothing is unmatched.
func (p *parser) matchBrackets() {
	p.matchBracketsWith(false)
	if !p.bracketsOK {
		p.matchBracketsWith(true)
	}
}

// matchBracketsWith pairs brackets, using indentation to decide which
// block a `}` closes when useIndent is set (only for files whose brackets
// do not balance, so that layout never breaks a valid file).
func (p *parser) matchBracketsWith(useIndent bool) {
	if len(p.match) == len(p.toks) {
		// The second pass (by indentation) reuses the first one's
		// tables: three words a token.
		clear(p.match)
		clear(p.depth)
		clear(p.closedBy)
	} else {
		p.match = make([]int, len(p.toks))
		p.depth = make([]int, len(p.toks))
		p.closedBy = make([]int, len(p.toks))
	}
	p.bracketsOK = true
	var stack []int
	for i := range p.toks {
		t := p.tok(i)
		p.depth[i] = len(stack)
		switch {
		case isOpener(t):
			stack = append(stack, i)
		case isCloser(t):
			k := len(stack) - 1
			for k >= 0 && closerOf(p.tok(stack[k]).Value) != t.Value {
				k--
			}
			if useIndent && t.Value == "}" && k >= 0 && p.firstOnLine(i) && p.indent(stack[k]) != t.Pos.Column {
				// A `}` starting its line closes the block whose line
				// has its indentation, when there is one: the blocks in
				// between are the unclosed ones.
				for kk := k - 1; kk >= 0; kk-- {
					if p.tok(stack[kk]).Value == "{" && p.indent(stack[kk]) == t.Pos.Column {
						k = kk
						break
					}
				}
			}
			if k < 0 {
				p.match[i] = -1
				p.bracketsOK = false
				continue
			}
			for _, o := range stack[k+1:] {
				p.match[o] = -1
				p.closedBy[o] = i
				p.bracketsOK = false
			}
			p.match[stack[k]] = i
			p.match[i] = stack[k]
			stack = stack[:k]
		}
	}
	for _, o := range stack {
		p.match[o] = -1
		p.closedBy[o] = -1
		p.bracketsOK = false
	}
}

// indent returns the column of the first significant token on the line of
// token i.
func (p *parser) indent(i int) int {
	for i > 0 && !p.firstOnLine(i) {
		i--
	}
	return p.tok(i).Pos.Column
}

// unclosedBlockEnd returns where the unclosed `{` at i should have been
// closed within [i, e): before the first later line that is indented no
// deeper than the line of the `{`.
func (p *parser) unclosedBlockEnd(i, e int) int {
	ind := p.indent(i)
	for k := i + 1; k < e; k++ {
		if p.firstOnLine(k) && p.tok(k).Pos.Column <= ind {
			return k
		}
	}
	return e
}

// checkDepth reports nesting deeper than MaxDepth, counting brackets and
// runs of unary operators, which participle parses recursively.
func (p *parser) checkDepth() *diag.Diagnostic {
	depth, unary := 0, 0
	for i := range p.toks {
		t := p.tok(i)
		switch {
		case isOpener(t):
			depth++
		case isCloser(t):
			if depth > 0 {
				depth--
			}
		}
		if t.Type == tokPunct && (t.Value == "-" || t.Value == "!") {
			unary++
		} else {
			unary = 0
		}
		if depth+unary > MaxDepth {
			return diag.Errorf(p.f.Range(p.start(i), p.end(i)), "E113", "Nesting too deep",
				"Brackets and unary operators may nest at most 100 deep here. Flatten the expression or the blocks.")
		}
	}
	return nil
}

// sliceLexer replays a run of tokens, then extra ones, then EOF, so that
// participle can parse one piece of a file with the pieces' absolute
// positions, without lexing it again.
type sliceLexer struct {
	toks, extra []lexer.Token
	eof         lexer.Position
	i           int
}

// Next returns the next token, or EOF.
func (l *sliceLexer) Next() (lexer.Token, error) {
	switch i := l.i; {
	case i < len(l.toks):
		l.i++
		return l.toks[i], nil
	case i < len(l.toks)+len(l.extra):
		l.i++
		return l.extra[i-len(l.toks)], nil
	}
	return lexer.EOFToken(l.eof), nil
}

// segment returns tokens a to b-1 followed by extra, with the EOF
// position right after token b-1.
func (p *parser) segment(a, b int, extra ...lexer.Token) *sliceLexer {
	if b <= a {
		return &sliceLexer{extra: extra, eof: p.posAt(p.endOffsetBefore(a))}
	}
	return &sliceLexer{toks: p.toks[a:b], extra: extra, eof: p.posAt(p.end(b - 1))}
}

func (p *parser) endOffsetBefore(a int) int {
	if a > 0 {
		return p.end(a - 1)
	}
	return 0
}

// posAt returns a participle position for a byte offset.
func (p *parser) posAt(off int) lexer.Position {
	sp := p.f.Pos(off)
	return lexer.Position{Filename: p.f.Name, Offset: off, Line: sp.Line, Column: sp.Column}
}

// parseWith parses significant tokens [a, b) (plus extra) as a G.
func parseWith[G any](pp *participle.Parser[G], p *parser, a, b int, extra ...lexer.Token) (*G, error) {
	peek, err := lexer.Upgrade(p.segment(a, b, extra...))
	if err != nil {
		return nil, err
	}
	return pp.ParseFromLexer(peek)
}

// parseFile parses the whole file, and when that fails, each top-level
// declaration separately.
func (p *parser) parseFile() []ast.Item {
	if p.bracketsOK && len(p.toks) <= p.wholeFileTokens {
		g, err := parseWith(fileParser, p, 0, len(p.toks))
		if err == nil {
			var items []ast.Item
			for _, it := range g.Items {
				if n := p.conv.item(it); n != nil {
					items = append(items, n)
				}
			}
			return items
		}
	}
	p.reportBrackets()
	var items []ast.Item
	for i := 0; i < len(p.toks); {
		if p.stopped >= 0 && i >= p.stopped {
			break
		}
		if p.full() {
			p.stop(i)
			break
		}
		if isCloser(p.tok(i)) && p.match[i] < 0 {
			i++ // reported by reportBrackets
			continue
		}
		end, unclosed := p.topLevelEnd(i)
		if it := p.parseTopLevel(i, end, unclosed); it != nil {
			items = append(items, it)
		}
		i = end
	}
	return items
}

// topLevelEnd returns the end of the top-level declaration that starts at
// significant token i, and whether its body's `{` is unclosed (then the
// declaration ends where the next one appears to start: an identifier at
// the start of a line, in column 1).
func (p *parser) topLevelEnd(i int) (end int, unclosed bool) {
	if p.is(i, "import") && i+1 < len(p.toks) && p.tok(i+1).Type == tokString {
		return i + 2, false
	}
	for k := i; k < len(p.toks); k++ {
		t := p.tok(k)
		if k > i && p.firstOnLine(k) && t.Pos.Column == 1 && t.Type == tokIdent {
			return k, false
		}
		if isCloser(t) && p.match[k] < 0 {
			return k, false
		}
		if isOpener(t) {
			m := p.match[k]
			if m < 0 {
				if t.Value != "{" {
					continue
				}
				return p.nextDeclaration(k + 1), true
			}
			if t.Value == "{" {
				return m + 1, false
			}
			k = m
		}
	}
	return len(p.toks), false
}

// nextDeclaration returns the first significant token at or after k that
// looks like the start of a top-level declaration (an identifier in column
// 1 starting its line), or the end of the file.
func (p *parser) nextDeclaration(k int) int {
	for ; k < len(p.toks); k++ {
		t := p.tok(k)
		if p.firstOnLine(k) && t.Pos.Column == 1 && t.Type == tokIdent {
			return k
		}
	}
	return len(p.toks)
}

// closeBrace is a synthetic `}` at byte offset off, closing a block whose
// `}` is missing. Its type tells extent that it has no text.
func (p *parser) closeBrace(off int) lexer.Token {
	return lexer.Token{Type: tokSyntheticBrace, Value: "}", Pos: p.posAt(off)}
}

// parseTopLevel parses one top-level item from significant tokens [a, b).
func (p *parser) parseTopLevel(a, b int, unclosed bool) ast.Item {
	var extra []lexer.Token
	if unclosed {
		extra = append(extra, p.closeBrace(p.end(b-1)))
	}
	g, err := parseWith(itemParser, p, a, b, extra...)
	if err == nil {
		it := p.conv.item(g)
		if blk, ok := it.(*ast.Block); ok && unclosed {
			blk.Body.End = p.end(b - 1)
			blk.End = blk.Body.End
		}
		return it
	}
	if blk := p.recoverBlock(a, b, err, 0); blk != nil {
		return blk
	}
	return nil
}

// report adds a syntax error for the piece [a, b) that failed to parse,
// unless the piece holds a bracket that reportBrackets already reported:
// then participle's error is a consequence of that one.
func (p *parser) report(err error, a, b int) {
	p.reported++
	for k := a; k < b && k < len(p.toks); k++ {
		if m := p.match[k]; m < 0 || (isOpener(p.tok(k)) && m >= b) {
			return
		}
	}
	if a < b && b <= len(p.toks) {
		// p.invalid is in file order: find the first at or after a.
		if k := sort.SearchInts(p.invalid, p.start(a)); k < len(p.invalid) && p.invalid[k] < p.end(b-1) {
			return
		}
	}
	p.diags = p.diags.Append(p.syntaxError(err, a, b))
}

// looksLikeBlock reports whether significant token i starts a block
// header: `kind {` or `kind name {`.
func (p *parser) looksLikeBlock(i int) bool {
	return p.isIdent(i) && (p.is(i+1, "{") || p.isIdent(i+1) && p.is(i+2, "{"))
}

// startsItem reports whether token j (before e) starts a body item:
// `name =`, `kind {` or `kind name {`.
func (p *parser) startsItem(j, e int) bool {
	if !p.isIdent(j) || j+1 >= e {
		return false
	}
	return p.is(j+1, "=") || p.is(j+1, "{") || (p.isIdent(j+1) && j+2 < e && p.is(j+2, "{"))
}

// endsExpr reports whether token k can end an expression.
func (p *parser) endsExpr(k int) bool {
	t := p.tok(k)
	switch t.Type {
	case tokIdent, tokNumber, tokString, tokQuantity:
		return true
	}
	return p.is(k, ")") || p.is(k, "]") || p.is(k, "}") || p.is(k, "%")
}

// itemEnd returns the end of the body item that starts at significant
// token i, within [i, e): a comma, the start of the next item (on a new
// line, or after a complete `name = value` on the same line), or the `}`
// that ends a nested block.
func (p *parser) itemEnd(i, e int) int {
	hasEq := false
	for j := i; j < e; {
		t := p.tok(j)
		if j > i {
			if p.is(j, ",") {
				return j
			}
			if p.startsItem(j, e) && (p.firstOnLine(j) || hasEq && p.endsExpr(j-1)) {
				return j
			}
			if hasEq && p.isIdent(j) && p.firstOnLine(j) && p.endsExpr(j-1) {
				return j // `batch = 2` then `grad_accum 8`: a broken item of its own
			}
		}
		if p.is(j, "=") {
			hasEq = true
		}
		if isOpener(t) {
			m := p.match[j]
			if m < 0 || m >= e {
				if t.Value == "{" && !hasEq {
					return p.unclosedBlockEnd(j, e)
				}
				j = min(max(p.unclosedEnd(j), j+1), e)
				continue
			}
			if t.Value == "{" && !hasEq {
				return m + 1
			}
			j = m + 1
			continue
		}
		j++
	}
	return e
}

// recoverBlock rebuilds the block in significant tokens [a, b) item by
// item after participle failed on it with err, reporting each broken item
// and keeping the others. It returns nil when not even the header `kind
// [name] {` is there.
func (p *parser) recoverBlock(a, b int, err error, depth int) *ast.Block {
	before := p.reported + len(p.diags) + len(p.conv.diags)
	defer func() {
		if p.reported+len(p.diags)+len(p.conv.diags) == before {
			p.report(err, a, b) // never swallow the error
		}
	}()
	if depth > MaxDepth || !p.looksLikeBlock(a) {
		p.report(err, a, b)
		return nil
	}
	blk := &ast.Block{Kind: identOf(p.tok(a))}
	open := a + 1
	if !p.is(open, "{") {
		blk.Name = identOf(p.tok(open))
		open++
	}
	closer := p.match[open]
	endOff := 0
	if closer < 0 || closer >= b {
		closer = b
		endOff = p.end(b - 1)
	} else {
		endOff = p.end(closer)
	}
	blk.Extent = ast.Extent{Start: p.start(a), End: endOff}
	blk.Body = &ast.Body{Extent: ast.Extent{Start: p.start(open), End: endOff}}
	for i := open + 1; i < closer; {
		if p.is(i, ",") {
			p.diags = p.diags.Append(diag.Errorf(p.f.Range(p.start(i), p.end(i)), "E110", "Unexpected `,`",
				"A comma separates two items; there is no item before this one. Remove it."))
			i++
			continue
		}
		j := p.itemEnd(i, closer)
		if it := p.parseBodyItem(i, j, depth); it != nil {
			blk.Body.Items = append(blk.Body.Items, it)
		}
		i = j
		if i < closer && p.is(i, ",") {
			i++
		}
	}
	if closer+1 < b {
		t := p.tok(closer + 1)
		p.diags = p.diags.Append(diag.Errorf(p.f.Range(p.start(closer+1), p.end(closer+1)), "E110", "Unexpected "+describe(&t),
			"The block ends at the `}` before it. Remove the extra text, or move it into the block."))
	}
	return blk
}

// parseBodyItem parses one body item from significant tokens [i, j),
// recovering inside it when it is a broken nested block.
func (p *parser) parseBodyItem(i, j, depth int) ast.BodyItem {
	var extra []lexer.Token
	if p.looksLikeBlock(i) {
		open := i + 1
		if !p.is(open, "{") {
			open++
		}
		if m := p.match[open]; m < 0 || m >= j {
			extra = append(extra, p.closeBrace(p.end(j-1)))
		}
	}
	g, err := parseWith(bodyItemParser, p, i, j, extra...)
	if err == nil {
		it := p.conv.bodyItem(g.Item)
		if blk, ok := it.(*ast.Block); ok && len(extra) > 0 {
			blk.Body.End = p.end(j - 1)
			blk.End = blk.Body.End
		}
		return it
	}
	if p.looksLikeBlock(i) {
		if blk := p.recoverBlock(i, j, err, depth+1); blk != nil {
			return blk
		}
		return nil
	}
	p.report(err, i, j)
	return nil
}
