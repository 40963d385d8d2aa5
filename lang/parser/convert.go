package parser

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
)

// converter turns participle's grammar structs into ast nodes, decoding
// literals and reporting what the grammar cannot see (bad escapes, numbers
// out of range).
type converter struct {
	f *source.File
	// toks are the file's significant tokens, where unary finds the
	// positions of prefix operators.
	toks  []lexer.Token
	diags diag.Diagnostics
}

// extent returns the extent of the tokens a grammar node matched. A
// synthetic `}` (see closeBrace) ends where it stands: it has no text.
func extent(toks []lexer.Token) ast.Extent {
	if len(toks) == 0 {
		return ast.Extent{}
	}
	first, last := toks[0], toks[len(toks)-1]
	end := last.Pos.Offset + len(last.Value)
	if last.Type == tokSyntheticBrace {
		end = last.Pos.Offset
	}
	return ast.Extent{Start: first.Pos.Offset, End: max(end, first.Pos.Offset)}
}

func (c *converter) item(g *item) ast.Item {
	switch {
	case g == nil:
		return nil
	case g.Import != nil:
		return &ast.Import{Extent: extent(g.Import.Tokens), Path: c.str(g.Import.Path)}
	case g.Block != nil:
		return c.block(g.Block)
	}
	return nil
}

func (c *converter) block(g *block) *ast.Block {
	if g == nil {
		return nil
	}
	b := &ast.Block{Extent: extent(g.Tokens), Kind: identOf(g.Kind), Body: c.body(g.Body)}
	if g.Name.Value != "" {
		b.Name = identOf(g.Name)
	}
	return b
}

func (c *converter) body(g *body) *ast.Body {
	if g == nil {
		return nil
	}
	b := &ast.Body{Extent: extent(g.Tokens)}
	for _, it := range g.Items {
		if n := c.bodyItem(it); n != nil {
			b.Items = append(b.Items, n)
		}
	}
	return b
}

func (c *converter) bodyItem(g bodyItem) ast.BodyItem {
	switch g := g.(type) {
	case *attribute:
		return c.attr(g)
	case *block:
		return c.block(g)
	}
	return nil
}

// attr converts an attribute. It spans its name and the text of its value
// (all of it, even where E113 cut the value's tree short).
func (c *converter) attr(g *attribute) *ast.Attribute {
	a := &ast.Attribute{Name: identOf(g.Name), Value: c.expr(g.Value)}
	a.Extent = ast.Extent{Start: a.Name.Start, End: max(a.Name.End, g.Value.end())}
	return a
}

// identOf converts an identifier token.
func identOf(t lexer.Token) *ast.Ident {
	return &ast.Ident{Extent: ast.Extent{Start: t.Pos.Offset, End: t.Pos.Offset + len(t.Value)}, Name: t.Value}
}

// precedence returns how tightly the binary operator op binds, from 1 for
// `||` to maxPrecedence for `*` and `/` (spec/language.md, "Expressions and
// their meaning"). Every level is left-associative.
func precedence(op string) int {
	switch op {
	case "||":
		return 1
	case "&&":
		return 2
	case "==", "!=", "<", "<=", ">", ">=":
		return 3
	case "+", "-":
		return 4
	case "*", "/":
		return maxPrecedence
	}
	return 0
}

// maxPrecedence is the precedence of the operators that bind tightest.
const maxPrecedence = 5

// operands walks the flat list of operands and operators of one
// expression: next is the number of operands taken so far, and the
// operator after operand k is rest[k].
type operands struct {
	first operand
	rest  []*binOp
	next  int
}

// op returns the operator after the last operand taken, or nil at the end.
func (o *operands) op() *binOp {
	if o.next-1 < len(o.rest) {
		return o.rest[o.next-1]
	}
	return nil
}

// take returns the next operand.
func (o *operands) take() operand {
	k := o.next
	o.next++
	if k == 0 {
		return o.first
	}
	return o.rest[k-1].Right
}

