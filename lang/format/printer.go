package format

import (
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/modelwhisperer/whisperc/lang/ast"
)

// printer renders a tree as text. Rendering is by strings, bottom-up, so
// that a sequence can measure its lines before aligning them; comments are
// printed in source order, the cursor next marking the first one not yet
// printed. Every token flushes the comments before it, so none is lost even
// where the layout has no special place for it.
type printer struct {
	src      []byte
	comments []*ast.Comment
	next     int
}

func newPrinter(f *ast.File) *printer {
	p := &printer{src: f.Source.Src}
	for _, c := range f.Comments {
		if c != nil && 0 <= c.Start && c.Start <= c.End && c.End <= len(p.src) {
			p.comments = append(p.comments, c)
		}
	}
	sort.SliceStable(p.comments, func(i, j int) bool { return p.comments[i].Start < p.comments[j].Start })
	return p
}

// line is one line of a sequence laid out one item per line.
type line struct {
	// blank reports that a blank line precedes this one.
	blank bool
	// text is the line, indentation included. A multi-line item spans
	// several lines; only its last may carry the trailing comment.
	text string
	// comment is the trailing comment, "" when there is none.
	comment string
}

// file renders the whole file.
func (p *printer) file(f *ast.File) []byte {
	var elems []ast.Node
	for _, it := range f.Items {
		if !isNil(it) {
			elems = append(elems, it)
		}
	}
	_, lines := p.seq(0, 0, len(p.src), elems, "", false)
	var b strings.Builder
	writeLines(&b, lines)
	// Comments the layout missed (none, unless the tree is malformed).
	for ; p.next < len(p.comments); p.next++ {
		b.WriteString("\n" + p.comments[p.next].Text)
	}
	out := trimLines(b.String())
	if out == "" {
		return []byte{}
	}
	return []byte(out + "\n")
}

// seq lays out elems one per line at depth ind. open is the offset just
// after the opening bracket (0 for the file) and close that of the closing
// bracket (the file's length); comments between them are printed before the
// element they precede, after the element whose line they end, or on their
// own lines before the closing bracket. With head, the comments on the
// opening bracket's line are returned to be printed after it. sep is
// appended to every element (lists' trailing commas).
func (p *printer) seq(ind, open, close int, elems []ast.Node, sep string, head bool) (string, []line) {
	prev := open
	first := close
	if len(elems) > 0 {
		first, _ = elems[0].Span()
	}
	var headText string
	if head {
		var hs []string
		for c := p.peek(); c != nil && c.Start < first && !hasNewline(p.slice(open, c.Start)); c = p.peek() {
			hs = append(hs, c.Text)
			prev = c.End
			p.next++
		}
		headText = strings.Join(hs, " ")
	}
	pads := p.pads(elems)
	var lines []line
	for i, e := range elems {
		start, end := e.Span()
		lines = p.leading(lines, ind, &prev, start)
		l := line{blank: p.blankIn(prev, start)}
		l.text = indent(ind) + p.elem(e, ind, 2*ind, pads[i]) + sep
		prev = max(prev, end)
		limit := close
		if i+1 < len(elems) {
			limit, _ = elems[i+1].Span()
		}
		var ts []string
		for c := p.peek(); c != nil && c.Start < limit && !hasNewline(p.slice(end, c.Start)); c = p.peek() {
			ts = append(ts, c.Text)
			prev = c.End
			p.next++
		}
		l.comment = strings.Join(ts, " ")
		lines = append(lines, l)
	}
	lines = p.leading(lines, ind, &prev, close)
	if len(lines) > 0 {
		lines[0].blank = false
	}
	return headText, lines
}

// leading appends the comments before offset limit as lines of their own.
func (p *printer) leading(lines []line, ind int, prev *int, limit int) []line {
	for c := p.peek(); c != nil && c.Start < limit; c = p.peek() {
		lines = append(lines, line{blank: p.blankIn(*prev, c.Start), text: indent(ind) + c.Text})
		*prev = max(*prev, c.End)
		p.next++
	}
	return lines
}

