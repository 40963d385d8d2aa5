package lsp

import (
	"context"
	"fmt"

	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"
)

// CodeAction offers a quick fix for every diagnostic in the requested range
// that carries a suggestion (a did-you-mean replacement, a rule's fix).
func (s *server) CodeAction(ctx context.Context, params *protocol.CodeActionParams) ([]protocol.CommandOrCodeAction, error) {
	a, err := s.analysisOf(ctx, params.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	m := Mapper{File: a.doc.File, Enc: s.encoding()}
	start, end := m.Offsets(params.Range)
	quickfix := protocol.CodeActionKindQuickFix
	preferred := true
	out := []protocol.CommandOrCodeAction{}
	for _, d := range a.diags.Sorted() {
		if d.Suggestion == nil || d.Subject == nil || d.Subject.Filename != a.doc.Path {
			continue
		}
		if d.Subject.End.Byte < start || d.Subject.Start.Byte > end {
			continue
		}
		sg := d.Suggestion
		f := s.fileOf(a, sg.Range.Filename)
		if f == nil {
			continue
		}
		em := Mapper{File: f, Enc: s.encoding()}
		edit := protocol.TextEdit{Range: em.SourceRange(sg.Range), NewText: sg.Replacement}
		title := sg.Message
		if title == "" {
			title = "replace with"
		}
		title = fmt.Sprintf("%s `%s`", title, sg.Replacement)
		if sg.Replacement == "" {
			title = sg.Message
		}
		out = append(out, &protocol.CodeAction{
			Title:       title,
			Kind:        &quickfix,
			Diagnostics: []protocol.Diagnostic{s.protocolDiagnostic(a, m, d)},
			IsPreferred: &preferred,
			Edit:        &protocol.WorkspaceEdit{Changes: map[uri.URI][]protocol.TextEdit{s.uriOf(sg.Range.Filename): {edit}}},
		})
	}
	return out, nil
}