// binary builds the ast.Binary `x op y`.
func binary(x ast.Expr, op lexer.Token, y ast.Expr) ast.Expr {
	s, _ := x.Span()
	_, e := y.Span()
	return &ast.Binary{Extent: ast.Extent{Start: s, End: e}, Op: op.Value, OpPos: op.Pos.Offset, X: x, Y: y}
}

// expr converts an expression, building the tree of its binary operators
// by precedence climbing: each level folds a left-associative chain of
// its own operators over operands of the next tighter level.
func (c *converter) expr(g *expr) ast.Expr {
	if len(g.Rest) == 0 {
		return c.operand(g.Left)
	}
	o := &operands{first: g.Left, rest: g.Rest}
	return c.level(o, 1)
}

// level converts the chain of operators of precedence prec that starts at
// the next operand. A chain of more than MaxChain operators is cut there
// and reported (E113): a left-deep tree that long would make every
// recursive walk over it slow. What is cut is not converted.
func (c *converter) level(o *operands, prec int) ast.Expr {
	if prec > maxPrecedence {
		return c.operand(o.take())
	}
	x := c.level(o, prec+1)
	for n := 0; ; n++ {
		op := o.op()
		if op == nil || precedence(op.Op.Tok.Value) != prec {
			return x
		}
		if n == MaxChain {
			off := op.Op.Tok.Pos.Offset
			c.diags = c.diags.Append(diag.Errorf(c.f.Range(off, off+1), "E113", "Expression too long",
				"One expression may chain at most 1000 binary operators. Split it, or move parts of it into variables."))
			// Skip the rest of the chain: its operators and those that
			// bind tighter, with their operands.
			for op != nil && precedence(op.Op.Tok.Value) >= prec {
				o.next++
				op = o.op()
			}
			return x
		}
		x = binary(x, op.Op.Tok, c.level(o, prec+1))
	}
}

// unary converts a prefix operator and its operand. The operator is the
// token right before the operand.
func (c *converter) unary(g *unary) ast.Expr {
	x := c.operand(g.X)
	if x == nil {
		return nil
	}
	start, end := x.Span()
	off := start // unreachable fallback: the operator is always there
	if k := tokenAtOffset(c.toks, start) - 1; k >= 0 && k < len(c.toks) {
		off = c.toks[k].Pos.Offset
	}
	return &ast.Unary{Extent: ast.Extent{Start: off, End: max(end, off)}, Op: g.Op, X: x}
}

