package lsp

import (
	"context"
	"fmt"

	"go.lsp.dev/protocol"
)

// InlayHint shows, at the end of the opening line of every model and stage
// declaration in the range, the planner's predicted peak memory for it on
// the target ("≈ 5.21 GiB peak on a100-80gb").
func (s *server) InlayHint(ctx context.Context, params *protocol.InlayHintParams) ([]protocol.InlayHint, error) {
	a, err := s.analysisOf(ctx, params.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	m := Mapper{File: a.doc.File, Enc: s.encoding()}
	start, end := m.Offsets(params.Range)
	out := []protocol.InlayHint{}
	yes := true
	for _, b := range a.tree.root.Blocks {
		mem, ok := a.memory[b.Name]
		if !ok || b.Name == "" || b.Open < start || b.Open > end {
			continue
		}
		label := fmt.Sprintf("≈ %s peak", formatBytes(mem.Total))
		if mem.Device != "" {
			label += " on " + mem.Device
		}
		if !mem.Fits {
			label += " (does not fit)"
		}
		at := lineEnd(a.doc.File.Src, b.Open)
		out = append(out, protocol.InlayHint{
			Position:    m.Position(at),
			Label:       protocol.String(label),
			Tooltip:     &protocol.MarkupContent{Kind: protocol.MarkupKindMarkdown, Value: memoryLine(mem)},
			PaddingLeft: &yes,
		})
	}
	return out, nil
}
