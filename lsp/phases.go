package lsp

import (
	"context"

	"github.com/modelwhisperer/whisperc/compiler"
)

// runPhases runs whisperc's phases on the analysis's document, reading the
// document and its imports from the editor's buffers first and the disk
// second, and records the diagnostics, the checked program and the
// planner's memory estimates. It never runs a pipeline, writes a file or
// touches the network.
func (s *server) runPhases(ctx context.Context, a *analysis) {
	read := func(p string) ([]byte, error) {
		if uf, ok := a.unit[p]; ok {
			return uf.file.Src, nil
		}
		return s.readSource(p)
	}
	prog, diags := compiler.Check(a.doc.Path, compiler.Options{ReadFile: read})
	a.prog = prog
	a.diags = diags
	if ctx.Err() != nil {
		return
	}
}
