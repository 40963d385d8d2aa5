package lsp

import (
	"bytes"
	"context"

	"github.com/modelwhisperer/whisperc/lang/format"
	"go.lsp.dev/protocol"
)

// Formatting prints the document in the canonical layout, exactly as
// `whisperc fmt` does. The edit replaces only the lines that change, so the
// editor keeps the cursor and folds elsewhere. A document with syntax
// errors is left alone (its diagnostics already say why).
func (s *server) Formatting(ctx context.Context, params *protocol.DocumentFormattingParams) ([]protocol.TextEdit, error) {
	d, ok := s.docs.get(params.TextDocument.URI)
	if !ok {
		return nil, errNotOpen(params.TextDocument.URI)
	}
	out, _ := format.Source(d.Path, d.File.Src)
	if out == nil {
		return []protocol.TextEdit{}, nil
	}
	return minimalEdit(Mapper{File: d.File, Enc: s.encoding()}, out), nil
}

// minimalEdit returns the one edit that turns m's file into out, trimmed to
// the lines that differ; none when they are equal.
func minimalEdit(m Mapper, out []byte) []protocol.TextEdit {
	src := m.File.Src
	if bytes.Equal(src, out) {
		return []protocol.TextEdit{}
	}
	// Common prefix and suffix, cut back to line starts so the edit never
	// splits a character.
	p := 0
	for p < len(src) && p < len(out) && src[p] == out[p] {
		p++
	}
	p = bytes.LastIndexByte(src[:p], '\n') + 1
	q := 0
	for q < len(src)-p && q < len(out)-p && src[len(src)-1-q] == out[len(out)-1-q] {
		q++
	}
	if i := bytes.IndexByte(src[len(src)-q:], '\n'); i >= 0 {
		q -= i + 1
	} else {
		q = 0
	}
	return []protocol.TextEdit{{Range: m.Range(p, len(src)-q), NewText: string(out[p : len(out)-q])}}
}
