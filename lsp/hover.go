package lsp

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/modelwhisperer/whisperc/stdlib"
	"go.lsp.dev/protocol"
)

// Hover explains the token under the cursor: a block kind or attribute
// (documentation, type, default and why, allowed values, rule, citations),
// an enum value, a unit, a call form, a hardware property, or a declaration
// or variable (where it is declared and, for models and stages, the
// planner's memory prediction).
//
// It answers from the tolerant view, which is ready at once, so hovering
// never waits for an analysis of a large file; the memory figures are those
// of the latest analysis.
func (s *server) Hover(ctx context.Context, params *protocol.HoverParams) (*protocol.Hover, error) {
	a, err := s.syntaxOf(ctx, params.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	m := Mapper{File: a.doc.File, Enc: s.encoding()}
	off := m.Offset(params.Position)
	i, ok := a.tree.tokenAt(off)
	if !ok {
		return nil, nil
	}
	text := hoverText(a, i)
	if text == "" {
		return nil, nil
	}
	tk := a.tree.toks[i]
	r := m.Range(tk.start, tk.end)
	return &protocol.Hover{Contents: &protocol.MarkupContent{Kind: protocol.MarkupKindMarkdown, Value: text}, Range: &r}, nil
}

// hoverText returns the markdown for token i of the analysis's document, or
// "" when there is nothing to say.
func hoverText(a *analysis, i int) string {
	t := a.tree
	tk := t.toks[i]
	name := t.text(i)
	if tk.kind == tokUnit {
		if u, ok := stdlib.LookupUnit(name); ok {
			return fmt.Sprintf("**%s** — %s (a %s unit)", u.Name, u.Doc, stdlib.ClassName(u.Class))
		}
		return ""
	}
	if tk.kind == tokString {
		return importHover(a, tk.start)
	}
	if tk.kind != tokIdent {
		return ""
	}
	info := classify(t, a)[i]
	switch info.role {
	case roleKind:
		return blockHover(a, info.block)
	case roleDeclName:
		return declHover(a, info.block)
	case roleImport:
		return "**import** \"path\" — brings the declarations of another .whisper file, resolved relative to this one, into this program."
	case roleAttrName:
		if s, ok := info.attr.Schema(); ok {
			return attrHover(info.block, s)
		}
	case roleEnum:
		if s, ok := info.attr.Schema(); ok {
			if v, ok := enumValue(s.Type, name); ok {
				doc := fmt.Sprintf("**%s** — %s", v.Name, v.Doc)
				return doc + "\n\n---\n\n" + attrHover(info.block, s)
			}
			if d, ok := a.lookupDecl(name); ok {
				return declHover(a, d.Block)
			}
			return attrHover(info.block, s)
		}
	case roleDeclRef:
		if d, ok := a.lookupDecl(name); ok {
			return declHover(a, d.Block)
		}
	case roleVarRef, roleVarNS:
		vname := name
		if info.role == roleVarNS {
			if k := indexOfCode(t, i); k >= 0 && k+2 < len(t.code) {
				vname = t.text(t.code[k+2])
			}
		}
		if d, ok := a.lookupDecl(vname); ok && d.Kind == "variable" {
			return declHover(a, d.Block)
		}
		return fmt.Sprintf("**var.%s** — no `variable %s` is declared in this program.", vname, vname)
	case roleCall:
		if s, ok := info.attr.Schema(); ok {
			if c := callForm(s.Type, name); c != nil {
				return fmt.Sprintf("**%s** — %s", stdlib.Type{Kind: stdlib.TypeCall, Call: c}.String(), c.Doc)
			}
		}
	case roleConstraintProp:
		if s, ok := info.attr.Schema(); ok {
			if p, ok := constraintProp(s.Type, name); ok {
				return fmt.Sprintf("**%s** (%s) — %s", p.Name, p.Type.String(), p.Doc)
			}
		}
	}
	return ""
}

// importHover describes the file an import's path string resolves to:
// where it is and what it declares.
func importHover(a *analysis, start int) string {
	for _, imp := range a.tree.imports {
		if imp.PathStart != start {
			continue
		}
		p := resolveImport(a.doc.Path, imp.Path)
		uf, ok := a.unit[p]
		if p != "" && !importAllowed(a.doc.Path, p, a.importDirs) {
			return fmt.Sprintf("**import** `%s` — not allowed: an import names a .whisper file inside this file's directory tree or an import directory (`whisper.importDirs`).", imp.Path)
		}
		if p == "" || !ok {
			return fmt.Sprintf("**import** `%s` — cannot be read (resolved against this file's directory: `%s`).", imp.Path, p)
		}
		var names []string
		for _, b := range uf.tree.root.Blocks {
			if b.Name != "" {
				names = append(names, b.Kind+" "+b.Name)
			}
		}
		out := fmt.Sprintf("**import** `%s`", p)
		if len(names) > 0 {
			out += "\n\nDeclares: `" + strings.Join(names, "`, `") + "`"
		}
		return out
	}
	return ""
}

// indexOfCode returns the index in t.code of token i, or -1.
func indexOfCode(t *syntaxTree, i int) int {
	for k, j := range t.code {
		if j == i {
			return k
		}
	}
	return -1
}

// blockHover documents a block kind where it is used.
func blockHover(a *analysis, b *block) string {
	s, ok := b.Schema()
	if !ok {
		return fmt.Sprintf("**%s** — not a block kind here.", b.Kind)
	}
	var w strings.Builder
	fmt.Fprintf(&w, "**%s** block", s.Kind)
	switch s.Name {
	case stdlib.NameRequired:
		w.WriteString(" (named)")
	case stdlib.NameOptional:
		w.WriteString(" (name optional)")
	}
	if s.Singleton {
		w.WriteString(", at most one per program")
	}
	w.WriteString("\n\n" + s.Doc)
	if b.Name != "" {
		if mem, ok := a.memory[b.Name]; ok {
			w.WriteString("\n\n" + memoryLine(mem))
		}
	}
	if len(s.Attrs) > 0 {
		w.WriteString("\n\nAttributes: ")
		names := make([]string, len(s.Attrs))
		for i, at := range s.Attrs {
			names[i] = "`" + at.Name + "`"
			if at.Required {
				names[i] += " (required)"
			}
		}
		w.WriteString(strings.Join(names, ", "))
	}
	if len(s.Nested) > 0 {
		w.WriteString("\n\nNested blocks: `" + strings.Join(s.NestedKinds(), "`, `") + "`")
	}
	writeRules(&w, s.Rules)
	writeCitations(&w, s.Citations)
	return w.String()
}

// declHover describes a declaration: its kind and name, where it is, its
// memory prediction and, for variables, the default.
func declHover(a *analysis, b *block) string {
	var w strings.Builder
	fmt.Fprintf(&w, "**%s %s**", b.Kind, b.Name)
	for _, p := range a.order {
		uf := a.unit[p]
		if containsBlock(uf.tree.root, b) {
			pos := uf.file.Pos(b.KindStart)
			fmt.Fprintf(&w, " — declared at %s:%d", filepath.Base(p), pos.Line)
			if b.Kind == "variable" {
				for _, at := range b.Attrs {
					if at.Name == "default" {
						fmt.Fprintf(&w, "\n\ndefault = `%s` (override with `whisperc check -var %s=VALUE`)", string(uf.file.Src[at.ValueStart:at.ValueEnd]), b.Name)
					}
				}
			}
			break
		}
	}
	if mem, ok := a.memory[b.Name]; ok {
		w.WriteString("\n\n" + memoryLine(mem))
	}
	if s, ok := b.Schema(); ok {
		w.WriteString("\n\n" + s.Doc)
	}
	return w.String()
}

func containsBlock(root, b *block) bool {
	for _, c := range root.Blocks {
		if c == b {
			return true
		}
	}
	return false
}

// memoryLine renders a memory prediction.
func memoryLine(m memoryInfo) string {
	line := fmt.Sprintf("Predicted peak memory: **%s**", formatBytes(m.Total))
	if m.Device != "" {
		line += " on " + m.Device
	}
	if !m.Fits {
		line += " — does not fit"
	}
	if m.Detail != "" {
		line += "\n\n" + m.Detail
	}
	return line
}

// formatBytes renders a byte count in binary units with three significant
// digits, as the planner's reports do.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	i := -1
	for v >= unit && i < len(units)-1 {
		v /= unit
		i++
	}
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f %s", v, units[i])
	case v >= 10:
		return fmt.Sprintf("%.1f %s", v, units[i])
	}
	return fmt.Sprintf("%.2f %s", v, units[i])
}