// pads returns, for each element, the spaces that align its `=` with the
// other attributes of its run. A run is a sequence of consecutive
// attributes; a blank line or any other element ends it.
func (p *printer) pads(elems []ast.Node) []int {
	pads := make([]int, len(elems))
	for i := 0; i < len(elems); {
		if _, ok := elems[i].(*ast.Attribute); !ok {
			i++
			continue
		}
		j := i + 1
		for j < len(elems) {
			if _, ok := elems[j].(*ast.Attribute); !ok {
				break
			}
			_, e := elems[j-1].Span()
			s, _ := elems[j].Span()
			if p.blankIn(e, s) {
				break
			}
			j++
		}
		w := 0
		for k := i; k < j; k++ {
			w = max(w, width(attrName(elems[k].(*ast.Attribute))))
		}
		for k := i; k < j; k++ {
			pads[k] = w - width(attrName(elems[k].(*ast.Attribute)))
		}
		i = j
	}
	return pads
}

// elem renders one element of a sequence starting at column col.
func (p *printer) elem(e ast.Node, ind, col, pad int) string {
	switch n := e.(type) {
	case *ast.Attribute:
		s := attrName(n) + strings.Repeat(" ", pad) + " = "
		return s + p.expr(n.Value, ind, col+width(s))
	case *ast.Block:
		return p.block(n, ind, col)
	case *ast.Import:
		s := "import "
		if n.Path == nil {
			return strings.TrimSpace(s)
		}
		return s + p.expr(n.Path, ind, col+width(s))
	case ast.Expr:
		return p.expr(n, ind, col)
	}
	return ""
}

// block renders `kind [name] { body }`.
func (p *printer) block(b *ast.Block, ind, col int) string {
	s := ident(b.Kind)
	if b.Name != nil {
		s += " " + p.inline(b.Name.Start, ind) + b.Name.Name
	}
	if b.Body == nil {
		return s
	}
	s += " " + p.inline(b.Body.Start, ind)
	var elems []ast.Node
	for _, it := range b.Body.Items {
		if !isNil(it) {
			elems = append(elems, it)
		}
	}
	return s + p.group(b.Body.Start, b.Body.End, elems, ind, advance(col, s), "{", "}", "",
		func() string { return flatBody(b.Body) })
}

// group renders a bracketed sequence (a block body, an object or a list)
// spanning [start, end) in the source, starting at column col: on one line
// when it was written on one line, holds no comment and fits in MaxWidth,
// otherwise one element per line at depth ind+1.
func (p *printer) group(start, end int, elems []ast.Node, ind, col int, lb, rb, sep string, flat func() string) string {
	if !p.hasComments(start, end) {
		if len(elems) == 0 {
			return lb + rb
		}
		if !hasNewline(p.slice(start, end)) {
			if s := flat(); col+width(s) <= MaxWidth {
				return s
			}
		}
	}
	head, lines := p.seq(ind+1, min(start+1, end), max(end-1, start), elems, sep, true)
	var b strings.Builder
	b.WriteString(lb)
	if head != "" {
		b.WriteString(" " + head)
	}
	if len(lines) > 0 {
		b.WriteString("\n")
		writeLines(&b, lines)
	}
	b.WriteString("\n" + indent(ind) + rb)
	return b.String()
}

// expr renders an expression starting at column col on a line at depth
// ind, with the comments before it.
func (p *printer) expr(e ast.Expr, ind, col int) string {
	if isNil(e) {
		return ""
	}
	start, _ := e.Span()
	var b strings.Builder
	b.WriteString(p.inline(start, ind))
	col = advance(col, b.String())
	put := func(s string) {
		b.WriteString(s)
		col = advance(col, s)
	}
	switch n := e.(type) {
	case *ast.Reference:
		for i, part := range n.Parts {
			if part == nil {
				continue
			}
			if i > 0 {
				put("." + p.inline(part.Start, ind))
			}
			put(part.Name)
		}
	case *ast.Call:
		put(ident(n.Name) + "(")
		for i, a := range n.Args {
			if i > 0 {
				put(", ")
			}
			put(p.expr(a, ind, col))
		}
		put(p.closing(n.End-1, ind) + ")")
	case *ast.List:
		elems := make([]ast.Node, 0, len(n.Elems))
		for _, x := range n.Elems {
			if !isNil(x) {
				elems = append(elems, x)
			}
		}
		put(p.group(n.Start, n.End, elems, ind, col, "[", "]", ",", func() string { return flat(n) }))
	case *ast.Object:
		elems := make([]ast.Node, 0, len(n.Items))
		for _, x := range n.Items {
			if x != nil {
				elems = append(elems, x)
			}
		}
		put(p.group(n.Start, n.End, elems, ind, col, "{", "}", "", func() string { return flat(n) }))
	case *ast.Paren:
		put("(")
		put(p.expr(n.X, ind, col))
		put(p.closing(n.End-1, ind) + ")")
	case *ast.Unary:
		put(n.Op + unarySpace(n))
		put(p.expr(n.X, ind, col))
	case *ast.Binary:
		// A left-deep chain `a + b + c` is printed iteratively: chains may
		// be a thousand operators long.
		var chain []*ast.Binary
		var x ast.Expr = n
		for {
			bin, ok := x.(*ast.Binary)
			if !ok {
				break
			}
			chain = append(chain, bin)
			x = bin.X
		}
		put(p.expr(x, ind, col))
		for i := len(chain) - 1; i >= 0; i-- {
			put(" " + p.inline(chain[i].OpPos, ind) + chain[i].Op + " ")
			put(p.expr(chain[i].Y, ind, col))
		}
	default:
		put(flat(n))
	}
	return b.String()
}

