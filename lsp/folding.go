package lsp

import (
	"context"

	"go.lsp.dev/protocol"
)

// FoldingRanges folds every block and multi-line list or object that
// spans lines, and block comments, from the tolerant tree.
func (s *server) FoldingRanges(ctx context.Context, params *protocol.FoldingRangeParams) ([]protocol.FoldingRange, error) {
	a, err := s.syntaxOf(ctx, params.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	f := a.doc.File
	out := []protocol.FoldingRange{}
	add := func(start, end int, kind protocol.FoldingRangeKind) {
		l0, l1 := f.Pos(start).Line, f.Pos(end).Line
		if l1 > l0 {
			// Keep the closing line visible: fold up to the line before it.
			out = append(out, protocol.FoldingRange{StartLine: uint32(l0 - 1), EndLine: uint32(l1 - 2), Kind: kind})
		}
	}
	a.tree.root.walk(func(b *block) {
		add(b.Open, b.End, "")
	})
	var stack []int
	for _, tk := range a.tree.toks {
		switch {
		case tk.kind == tokComment && f.Src[tk.start] == '/' && f.Src[tk.start+1] == '*':
			if l0, l1 := f.Pos(tk.start).Line, f.Pos(tk.end).Line; l1 > l0 {
				out = append(out, protocol.FoldingRange{StartLine: uint32(l0 - 1), EndLine: uint32(l1 - 1), Kind: protocol.FoldingRangeKindComment})
			}
		case tk.kind == tokPunct && f.Src[tk.start] == '[':
			stack = append(stack, tk.start)
		case tk.kind == tokPunct && f.Src[tk.start] == ']' && len(stack) > 0:
			add(stack[len(stack)-1], tk.end, "")
			stack = stack[:len(stack)-1]
		}
	}
	return out, nil
}
