package lsp

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"

	"github.com/modelwhisperer/whisperc/compiler"
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

// splitExample copies examples/split into a new directory, with a file in
// a subdirectory and an unrelated one, and returns the directory.
func splitExample(t *testing.T) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	from := filepath.Join(filepath.Dir(here), "..", "examples", "split")
	dir := t.TempDir()
	for _, name := range []string{"common.whisper", "main.whisper"} {
		b, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A program below cannot import common.whisper (it lies outside its
	// directory tree), and an unrelated one declares its own base.
	if err := os.WriteFile(filepath.Join(dir, "sub", "other.whisper"), []byte("import \"../common.whisper\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alone.whisper"), []byte("model base {\n  source = \"hf:a/b\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// workspaceSession starts a session whose workspace folder is dir.
func workspaceSession(t *testing.T, dir string) *session {
	params := &protocol.InitializeParams{}
	params.WorkspaceFolders = protocol.NewNullable([]protocol.WorkspaceFolder{{URI: uri.File(dir), Name: "split"}})
	return newSessionParams(t, testOpts(), nil, params)
}

// TestRenameReachesClosedImporters renames `base` in
// examples/split/common.whisper with main.whisper closed: the edit covers
// main.whisper's use, and the program still checks after it is applied.
func TestRenameReachesClosedImporters(t *testing.T) {
	dir := splitExample(t)
	s := workspaceSession(t, dir)
	commonPath, mainPath := filepath.Join(dir, "common.whisper"), filepath.Join(dir, "main.whisper")
	common := uri.File(commonPath)
	commonText := readFile(t, commonPath)
	s.open(common, commonText)

	refs, err := s.server.References(s.ctx, &protocol.ReferenceParams{TextDocumentPositionParams: s.tdpp(common, s.pos(commonText, "base {", 1)), Context: protocol.ReferenceContext{IncludeDeclaration: false}})
	if err != nil {
		t.Fatal(err)
	}
	mainText := readFile(t, mainPath)
	if len(refs) != 1 || refs[0].URI != uri.File(mainPath) || refs[0].Range.Start != s.pos(mainText, "base // declared", 0) {
		t.Errorf("references %+v, want the use in main.whisper", refs)
	}

	we, err := s.server.Rename(s.ctx, &protocol.RenameParams{TextDocumentPositionParams: s.tdpp(common, s.pos(commonText, "base {", 0)), NewName: "foundation"})
	if err != nil {
		t.Fatal(err)
	}
	if len(we.Changes) != 2 {
		t.Errorf("rename edits %d files, want common and main: %+v", len(we.Changes), we.Changes)
	}
	newMain := applyEdits(t, s, mainText, we.Changes[uri.File(mainPath)])
	newCommon := applyEdits(t, s, commonText, we.Changes[common])
	if !strings.Contains(newMain, "model  = foundation // declared") || !strings.Contains(newCommon, "model foundation {") {
		t.Fatalf("after rename:\n%s\n%s", newCommon, newMain)
	}
	for p, text := range map[string]string{mainPath: newMain, commonPath: newCommon} {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, diags := compiler.Check(mainPath, compiler.Options{}); diags.HasErrors() {
		t.Errorf("main.whisper no longer checks after the rename:\n%v", diags)
	}
	if got := readFile(t, filepath.Join(dir, "alone.whisper")); !strings.Contains(got, "model base {") {
		t.Errorf("an unrelated file changed: %q", got)
	}

	// A name main.whisper declares is refused, though main is not open.
	_, err = s.server.Rename(s.ctx, &protocol.RenameParams{TextDocumentPositionParams: s.tdpp(common, s.pos(commonText, "lr {", 0)), NewName: "support"})
	if err == nil || !strings.Contains(err.Error(), "already declared") {
		t.Errorf("rename onto a name main.whisper declares: %v", err)
	}
}

// TestRenameRefusedWhenTheSearchIsIncomplete checks that a rename is
// refused, with the reason, when there are more candidate importers than
// the server examines.
func TestRenameRefusedWhenTheSearchIsIncomplete(t *testing.T) {
	dir := splitExample(t)
	for i := 0; i <= maxImporterCandidates; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d.whisper", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := workspaceSession(t, dir)
	common := uri.File(filepath.Join(dir, "common.whisper"))
	commonText := readFile(t, filepath.Join(dir, "common.whisper"))
	s.open(common, commonText)
	_, err := s.server.Rename(s.ctx, &protocol.RenameParams{TextDocumentPositionParams: s.tdpp(common, s.pos(commonText, "base {", 0)), NewName: "foundation"})
	if err == nil || !strings.Contains(err.Error(), "cannot rename base safely") || !strings.Contains(err.Error(), "more than 1000") {
		t.Errorf("rename with too many candidates: %v", err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
