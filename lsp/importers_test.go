package lsp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"
)

// lastDiagnostics waits until the latest publication for u satisfies ok,
// and returns it.
func (s *session) lastDiagnostics(u uri.URI, what string, ok func([]protocol.Diagnostic) bool) []protocol.Diagnostic {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.client.mu.Lock()
		ps := s.client.diags[u]
		var last []protocol.Diagnostic
		if len(ps) > 0 {
			last = ps[len(ps)-1].Diagnostics
		}
		s.client.mu.Unlock()
		if len(ps) > 0 && ok(last) {
			return last
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: last diagnostics of %s: %+v", what, u, last)
		}
		select {
		case <-s.client.wake:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func hasError(ds []protocol.Diagnostic) bool {
	for _, d := range ds {
		if d.Severity == protocol.DiagnosticSeverityError {
			return true
		}
	}
	return false
}

// TestClosingAnImportedBufferRefreshesImporters edits an imported file in
// the editor without saving, then closes it: the importing document's
// diagnostics and hover follow the buffer, then the disk again.
func TestClosingAnImportedBufferRefreshesImporters(t *testing.T) {
	s := newSession(t, testOpts())
	dir := t.TempDir()
	commonText := "model base {\n  source = \"hf:meta-llama/Llama-2-7b-hf\"\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "common.whisper"), []byte(commonText), 0o644); err != nil {
		t.Fatal(err)
	}
	common := uri.File(filepath.Join(dir, "common.whisper"))
	main := uri.File(filepath.Join(dir, "main.whisper"))
	mainText := "import \"common.whisper\"\n\ngenerate g {\n  model = base\n  prompt = \"hi\"\n}\n"
	s.open(main, mainText)
	if hasError(s.waitDiagnostics(main, 1)) {
		t.Fatal("errors with the file on disk")
	}
	s.open(common, commonText)
	i := strings.Index(commonText, "base")
	s.edit(common, 2, commonText, i, i+len("base"), "other")
	s.lastDiagnostics(main, "after the unsaved rename", hasError)
	hover := func() string {
		h, err := s.server.Hover(s.ctx, &protocol.HoverParams{TextDocumentPositionParams: s.tdpp(main, s.pos(mainText, "= base", 3))})
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			return ""
		}
		return h.Contents.(*protocol.MarkupContent).Value
	}
	if h := hover(); strings.Contains(h, "common.whisper") {
		t.Errorf("hover on base finds it in the edited buffer: %q", h)
	}
	if err := s.server.DidClose(s.ctx, &protocol.DidCloseTextDocumentParams{TextDocument: protocol.TextDocumentIdentifier{URI: common}}); err != nil {
		t.Fatal(err)
	}
	s.lastDiagnostics(main, "after closing the buffer", func(ds []protocol.Diagnostic) bool { return !hasError(ds) })
	if h := hover(); !strings.Contains(h, "common.whisper") {
		t.Errorf("hover on base after close: %q", h)
	}
}
