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

// waitPublication returns the n-th publication of diagnostics for u (from
// 1), waiting for it.
func (s *session) waitPublication(u uri.URI, n int) []protocol.Diagnostic {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s.client.mu.Lock()
		if ps := s.client.diags[u]; len(ps) >= n {
			ds := ps[n-1].Diagnostics
			s.client.mu.Unlock()
			return ds
		}
		s.client.mu.Unlock()
		waitTick(s)
	}
	s.t.Fatalf("no publication %d for %s", n, u)
	return nil
}

// codes returns the code, or the first line of the message when there is
// none, of each diagnostic.
func codes(ds []protocol.Diagnostic) []string {
	var out []string
	for _, d := range ds {
		if c, ok := d.Code.(protocol.String); ok {
			out = append(out, string(c))
			continue
		}
		msg, _ := d.Message.(protocol.String)
		first, _, _ := strings.Cut(string(msg), "\n")
		out = append(out, first)
	}
	return out
}

// TestImportDirsSetting checks the importDirs setting, the language
// server's --import-dir: without it an import outside the document's
// directory tree is refused (E218) as on the command line; the setting (or
// the command-line option) allows it; a relative entry is resolved against
// the workspace folder; and an entry that is not a directory is reported in
// a message window and as a diagnostic, as a bad target is.
func TestImportDirsSetting(t *testing.T) {
	root := t.TempDir()
	shared := filepath.Join(root, "shared")
	proj := filepath.Join(root, "proj")
	for _, d := range []string{shared, proj} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(shared, "common.whisper"), []byte("model base {\n  source = \"hf:meta-llama/Llama-2-7b-hf\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "notadir.whisper"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	text := "import \"../shared/common.whisper\"\n\ngenerate g {\n  model  = base\n  prompt = \"Once\"\n}\n"
	main := uri.File(filepath.Join(proj, "main.whisper"))
	has := func(ds []protocol.Diagnostic, want string) bool {
		for _, c := range codes(ds) {
			if strings.Contains(c, want) {
				return true
			}
		}
		return false
	}
	errorsIn := func(ds []protocol.Diagnostic) []string {
		var out []string
		for i, d := range ds {
			if d.Severity == protocol.DiagnosticSeverityError {
				out = append(out, codes(ds)[i])
			}
		}
		return out
	}

	params := &protocol.InitializeParams{}
	params.WorkspaceFolders = protocol.NewNullable([]protocol.WorkspaceFolder{{URI: uri.File(root), Name: "root"}})
	s := newSessionParams(t, testOpts(), nil, params)
	s.open(main, text)
	if ds := s.waitPublication(main, 1); !has(ds, "E218") {
		t.Fatalf("without the setting, want E218; got %q", codes(ds))
	}
	configure := func(json string, n int) []protocol.Diagnostic {
		t.Helper()
		if err := s.server.DidChangeConfiguration(s.ctx, &protocol.DidChangeConfigurationParams{Settings: []byte(json)}); err != nil {
			t.Fatal(err)
		}
		s.sync(main)
		return s.waitPublication(main, n)
	}
	if ds := configure(`{"whisper":{"importDirs":["`+shared+`"]}}`, 2); len(errorsIn(ds)) != 0 {
		t.Errorf("with the absolute import directory: errors %q", errorsIn(ds))
	}
	if ds := configure(`{"whisper":{"importDirs":"shared"}}`, 3); len(errorsIn(ds)) != 0 {
		t.Errorf("with a relative import directory (one string): errors %q", errorsIn(ds))
	}
	msgs0 := len(s.client.messages())
	ds := configure(`{"whisper":{"importDirs":["nowhere", "notadir.whisper"]}}`, 4)
	if !has(ds, "E218") || !has(ds, `No such directory: "nowhere"`) || !has(ds, `Not a directory: "notadir.whisper"`) {
		t.Errorf("with bad import directories: %q", codes(ds))
	}
	if msgs := s.client.messages()[msgs0:]; len(msgs) != 2 || !strings.Contains(msgs[0], "whisper.importDirs") {
		t.Errorf("messages %q, want one per bad directory", msgs)
	}
	if ds := configure(`{"whisper":{"importDirs":{"a":1}}}`, 5); !has(ds, "Not a list of directories") {
		t.Errorf("with an object: %q", codes(ds))
	}
	if ds := configure(`{"whisper":{"importDirs":null}}`, 6); !has(ds, "E218") || has(ds, "import directories") {
		t.Errorf("after clearing the setting: want E218 and no setting error, got %q", codes(ds))
	}

	// The command line's --import-dir (Options.ImportDirs) applies
	// without settings.
	opts := testOpts()
	opts.ImportDirs = []string{shared}
	s2 := newSession(t, opts)
	s2.open(main, text)
	if ds := s2.waitDiagnostics(main, 1); len(errorsIn(ds)) != 0 {
		t.Errorf("with Options.ImportDirs: errors %q", errorsIn(ds))
	}
}