// inline returns the comments before offset off, to be printed in the
// middle of a line: a block comment is followed by a space, a line comment
// by a line break and a continuation indentation.
func (p *printer) inline(off, ind int) string {
	var b strings.Builder
	for c := p.peek(); c != nil && c.Start < off; c = p.peek() {
		b.WriteString(c.Text)
		if isBlockComment(c) {
			b.WriteByte(' ')
		} else {
			b.WriteString("\n" + indent(ind+1))
		}
		p.next++
	}
	return b.String()
}

// closing returns the comments before the closing bracket at off, each
// after a space; after a line comment the bracket goes on the next line, at
// depth ind.
func (p *printer) closing(off, ind int) string {
	var b strings.Builder
	for c := p.peek(); c != nil && c.Start < off; c = p.peek() {
		b.WriteString(" " + c.Text)
		if !isBlockComment(c) {
			b.WriteString("\n" + indent(ind))
		}
		p.next++
	}
	return b.String()
}

// peek returns the first comment not yet printed, or nil.
func (p *printer) peek() *ast.Comment {
	if p.next < len(p.comments) {
		return p.comments[p.next]
	}
	return nil
}

// hasComments reports whether a comment starts within [start, end).
func (p *printer) hasComments(start, end int) bool {
	i := sort.Search(len(p.comments), func(i int) bool { return p.comments[i].Start >= start })
	return i < len(p.comments) && p.comments[i].Start < end
}

// blankIn reports whether src[a:b] holds a blank line outside comments.
func (p *printer) blankIn(a, b int) bool {
	a, b = max(a, 0), min(b, len(p.src))
	i := sort.Search(len(p.comments), func(i int) bool { return p.comments[i].Start >= a })
	for a < b {
		stop := b
		if i < len(p.comments) && p.comments[i].Start < b {
			stop = p.comments[i].Start
		}
		if hasBlank(p.src[a:stop]) {
			return true
		}
		if stop == b {
			break
		}
		a = p.comments[i].End
		i++
	}
	return false
}

// slice returns src[a:b], clamped to the source.
func (p *printer) slice(a, b int) []byte {
	a, b = max(a, 0), min(b, len(p.src))
	if a >= b {
		return nil
	}
	return p.src[a:b]
}

