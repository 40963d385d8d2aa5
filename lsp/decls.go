package lsp

import "github.com/modelwhisperer/whisperc/stdlib"

// decl is a top-level named declaration found in a document's import
// closure: a model, a dataset, a stage, a variable...
type decl struct {
	Name  string
	Kind  string
	Path  string
	Block *block
}

// declarations returns the named top-level blocks of the analysis's import
// closure, the document's own first. Where a name is declared twice the
// first wins here; the checker reports the duplicate.
func (a *analysis) declarations() []decl {
	var out []decl
	seen := map[string]bool{}
	for _, p := range a.order {
		for _, b := range a.unit[p].tree.root.Blocks {
			if b.Name == "" || seen[b.Name] {
				continue
			}
			seen[b.Name] = true
			out = append(out, decl{Name: b.Name, Kind: b.Kind, Path: p, Block: b})
		}
	}
	return out
}

// lookupDecl returns the declaration called name.
func (a *analysis) lookupDecl(name string) (decl, bool) {
	for _, d := range a.declarations() {
		if d.Name == name {
			return d, true
		}
	}
	return decl{}, false
}

// refKinds returns the block kinds an attribute of type t may reference,
// looking through lists and alternatives; nil when it takes no reference.
func refKinds(t stdlib.Type) []string {
	switch t.Kind {
	case stdlib.TypeRef:
		return t.Kinds
	case stdlib.TypeList:
		if t.Elem != nil {
			return refKinds(*t.Elem)
		}
	case stdlib.TypeOneOf:
		var out []string
		for _, alt := range t.Alts {
			out = append(out, refKinds(alt)...)
		}
		return out
	}
	return nil
}

// tokenRole is what an identifier token means in the tolerant view.
type tokenRole int

const (
	roleNone           tokenRole = iota
	roleKind                     // a block kind keyword: model, finetune, quantize
	roleImport                   // the import keyword
	roleDeclName                 // the name of a block
	roleAttrName                 // an attribute name
	roleVarNS                    // `var` in var.lr
	roleVarRef                   // `lr` in var.lr
	roleDeclRef                  // a reference to a declaration: base, sft.output's sft
	roleEnum                     // an enum value: nf4, cosine
	roleBool                     // true, false
	roleCall                     // every in every(2)
	roleField                    // output in sft.output
	roleConstraintProp           // gpu_memory in a require list
)

// roleInfo is the classification of one token.
type roleInfo struct {
	role  tokenRole
	block *block // the block whose kind, name or attribute this is
	attr  *attr  // the attribute whose name or value this token is part of
}

// classify returns the role of every identifier token of a tree, keyed by
// token index. Declared names come from the analysis's whole import
// closure.
func classify(t *syntaxTree, a *analysis) map[int]roleInfo {
	roles := make(map[int]roleInfo)
	byStart := make(map[int]int, len(t.toks))
	for i, tk := range t.toks {
		byStart[tk.start] = i
	}
	declared := map[string]bool{}
	if a != nil {
		for _, d := range a.declarations() {
			declared[d.Name] = true
		}
	}
	for _, imp := range t.imports {
		roles[byStart[imp.Start]] = roleInfo{role: roleImport}
	}
	var visit func(b *block)
	visit = func(b *block) {
		if b.Parent != nil {
			roles[byStart[b.KindStart]] = roleInfo{role: roleKind, block: b}
			if b.NameEnd > b.NameStart {
				roles[byStart[b.NameStart]] = roleInfo{role: roleDeclName, block: b}
			}
		}
		for _, at := range b.Attrs {
			roles[byStart[at.NameStart]] = roleInfo{role: roleAttrName, block: b, attr: at}
			classifyValue(t, at, declared, roles)
		}
		for _, c := range b.Blocks {
			visit(c)
		}
	}
	visit(t.root)
	return roles
}

// classifyValue classifies the identifiers of one attribute's value.
func classifyValue(t *syntaxTree, at *attr, declared map[string]bool, roles map[int]roleInfo) {
	var typ stdlib.Type
	if s, ok := at.Schema(); ok {
		typ = s.Type
	}
	isPunct := func(k int, text string) bool {
		if k < at.valFirst || k >= at.valLast {
			return false
		}
		i := t.code[k]
		return t.toks[i].kind == tokPunct && t.text(i) == text
	}
	for k := at.valFirst; k < at.valLast; k++ {
		i := t.code[k]
		if t.toks[i].kind != tokIdent {
			continue
		}
		name := t.text(i)
		info := roleInfo{block: at.Block, attr: at}
		switch {
		case isPunct(k-1, "."):
			info.role = roleField
			if k >= 2 && t.text(t.code[k-2]) == "var" && !isPunct(k-3, ".") {
				info.role = roleVarRef
			}
		case name == "var" && isPunct(k+1, "."):
			info.role = roleVarNS
		case isPunct(k+1, "("):
			info.role = roleCall
		case name == "true" || name == "false":
			info.role = roleBool
		case typ.Kind == stdlib.TypeConstraint || (typ.Kind == stdlib.TypeList && typ.Elem != nil && typ.Elem.Kind == stdlib.TypeConstraint):
			info.role = roleConstraintProp
		case isEnumOf(typ, name):
			info.role = roleEnum
		case declared[name]:
			info.role = roleDeclRef
		default:
			info.role = roleEnum // an unknown bare identifier; the checker says what is wrong
		}
		roles[i] = info
	}
}

// isEnumOf reports whether name is an enum value that t (or a list of it,
// or one of its alternatives) accepts.
func isEnumOf(t stdlib.Type, name string) bool {
	if t.Kind == stdlib.TypeList && t.Elem != nil {
		return isEnumOf(*t.Elem, name)
	}
	if t.Kind == stdlib.TypeOneOf {
		for _, alt := range t.Alts {
			if isEnumOf(alt, name) {
				return true
			}
		}
		return false
	}
	_, ok := t.Enum(name)
	return ok
}