// tokenAtOffset returns the index of the first token of toks that starts
// at or after byte offset off.
func tokenAtOffset(toks []lexer.Token, off int) int {
	lo, hi := 0, len(toks)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if toks[mid].Pos.Offset < off {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// operand converts a primary or unary expression.
func (c *converter) operand(g operand) ast.Expr {
	switch g := g.(type) {
	case *unary:
		return c.unary(g)
	case *quantity:
		return c.quantity(g)
	case *number:
		return c.number(g.Text.Pos.Offset, g.Text.Value)
	case *stringLit:
		return c.str(g)
	case *boolLit:
		t := g.Value
		return &ast.Bool{Extent: ast.Extent{Start: t.Pos.Offset, End: t.Pos.Offset + len(t.Value)}, Value: t.Value == "true"}
	case *call:
		call := &ast.Call{Extent: extent(g.Tokens), Name: identOf(g.Name)}
		for _, a := range g.Args {
			call.Args = append(call.Args, c.expr(a))
		}
		return call
	case *reference:
		ref := &ast.Reference{Parts: make([]*ast.Ident, 0, len(g.Parts))}
		for _, p := range g.Parts {
			ref.Parts = append(ref.Parts, identOf(p.Name))
		}
		if n := len(ref.Parts); n > 0 {
			ref.Extent = ast.Extent{Start: ref.Parts[0].Start, End: ref.Parts[n-1].End}
		}
		return ref
	case *list:
		l := &ast.List{Extent: extent(g.Tokens)}
		for _, e := range g.Elems {
			l.Elems = append(l.Elems, c.expr(e))
		}
		return l
	case *object:
		o := &ast.Object{Extent: extent(g.Tokens)}
		for _, a := range g.Items {
			o.Items = append(o.Items, c.attr(a))
		}
		return o
	case *paren:
		return &ast.Paren{Extent: extent(g.Tokens), X: c.expr(g.X)}
	}
	return nil
}

// end returns the offset where the expression's text ends: the end of its
// last operand's primary expression.
func (g *expr) end() int {
	if g == nil {
		return 0
	}
	u := g.Left
	if n := len(g.Rest); n > 0 {
		u = g.Rest[n-1].Right
	}
	for {
		un, ok := u.(*unary)
		if !ok {
			break
		}
		u = un.X
	}
	tokEnd := func(t lexer.Token) int { return t.Pos.Offset + len(t.Value) }
	switch p := u.(type) {
	case *quantity:
		return tokEnd(p.Text)
	case *number:
		return tokEnd(p.Text)
	case *stringLit:
		return tokEnd(p.Raw)
	case *boolLit:
		return tokEnd(p.Value)
	case *reference:
		if n := len(p.Parts); n > 0 {
			return tokEnd(p.Parts[n-1].Name)
		}
	case *call:
		return extent(p.Tokens).End
	case *list:
		return extent(p.Tokens).End
	case *object:
		return extent(p.Tokens).End
	case *paren:
		return extent(p.Tokens).End
	}
	return 0
}

// numberPrefix matches the number at the start of a Quantity token.
var numberPrefix = regexp.MustCompile(`^[0-9][0-9_]*(\.[0-9][0-9_]*)?([eE][+-]?[0-9][0-9_]*)?`)

// quantity splits a Quantity token ("500 steps", "24GiB", "5%") into its
// number and unit.
func (c *converter) quantity(g *quantity) *ast.Quantity {
	start := g.Text.Pos.Offset
	text := g.Text.Value
	n := len(numberPrefix.FindString(text))
	u := n
	for u < len(text) && (text[u] == ' ' || text[u] == '\t') {
		u++
	}
	num := c.number(start, text[:n])
	unit := &ast.Ident{Extent: ast.Extent{Start: start + u, End: start + len(text)}, Name: text[u:]}
	return &ast.Quantity{Extent: ast.Extent{Start: start, End: start + len(text)}, Number: num, Unit: unit}
}

// number converts a numeric literal, reporting malformed digit separators
// and values out of range.
func (c *converter) number(start int, text string) *ast.Number {
	n := &ast.Number{Extent: ast.Extent{Start: start, End: start + len(text)}, Text: text}
	rng := func() source.Range { return c.f.Range(n.Start, n.End) } // only for a diagnostic
	if strings.Contains(text, "__") || strings.HasSuffix(text, "_") || strings.Contains(text, "_.") ||
		strings.Contains(text, "_e") || strings.Contains(text, "_E") || strings.Contains(text, "e_") || strings.Contains(text, "E_") {
		c.diags = c.diags.Append(diag.Errorf(rng(), "E104", "Invalid number `"+text+"`",
			"A `_` digit separator must stand between two digits, as in 1_000_000. Remove the extra underscores."))
	}
	clean := text
	if strings.IndexByte(text, '_') >= 0 {
		clean = strings.ReplaceAll(text, "_", "")
	}
	if !strings.ContainsAny(clean, ".eE") {
		n.IsInt = true
		v, err := strconv.ParseInt(clean, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			c.diags = c.diags.Append(diag.Errorf(rng(), "E104", "Number too large",
				"Integers must fit in 64 bits (at most 9223372036854775807). Use a smaller number, or a float with an exponent such as 1e20."))
			n.IsInt = false
		}
		n.Int = v
		n.Value = float64(v)
		if !n.IsInt {
			n.Value, _ = strconv.ParseFloat(clean, 64)
		}
		return n
	}
	v, err := strconv.ParseFloat(clean, 64)
	if errors.Is(err, strconv.ErrRange) && (v > 1 || v < -1) {
		c.diags = c.diags.Append(diag.Errorf(rng(), "E104", "Number too large",
			"Numbers must fit in a 64-bit float (at most about 1.8e308). Use a smaller exponent."))
	}
	n.Value = v
	return n
}

// str decodes a string literal, reporting invalid escapes.
func (c *converter) str(g *stringLit) *ast.String {
	if g == nil {
		return nil
	}
	start := g.Raw.Pos.Offset
	raw := g.Raw.Value
	s := &ast.String{Extent: ast.Extent{Start: start, End: start + len(raw)}, Raw: raw}
	body := raw[1:]
	if strings.HasSuffix(body, `"`) && len(raw) >= 2 {
		body = body[:len(body)-1]
	}
	if strings.IndexByte(body, '\\') < 0 {
		// No escapes: the value is the text itself (invalid UTF-8 is
		// reported by the encoding check and kept as it is).
		s.Value = body
		return s
	}
	var b strings.Builder
	b.Grow(len(body))
	for i := 0; i < len(body); {
		ch := body[i]
		if ch != '\\' {
			r, size := utf8.DecodeRuneInString(body[i:])
			if r == utf8.RuneError && size <= 1 {
				b.WriteByte(ch) // reported by the UTF-8 check
				i++
				continue
			}
			b.WriteString(body[i : i+size])
			i += size
			continue
		}
		off := start + 1 + i
		if i+1 >= len(body) {
			break // a lone backslash at the end of an unterminated string
		}
		switch body[i+1] {
		case '"':
			b.WriteByte('"')
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'u':
			r, n, ok := unicodeEscape(body[i+2:])
			if !ok {
				c.diags = c.diags.Append(diag.Errorf(c.f.Range(off, off+2+n), "E103", "Invalid Unicode escape",
					"A Unicode escape is \\u{X} with 1 to 6 hexadecimal digits naming a character, such as \\u{1F600}; surrogates (D800–DFFF) and values above 10FFFF are not characters. Fix the escape, or write the character itself."))
			} else {
				b.WriteRune(r)
			}
			i += 2 + n
			continue
		default:
			r, size := utf8.DecodeRuneInString(body[i+1:])
			c.diags = c.diags.Append(diag.Errorf(c.f.Range(off, off+1+size), "E103", "Invalid escape `\\"+string(r)+"`",
				"The escapes are \\\" \\\\ \\n \\t \\r and \\u{X}. Write \\\\ for a backslash."))
			i += 1 + size
			continue
		}
		i += 2
	}
	s.Value = b.String()
	return s
}

// unicodeEscape decodes "{X...}" at the start of s (the part after \u). It
// returns the rune, the number of bytes it spans and whether it is valid.
func unicodeEscape(s string) (rune, int, bool) {
	if len(s) == 0 || s[0] != '{' {
		return 0, 0, false
	}
	end := strings.IndexByte(s, '}')
	if end < 0 {
		n := 1
		for n < len(s) && n < 8 && isHex(s[n]) {
			n++
		}
		return 0, n, false
	}
	digits := s[1:end]
	if len(digits) == 0 || len(digits) > 6 {
		return 0, end + 1, false
	}
	for i := 0; i < len(digits); i++ {
		if !isHex(digits[i]) {
			return 0, end + 1, false
		}
	}
	v, err := strconv.ParseUint(digits, 16, 32)
	r := rune(v)
	if err != nil || !utf8.ValidRune(r) {
		return 0, end + 1, false
	}
	return r, end + 1, true
}

func isHex(ch byte) bool {
	return ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f' || ch >= 'A' && ch <= 'F'
}