// flatBody renders a block body on one line.
func flatBody(b *ast.Body) string {
	var parts []string
	for _, it := range b.Items {
		if !isNil(it) {
			parts = append(parts, flat(it))
		}
	}
	if len(parts) == 0 {
		return "{}"
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

// flat renders a node on one line. It is used only for nodes holding no
// comment.
func flat(n ast.Node) string {
	if isNil(n) {
		return ""
	}
	switch n := n.(type) {
	case *ast.Attribute:
		return attrName(n) + " = " + flat(n.Value)
	case *ast.Block:
		s := ident(n.Kind)
		if n.Name != nil {
			s += " " + n.Name.Name
		}
		if n.Body == nil {
			return s
		}
		return s + " " + flatBody(n.Body)
	case *ast.String:
		return n.Raw
	case *ast.Number:
		return n.Text
	case *ast.Bool:
		if n.Value {
			return "true"
		}
		return "false"
	case *ast.Quantity:
		if n.Number == nil || n.Unit == nil {
			return ""
		}
		if wordUnit(n.Unit.Name) {
			return n.Number.Text + " " + n.Unit.Name
		}
		return n.Number.Text + n.Unit.Name
	case *ast.Reference:
		names := make([]string, 0, len(n.Parts))
		for _, part := range n.Parts {
			if part != nil {
				names = append(names, part.Name)
			}
		}
		return strings.Join(names, ".")
	case *ast.Call:
		return ident(n.Name) + "(" + flatJoin(n.Args) + ")"
	case *ast.List:
		return "[" + flatJoin(n.Elems) + "]"
	case *ast.Object:
		if len(n.Items) == 0 {
			return "{}"
		}
		parts := make([]string, 0, len(n.Items))
		for _, a := range n.Items {
			if a != nil {
				parts = append(parts, flat(a))
			}
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case *ast.Paren:
		return "(" + flat(n.X) + ")"
	case *ast.Unary:
		return n.Op + unarySpace(n) + flat(n.X)
	case *ast.Binary:
		var chain []*ast.Binary
		var x ast.Expr = n
		for {
			bin, ok := x.(*ast.Binary)
			if !ok {
				break
			}
			chain = append(chain, bin)
			x = bin.X
		}
		var b strings.Builder
		b.WriteString(flat(x))
		for i := len(chain) - 1; i >= 0; i-- {
			b.WriteString(" " + chain[i].Op + " " + flat(chain[i].Y))
		}
		return b.String()
	}
	return ""
}

func flatJoin(xs []ast.Expr) string {
	parts := make([]string, 0, len(xs))
	for _, x := range xs {
		if !isNil(x) {
			parts = append(parts, flat(x))
		}
	}
	return strings.Join(parts, ", ")
}

// unarySpace returns the space that keeps a repeated operator readable:
// `- -x` rather than `--x`.
func unarySpace(u *ast.Unary) string {
	if x, ok := u.X.(*ast.Unary); ok && x.Op == u.Op {
		return " "
	}
	return ""
}

// wordUnit reports whether a unit is a word, printed after a space
// (`500 steps`) rather than glued to its number (`24GiB`).
func wordUnit(u string) bool {
	switch u {
	case "steps", "step", "epochs", "epoch", "tokens", "token":
		return true
	}
	return false
}

// writeLines writes lines separated by line breaks, one blank line where a
// line asks for it, aligning the trailing comments of consecutive
// single-line lines.
func writeLines(b *strings.Builder, lines []line) {
	cols := make([]int, len(lines))
	alignable := func(l line) bool {
		return l.comment != "" && !strings.Contains(l.text, "\n") && !strings.Contains(l.comment, "\n")
	}
	for i := 0; i < len(lines); {
		if !alignable(lines[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(lines) && alignable(lines[j]) && !lines[j].blank {
			j++
		}
		w := 0
		for k := i; k < j; k++ {
			w = max(w, width(lines[k].text))
		}
		for k := i; k < j; k++ {
			cols[k] = w
		}
		i = j
	}
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
			if l.blank {
				b.WriteByte('\n')
			}
		}
		b.WriteString(l.text)
		if l.comment != "" {
			pad := 1
			if cols[i] > 0 {
				pad = cols[i] - width(l.text) + 1
			}
			b.WriteString(strings.Repeat(" ", pad) + l.comment)
		}
	}
}

// trimLines removes the spaces, tabs and carriage returns at the end of
// every line, and the line breaks at the end of s.
func trimLines(s string) string {
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimRight(l, " \t\r")
	}
	return strings.TrimRight(strings.Join(ls, "\n"), "\n")
}

func attrName(a *ast.Attribute) string { return ident(a.Name) }

func ident(id *ast.Ident) string {
	if id == nil {
		return ""
	}
	return id.Name
}

func isBlockComment(c *ast.Comment) bool { return strings.HasPrefix(c.Text, "/*") }

func indent(depth int) string { return strings.Repeat("  ", depth) }

// width returns the number of characters of s.
func width(s string) int { return utf8.RuneCountInString(s) }

// advance returns the column after writing s from column col.
func advance(col int, s string) int {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return width(s[i+1:])
	}
	return col + width(s)
}

func hasNewline(s []byte) bool {
	for _, c := range s {
		if c == '\n' {
			return true
		}
	}
	return false
}

// hasBlank reports whether s, which holds no comment, holds a blank line:
// two line breaks with only spaces, tabs and carriage returns between.
func hasBlank(s []byte) bool {
	nl := false
	for _, c := range s {
		switch c {
		case '\n':
			if nl {
				return true
			}
			nl = true
		case ' ', '\t', '\r':
		default:
			nl = false
		}
	}
	return false
}

// isNil reports whether n is nil or a typed nil pointer.
func isNil(n ast.Node) bool {
	if n == nil {
		return true
	}
	v := reflect.ValueOf(n)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