// attrHover documents an attribute of block b.
func attrHover(b *block, s *stdlib.Attr) string {
	var w strings.Builder
	fmt.Fprintf(&w, "**%s**: `%s`", s.Name, s.Type.String())
	if b != nil && b.Kind != "" {
		fmt.Fprintf(&w, " in `%s`", b.Kind)
	}
	if s.Required {
		w.WriteString(" (required)")
	}
	w.WriteString("\n\n" + s.Doc)
	if s.Default != "" {
		fmt.Fprintf(&w, "\n\nDefault: `%s`", s.Default)
		if s.DefaultWhy != "" {
			w.WriteString(" — " + s.DefaultWhy)
		}
	}
	if s.Bounds != nil {
		fmt.Fprintf(&w, "\n\nRange: %s", s.Bounds.String())
	}
	if vals := enumValues(s.Type); len(vals) > 0 {
		w.WriteString("\n\nValues:")
		for _, v := range vals {
			fmt.Fprintf(&w, "\n- `%s` — %s", v.Name, v.Doc)
		}
	}
	if s.Rule != "" {
		writeRules(&w, []string{s.Rule})
	}
	writeCitations(&w, s.Citations)
	return w.String()
}

func writeRules(w *strings.Builder, rules []string) {
	for _, r := range rules {
		if c, ok := stdlib.LookupCode(r); ok {
			fmt.Fprintf(w, "\n\nRule **%s**: %s (`whisperc explain %s`)", c.ID, c.Title, c.ID)
			writeCitations(w, c.Citations)
		} else {
			fmt.Fprintf(w, "\n\nRule **%s** (`whisperc explain %s`)", r, r)
		}
	}
}

