package lsp

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/modelwhisperer/whisperc/stdlib"
	"go.lsp.dev/protocol"
)

// candidate is one completion before conversion to the protocol.
type candidate struct {
	label   string
	kind    protocol.CompletionItemKind
	detail  string
	doc     string
	insert  string // snippet text; label when empty
	snippet bool
	// plain replaces insert for clients without snippet support: one line
	// of text with no placeholders (an omnifunc turns a newline into a
	// NUL byte). Empty means the label.
	plain string
	sort  string
}

// Completion offers what may be typed at the cursor: block kinds at the top
// level, the attributes and nested blocks of the enclosing block, the
// values an attribute accepts (enum values, declarations of the right kind,
// true/false, call forms), variables after `var.`, and units after a
// number. It works on half-typed text through the tolerant tree.
func (s *server) Completion(ctx context.Context, params *protocol.CompletionParams) (protocol.CompletionResult, error) {
	a, err := s.syntaxOf(ctx, params.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	m := Mapper{File: a.doc.File, Enc: s.encoding()}
	off := m.Offset(params.Position)
	start, cands := completions(a, off)
	rng := m.Range(start, off)
	snippets := s.clientSnippets()
	items := make([]protocol.CompletionItem, 0, len(cands))
	for i, c := range cands {
		text := c.insert
		if c.snippet && !snippets {
			text = c.plain
		}
		if text == "" {
			text = c.label
		}
		item := protocol.CompletionItem{
			Label:    c.label,
			Kind:     c.kind,
			TextEdit: &protocol.TextEdit{Range: rng, NewText: text},
			SortText: protocol.NewOptional(fmt.Sprintf("%s%04d", c.sort, i)),
		}
		if c.detail != "" {
			item.Detail = protocol.NewOptional(c.detail)
		}
		if c.doc != "" {
			item.Documentation = &protocol.MarkupContent{Kind: protocol.MarkupKindMarkdown, Value: c.doc}
		}
		if c.snippet && snippets {
			item.InsertTextFormat = protocol.InsertTextFormatSnippet
		}
		items = append(items, item)
	}
	return &protocol.CompletionList{Items: items}, nil
}

// completions returns the start of the text the completion replaces (the
// partial word before the cursor) and the candidates at off.
func completions(a *analysis, off int) (int, []candidate) {
	t := a.tree
	start := off
	prefixTok := -1
	for i, tk := range t.toks {
		if tk.start >= off {
			break
		}
		if inLiteral(t, tk, off) {
			return off, nil // inside a comment or a string
		}
		if tk.end == off && (tk.kind == tokIdent || tk.kind == tokUnit) {
			prefixTok = i
			start = tk.start
		}
	}
	// The code token before the partial word.
	prev := -1
	for i := len(t.toks) - 1; i >= 0; i-- {
		tk := t.toks[i]
		if tk.kind == tokComment || i == prefixTok || tk.end > start {
			continue
		}
		prev = i
		break
	}
	sameLine := func(i int) bool {
		return i >= 0 && !containsNewline(t.src[t.toks[i].end:start])
	}
	b := t.innermost(off)
	at, inValue := t.attrAt(b, off)

	// Units right after a number: 24G|, 500 st|, 3|; only where the value
	// takes a quantity (batch = 4 takes none).
	if prev >= 0 && t.toks[prev].kind == tokNumber && sameLine(prev) {
		if !inValue {
			return start, nil
		}
		s, ok := at.Schema()
		if !ok {
			return start, nil // an unknown attribute: the checker says so
		}
		typ := s.Type
		// In a constraint, the property compared decides the unit:
		// gpu_memory >= 24G|.
		if prev >= 2 && t.toks[prev-1].kind == tokPunct && t.toks[prev-2].kind == tokIdent {
			if p, ok := constraintProp(s.Type, t.text(prev-2)); ok {
				typ = p.Type
			}
		}
		return start, unitCandidates(quantityClasses(typ))
	}
	// Variables after var.
	if prev >= 1 && t.text(prev) == "." && t.toks[prev-1].kind == tokIdent && t.text(prev-1) == "var" {
		var out []candidate
		for _, d := range a.declarations() {
			if d.Kind == "variable" {
				out = append(out, candidate{label: d.Name, kind: protocol.CompletionItemKindVariable, detail: "variable", doc: declHover(a, d.Block)})
			}
		}
		return start, out
	}
	if prev >= 0 && t.text(prev) == "." {
		return start, nil // a field of a reference: nothing known to offer
	}
	if inValue {
		if s, ok := at.Schema(); ok {
			return start, valueCandidates(a, s.Type, b)
		}
		return start, nil
	}
	// At the start of an item: after a newline, '{', ',' or nothing.
	if prev >= 0 && sameLine(prev) {
		switch t.text(prev) {
		case "{", ",", "}":
		default:
			return start, nil // typing a block's name or other non-item text
		}
	}
	if b.Parent == nil {
		return start, topLevelCandidates()
	}
	s, ok := b.Schema()
	if !ok {
		return start, nil
	}
	return start, bodyCandidates(b, s)
}

// inLiteral reports whether off is inside a comment or string token (a
// cursor at the end of a line comment, or of an unterminated string or
// block comment, is still inside it).
func inLiteral(t *syntaxTree, tk token, off int) bool {
	switch tk.kind {
	case tokComment:
		open := t.src[tk.start] == '#' || t.src[tk.start+1] == '/'
		return off < tk.end || open && off == tk.end
	case tokString:
		return off < tk.end
	case tokError:
		c := t.src[tk.start]
		return (c == '"' || c == '/') && off <= tk.end
	}
	return false
}

// topLevelCandidates are the block kinds and import.
func topLevelCandidates() []candidate {
	out := []candidate{{label: "import", kind: protocol.CompletionItemKindKeyword, insert: "import \"$1\"", snippet: true, plain: "import ", detail: "import \"path\"", doc: "Brings the declarations of another .whisper file into this program.", sort: "1"}}
	for _, blk := range stdlib.Blocks() {
		if blk.Kind == "import" {
			continue // a statement, offered above as import "path"
		}
		out = append(out, blockCandidate(blk, "0"))
	}
	return out
}

// blockCandidate inserts `kind name {` … `}` as a snippet.
func blockCandidate(blk stdlib.Block, sort string) candidate {
	insert := blk.Kind + " {\n\t$0\n}"
	detail := blk.Kind + " { … }"
	if blk.Name == stdlib.NameRequired {
		insert = blk.Kind + " ${1:name} {\n\t$0\n}"
		detail = blk.Kind + " NAME { … }"
	}
	return candidate{label: blk.Kind, kind: protocol.CompletionItemKindStruct, insert: insert, snippet: true, plain: blk.Kind + " ", detail: detail, doc: blk.Doc, sort: sort}
}

// bodyCandidates are the attributes (not yet set) and nested blocks of a
// block; required attributes first.
func bodyCandidates(b *block, s *stdlib.Block) []candidate {
	set := map[string]bool{}
	for _, at := range b.Attrs {
		set[at.Name] = true
	}
	var out []candidate
	for i := range s.Attrs {
		at := &s.Attrs[i]
		if set[at.Name] {
			continue
		}
		sort := "1"
		if at.Required {
			sort = "0"
		}
		out = append(out, candidate{label: at.Name, kind: protocol.CompletionItemKindProperty, insert: at.Name + " = $0", snippet: true, plain: at.Name + " = ", detail: at.Type.String(), doc: attrHover(b, at), sort: sort})
	}
	for _, n := range s.Nested {
		out = append(out, blockCandidate(n, "2"))
	}
	return out
}

// valueCandidates are the values type t accepts.
func valueCandidates(a *analysis, t stdlib.Type, b *block) []candidate {
	var out []candidate
	for _, v := range enumValues(t) {
		out = append(out, candidate{label: v.Name, kind: protocol.CompletionItemKindEnumMember, doc: v.Doc, sort: "0"})
	}
	if kinds := refKinds(t); len(kinds) > 0 {
		for _, d := range a.declarations() {
			if contains(kinds, d.Kind) && !isAncestor(d.Block, b) {
				out = append(out, candidate{label: d.Name, kind: protocol.CompletionItemKindReference, detail: d.Kind + " " + d.Name, doc: declHover(a, d.Block), sort: "0"})
			}
		}
	}
	if acceptsKind(t, stdlib.TypeBool) {
		out = append(out,
			candidate{label: "true", kind: protocol.CompletionItemKindValue, sort: "0"},
			candidate{label: "false", kind: protocol.CompletionItemKindValue, sort: "0"})
	}
	for _, c := range callForms(t) {
		params := make([]string, len(c.Params))
		for i, p := range c.Params {
			params[i] = fmt.Sprintf("${%d:%s}", i+1, p.Name)
		}
		out = append(out, candidate{label: c.Name + "(…)", kind: protocol.CompletionItemKindFunction, insert: c.Name + "(" + strings.Join(params, ", ") + ")", snippet: true, plain: c.Name + "(", detail: stdlib.Type{Kind: stdlib.TypeCall, Call: c}.String(), doc: c.Doc, sort: "0"})
	}
	if props := constraintProps(t); len(props) > 0 {
		for _, p := range props {
			out = append(out, candidate{label: p.Name, kind: protocol.CompletionItemKindField, detail: p.Type.String(), doc: p.Doc, sort: "0"})
		}
	}
	if acceptsNumber(t) {
		for _, d := range a.declarations() {
			if d.Kind == "variable" {
				out = append(out, candidate{label: "var." + d.Name, kind: protocol.CompletionItemKindVariable, detail: "variable", doc: declHover(a, d.Block), sort: "1"})
			}
		}
	}
	return out
}

func isAncestor(anc, b *block) bool {
	for ; b != nil; b = b.Parent {
		if b == anc {
			return true
		}
	}
	return false
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// acceptsKind reports whether t, through lists and alternatives, accepts
// values of kind k.
func acceptsKind(t stdlib.Type, k stdlib.TypeKind) bool {
	switch t.Kind {
	case k:
		return true
	case stdlib.TypeList:
		return t.Elem != nil && acceptsKind(*t.Elem, k)
	case stdlib.TypeOneOf:
		for _, alt := range t.Alts {
			if acceptsKind(alt, k) {
				return true
			}
		}
	}
	return false
}

// acceptsNumber reports whether t takes numbers or quantities, where a
// variable reference may stand.
func acceptsNumber(t stdlib.Type) bool {
	for _, k := range []stdlib.TypeKind{stdlib.TypeNumber, stdlib.TypeInt, stdlib.TypeSize, stdlib.TypePercent, stdlib.TypeDuration, stdlib.TypeCount, stdlib.TypeAny, stdlib.TypeString, stdlib.TypePath} {
		if acceptsKind(t, k) {
			return true
		}
	}
	return false
}

// quantityClasses returns the unit classes t accepts: none for a plain
// number, every class for a value of any type (a variable's default).
func quantityClasses(t stdlib.Type) []stdlib.TypeKind {
	all := []stdlib.TypeKind{stdlib.TypeSize, stdlib.TypePercent, stdlib.TypeDuration, stdlib.TypeCount}
	if acceptsKind(t, stdlib.TypeAny) {
		return all
	}
	var out []stdlib.TypeKind
	for _, k := range all {
		if acceptsKind(t, k) {
			out = append(out, k)
		}
	}
	return out
}

// unitCandidates are the units of the classes given.
func unitCandidates(classes []stdlib.TypeKind) []candidate {
	var out []candidate
	for _, u := range stdlib.Units() {
		if !slices.Contains(classes, u.Class) {
			continue
		}
		out = append(out, candidate{label: u.Name, kind: protocol.CompletionItemKindUnit, detail: stdlib.ClassName(u.Class), doc: u.Doc, sort: "0"})
	}
	return out
}

// callForms returns the call forms t accepts.
func callForms(t stdlib.Type) []*stdlib.CallForm {
	switch t.Kind {
	case stdlib.TypeCall:
		if t.Call != nil {
			return []*stdlib.CallForm{t.Call}
		}
	case stdlib.TypeList:
		if t.Elem != nil {
			return callForms(*t.Elem)
		}
	case stdlib.TypeOneOf:
		var out []*stdlib.CallForm
		for _, alt := range t.Alts {
			out = append(out, callForms(alt)...)
		}
		return out
	}
	return nil
}

// constraintProps returns the hardware properties a constraint type (or a
// list of them) compares.
func constraintProps(t stdlib.Type) []stdlib.Property {
	switch t.Kind {
	case stdlib.TypeConstraint:
		return t.Props
	case stdlib.TypeList:
		if t.Elem != nil {
			return constraintProps(*t.Elem)
		}
	case stdlib.TypeOneOf:
		var out []stdlib.Property
		for _, alt := range t.Alts {
			out = append(out, constraintProps(alt)...)
		}
		return out
	}
	return nil
}
