package lsp

import (
	"context"

	"go.lsp.dev/protocol"
)

// The semantic token types the server reports, in legend order.
var semanticTypes = []protocol.SemanticTokenTypes{
	protocol.SemanticTokenTypesKeyword,    // block kinds, import, true/false
	protocol.SemanticTokenTypesProperty,   // attribute names, fields
	protocol.SemanticTokenTypesEnumMember, // enum values
	protocol.SemanticTokenTypesVariable,   // declarations and references to them
	protocol.SemanticTokenTypesNamespace,  // var in var.lr
	protocol.SemanticTokenTypesFunction,   // every(2)
	protocol.SemanticTokenTypesNumber,
	protocol.SemanticTokenTypesString,
	protocol.SemanticTokenTypesComment,
	protocol.SemanticTokenTypesOperator,
	protocol.SemanticTokenTypesType, // units: GiB, steps, %
	protocol.SemanticTokenTypesParameter,
}

// The modifiers, in legend order (bit i is modifier i).
var semanticModifiers = []protocol.SemanticTokenModifiers{
	protocol.SemanticTokenModifiersDeclaration,
	protocol.SemanticTokenModifiersReadonly,
}

const (
	semKeyword = iota
	semProperty
	semEnumMember
	semVariable
	semNamespace
	semFunction
	semNumber
	semString
	semComment
	semOperator
	semType
	semParameter
)

const modDeclaration = 1 << 0

func semanticLegend() protocol.SemanticTokensLegend {
	l := protocol.SemanticTokensLegend{}
	for _, t := range semanticTypes {
		l.TokenTypes = append(l.TokenTypes, string(t))
	}
	for _, m := range semanticModifiers {
		l.TokenModifiers = append(l.TokenModifiers, string(m))
	}
	return l
}

// SemanticTokensFull classifies every token of the document.
func (s *server) SemanticTokensFull(ctx context.Context, params *protocol.SemanticTokensParams) (*protocol.SemanticTokens, error) {
	a, err := s.syntaxOf(ctx, params.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	return &protocol.SemanticTokens{Data: semanticData(a, Mapper{File: a.doc.File, Enc: s.encoding()})}, nil
}

// semanticData encodes the document's tokens as the protocol's relative
// five-integer groups. Tokens that span lines (block comments) are split at
// line ends, since the protocol's tokens cannot span lines.
func semanticData(a *analysis, m Mapper) []uint32 {
	t := a.tree
	roles := classify(t, a)
	data := make([]uint32, 0, len(t.toks)*5)
	var prevLine, prevChar uint32
	cur := &cursor{src: m.File.Src, enc: m.Enc}
	emit := func(start, end, typ, mods int) {
		for start < end {
			line := m.File.Pos(start).Line
			lineEnd := m.File.LineEnd(line)
			segEnd := end
			if lineEnd < segEnd {
				segEnd = lineEnd
			}
			if segEnd > start {
				p, q := cur.pos(start), cur.pos(segEnd)
				dl := p.Line - prevLine
				dc := p.Character
				if dl == 0 {
					dc = p.Character - prevChar
				}
				data = append(data, dl, dc, q.Character-p.Character, uint32(typ), uint32(mods))
				prevLine, prevChar = p.Line, p.Character
			}
			next := m.File.LineStart(line + 1)
			if next <= start {
				break
			}
			start = next
		}
	}
	for i, tk := range t.toks {
		typ, mods := -1, 0
		switch tk.kind {
		case tokComment:
			typ = semComment
		case tokString:
			typ = semString
		case tokNumber:
			typ = semNumber
		case tokUnit:
			typ = semType
		case tokPunct:
			switch t.text(i) {
			case "=", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "!", "+", "-", "*", "/":
				typ = semOperator
			}
		case tokIdent:
			switch roles[i].role {
			case roleKind, roleImport, roleBool:
				typ = semKeyword
			case roleDeclName:
				typ, mods = semVariable, modDeclaration
			case roleAttrName, roleField:
				typ = semProperty
			case roleVarNS:
				typ = semNamespace
			case roleVarRef:
				typ = semParameter
			case roleDeclRef:
				typ = semVariable
			case roleEnum:
				typ = semEnumMember
			case roleCall:
				typ = semFunction
			case roleConstraintProp:
				typ = semProperty
			}
		}
		if typ >= 0 {
			emit(tk.start, tk.end, typ, mods)
		}
	}
	return data
}
