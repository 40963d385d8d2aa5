package lsp

import (
	"bytes"
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
	// add folds from the line of open to the line of close: up to the line
	// before, when close starts its line (keeping `}` visible), else to its
	// line. A range must span two lines at least.
	add := func(open, close int, kind protocol.FoldingRangeKind) {
		l0, l1 := f.Pos(open).Line, f.Pos(close).Line
		end := l1
		if len(bytes.TrimSpace(f.Src[f.LineStart(l1):close])) == 0 {
			end = l1 - 1
		}
		if end > l0 {
			out = append(out, protocol.FoldingRange{StartLine: uint32(l0 - 1), EndLine: uint32(end - 1), Kind: kind})
		}
	}
	a.tree.root.walk(func(b *block) {
		if b.Close >= 0 {
			add(b.Open, b.Close, "")
		} else {
			add(b.Open, len(f.Src), "")
		}
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
			add(stack[len(stack)-1], tk.start, "")
			stack = stack[:len(stack)-1]
		}
	}
	return out, nil
}
