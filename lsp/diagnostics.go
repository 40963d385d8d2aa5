package lsp

import (
	"context"
	"fmt"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"
)

// publish sends the analysis's diagnostics for its document.
func (s *server) publish(ctx context.Context, a *analysis) {
	params := &protocol.PublishDiagnosticsParams{
		URI:         a.doc.URI,
		Version:     protocol.NewOptional(a.doc.Version),
		Diagnostics: s.protocolDiagnostics(a),
	}
	if err := s.client.PublishDiagnostics(ctx, params); err != nil && ctx.Err() == nil {
		s.logf("publishing diagnostics for %s: %v", a.doc.URI, err)
	}
}

// protocolDiagnostics converts the analysis's diagnostics that concern its
// document, in sorted order, at most diag.MaxPerFile of them and then the
// one (E115) that counts the rest, as the command line does: a file of two
// million stray braces would otherwise send the editor millions of them on
// every keystroke.
func (s *server) protocolDiagnostics(a *analysis) []protocol.Diagnostic {
	m := Mapper{File: a.doc.File, Enc: s.encoding()}
	out := []protocol.Diagnostic{}
	elsewhere := map[int][]*diag.Diagnostic{} // by import statement
	for _, d := range a.diags.Capped(diag.MaxPerFile) {
		if d.Subject != nil && d.Subject.Filename != a.doc.Path {
			if uf, ok := a.unit[d.Subject.Filename]; ok && uf.via >= 0 && d.Severity == diag.Error {
				elsewhere[uf.via] = append(elsewhere[uf.via], d)
			}
			continue
		}
		out = append(out, s.protocolDiagnostic(a, m, d))
	}
	for k, imp := range a.tree.imports {
		if ds := elsewhere[k]; len(ds) > 0 {
			out = append(out, s.importedErrors(a, m, imp, ds))
		}
	}
	for _, p := range a.settings {
		out = append(out, settingDiagnostic(p))
	}
	return out
}

// settingDiagnostic shows an error in the server's settings at the start of
// a document: the plan's checks and memory figures are off until it is
// fixed, and the user should see why.
func settingDiagnostic(p settingProblem) protocol.Diagnostic {
	pd := protocol.Diagnostic{
		Severity: severity(p.d.Severity),
		Source:   protocol.NewOptional("whisperc"),
		Message:  protocol.String(p.message()),
	}
	if p.d.Code != "" {
		pd.Code = protocol.String(p.d.Code)
	}
	return pd
}

// importedErrors summarises, on an import statement, the errors found in
// the files it brings in, with each error as related information, so that
// a problem in a file that is not open is not silent.
func (s *server) importedErrors(a *analysis, m Mapper, imp importStmt, ds diag.Diagnostics) protocol.Diagnostic {
	noun := "error"
	if len(ds) > 1 {
		noun = "errors"
	}
	first := ds[0]
	msg := fmt.Sprintf("%d %s in imported files\n\nFirst: %s: %s. Open the file to see and fix them.", len(ds), noun, first.Subject, first.Summary)
	pd := protocol.Diagnostic{
		Range:    m.Range(imp.PathStart, imp.PathEnd),
		Severity: protocol.DiagnosticSeverityError,
		Source:   protocol.NewOptional("whisperc"),
		Message:  protocol.String(msg),
	}
	for _, d := range ds[:min(len(ds), diag.MaxPerFile)] {
		if loc, ok := s.location(a, *d.Subject); ok {
			pd.RelatedInformation = append(pd.RelatedInformation, protocol.DiagnosticRelatedInformation{Location: loc, Message: d.Code + ": " + d.Summary})
		}
	}
	return pd
}

// protocolDiagnostic converts one diagnostic. Its message is the summary
// followed by the detail, which ends in how to fix it; notes become related
// information.
func (s *server) protocolDiagnostic(a *analysis, m Mapper, d *diag.Diagnostic) protocol.Diagnostic {
	var r protocol.Range
	if d.Subject != nil {
		r = m.SourceRange(*d.Subject)
	}
	msg := d.Summary
	if d.Detail != "" {
		msg += "\n\n" + d.Detail
	}
	pd := protocol.Diagnostic{
		Range:    r,
		Severity: severity(d.Severity),
		Source:   protocol.NewOptional("whisperc"),
		Message:  protocol.String(msg),
	}
	if d.Code != "" {
		pd.Code = protocol.String(d.Code)
	}
	for _, n := range d.Notes {
		loc, ok := s.location(a, n.Range)
		if !ok {
			continue
		}
		pd.RelatedInformation = append(pd.RelatedInformation, protocol.DiagnosticRelatedInformation{Location: loc, Message: n.Message})
	}
	return pd
}

// location converts a source range of any file of the analysis's import
// closure (or any file at all, by path) into a protocol location.
func (s *server) location(a *analysis, r source.Range) (protocol.Location, bool) {
	f := s.fileOf(a, r.Filename)
	if f == nil {
		return protocol.Location{}, false
	}
	m := Mapper{File: f, Enc: s.encoding()}
	return protocol.Location{URI: s.uriOf(r.Filename), Range: m.SourceRange(r)}, true
}

// fileOf returns the source of path as the analysis saw it, or as the
// editor or the disk has it now; nil when it cannot be read.
func (s *server) fileOf(a *analysis, path string) *source.File {
	if uf, ok := a.unit[path]; ok {
		return uf.file
	}
	src, err := s.readSource(path)
	if err != nil || len(src) > maxDocumentBytes {
		return nil
	}
	return source.NewFile(path, src)
}

func severity(s diag.Severity) protocol.DiagnosticSeverity {
	switch s {
	case diag.Error:
		return protocol.DiagnosticSeverityError
	case diag.Warning:
		return protocol.DiagnosticSeverityWarning
	case diag.Info:
		return protocol.DiagnosticSeverityInformation
	}
	return protocol.DiagnosticSeverityHint
}

// uriOf returns the URI of a path: the open document's own URI when it is
// open (keeping the client's spelling), a file URI otherwise.
func (s *server) uriOf(path string) uri.URI {
	if d, ok := s.docs.byPath(path); ok {
		return d.URI
	}
	return uri.File(path)
}
