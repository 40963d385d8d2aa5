package lsp

import (
	"context"
	"sort"

	"go.lsp.dev/protocol"
)

// DocumentSymbol returns the outline: every block with its nested blocks
// and attributes, from the tolerant tree so that it survives syntax errors.
// A model or stage shows its predicted memory as its detail.
func (s *server) DocumentSymbol(ctx context.Context, params *protocol.DocumentSymbolParams) (protocol.DocumentSymbolResult, error) {
	a, err := s.syntaxOf(ctx, params.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	m := Mapper{File: a.doc.File, Enc: s.encoding()}
	return protocol.DocumentSymbolSlice(blockSymbols(a, m, a.tree.root)), nil
}

// blockSymbols returns the symbols of b's attributes and nested blocks, in
// source order.
func blockSymbols(a *analysis, m Mapper, b *block) []protocol.DocumentSymbol {
	out := []protocol.DocumentSymbol{}
	var starts []int
	for _, at := range b.Attrs {
		starts = append(starts, at.NameStart)
		detail := string(a.tree.src[at.ValueStart:at.ValueEnd])
		if len(detail) > 60 {
			detail = detail[:57] + "..."
		}
		out = append(out, protocol.DocumentSymbol{
			Name:           at.Name,
			Detail:         &detail,
			Kind:           protocol.SymbolKindProperty,
			Range:          m.Range(at.NameStart, max(at.ValueEnd, at.Eq+1)),
			SelectionRange: m.Range(at.NameStart, at.NameEnd),
		})
	}
	for _, c := range b.Blocks {
		starts = append(starts, c.Start)
		name := c.Kind
		if c.Name != "" {
			name += " " + c.Name
		}
		sym := protocol.DocumentSymbol{
			Name:           name,
			Kind:           symbolKind(c),
			Range:          m.Range(c.Start, c.End),
			SelectionRange: m.Range(c.KindStart, c.KindEnd),
			Children:       blockSymbols(a, m, c),
		}
		if c.NameEnd > c.NameStart {
			sym.SelectionRange = m.Range(c.NameStart, c.NameEnd)
		}
		if mem, ok := a.memory[c.Name]; ok && c.Parent.Parent == nil && c.Name != "" {
			d := formatBytes(mem.Total)
			sym.Detail = &d
		}
		out = append(out, sym)
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return starts[idx[i]] < starts[idx[j]] })
	sorted := make([]protocol.DocumentSymbol, len(out))
	for i, k := range idx {
		sorted[i] = out[k]
	}
	return sorted
}

// symbolKind picks an outline icon by block kind.
func symbolKind(b *block) protocol.SymbolKind {
	if b.Parent != nil && b.Parent.Parent != nil {
		return protocol.SymbolKindStruct
	}
	switch b.Kind {
	case "model":
		return protocol.SymbolKindClass
	case "dataset":
		return protocol.SymbolKindArray
	case "variable":
		return protocol.SymbolKindVariable
	case "finetune", "generate", "serve", "export":
		return protocol.SymbolKindFunction
	case "pipeline":
		return protocol.SymbolKindModule
	}
	return protocol.SymbolKindNamespace
}