func writeCitations(w *strings.Builder, cs []stdlib.Citation) {
	for _, c := range cs {
		if c.URL != "" {
			fmt.Fprintf(w, "\n\n_%s_ — %s", c.String(), c.URL)
		} else {
			fmt.Fprintf(w, "\n\n_%s_", c.String())
		}
	}
}

// enumValues returns every enum value t accepts, through lists and
// alternatives.
func enumValues(t stdlib.Type) []stdlib.EnumValue {
	switch t.Kind {
	case stdlib.TypeEnum:
		return t.Values
	case stdlib.TypeList:
		if t.Elem != nil {
			return enumValues(*t.Elem)
		}
	case stdlib.TypeOneOf:
		var out []stdlib.EnumValue
		for _, alt := range t.Alts {
			out = append(out, enumValues(alt)...)
		}
		return out
	}
	return nil
}

// enumValue returns the enum value called name that t accepts.
func enumValue(t stdlib.Type, name string) (stdlib.EnumValue, bool) {
	for _, v := range enumValues(t) {
		if v.Name == name {
			return v, true
		}
	}
	return stdlib.EnumValue{}, false
}

// callForm returns the call form called name that t accepts.
func callForm(t stdlib.Type, name string) *stdlib.CallForm {
	switch t.Kind {
	case stdlib.TypeCall:
		if t.Call != nil && t.Call.Name == name {
			return t.Call
		}
	case stdlib.TypeList:
		if t.Elem != nil {
			return callForm(*t.Elem, name)
		}
	case stdlib.TypeOneOf:
		for _, alt := range t.Alts {
			if c := callForm(alt, name); c != nil {
				return c
			}
		}
	}
	return nil
}

// constraintProp returns the hardware property called name that a
// constraint type (or a list of them) may compare.
func constraintProp(t stdlib.Type, name string) (stdlib.Property, bool) {
	switch t.Kind {
	case stdlib.TypeConstraint:
		return t.Property(name)
	case stdlib.TypeList:
		if t.Elem != nil {
			return constraintProp(*t.Elem, name)
		}
	case stdlib.TypeOneOf:
		for _, alt := range t.Alts {
			if p, ok := constraintProp(alt, name); ok {
				return p, true
			}
		}
	}
	return stdlib.Property{}, false
}
