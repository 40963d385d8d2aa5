package lsp

// Behaviour real clients (Neovim 0.7, Emacs eglot, a plain JSON-RPC client)
// depend on: what they may insert, when they are answered, where ranges end.

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"

	"github.com/modelwhisperer/whisperc/lang/diag"
)

// completionItems returns the completion items at the first marker (plus
// delta) of text, opened as a new document.
func completionItems(t *testing.T, s *session, text, marker string, delta int) []protocol.CompletionItem {
	t.Helper()
	u := testURI(t, "c.whisper")
	s.open(u, text)
	res, err := s.server.Completion(s.ctx, &protocol.CompletionParams{TextDocumentPositionParams: s.tdpp(u, s.pos(text, marker, delta))})
	if err != nil {
		t.Fatal(err)
	}
	list, ok := res.(*protocol.CompletionList)
	if !ok {
		t.Fatalf("completion result %T", res)
	}
	return list.Items
}

// TestCompletionPlainTextWithoutSnippets checks that a client that does not
// announce snippet support (eglot without yasnippet, Neovim 0.7's omnifunc)
// gets one line of plain text per item, and that one that does gets
// snippets.
func TestCompletionPlainTextWithoutSnippets(t *testing.T) {
	texts := []struct{ text, marker string }{
		{"\n", "\n"},                                      // block kinds and import
		{"finetune x {\n  \n}\n", "  \n"},                 // attributes and nested blocks
		{"finetune x {\n  checkpointing = \n}\n", "= \n"}, // call forms
	}
	plain := newSession(t, testOpts())
	for _, c := range texts {
		items := completionItems(t, plain, c.text, c.marker, len(c.marker)-1)
		if len(items) == 0 {
			t.Fatalf("no items for %q", c.text)
		}
		for _, it := range items {
			nt := it.TextEdit.(*protocol.TextEdit).NewText
			if it.InsertTextFormat == protocol.InsertTextFormatSnippet || strings.ContainsAny(nt, "$\n\x00") {
				t.Errorf("plain-text client got %q (format %v) for %s", nt, it.InsertTextFormat, it.Label)
			}
		}
	}
	items := completionItems(t, plain, texts[1].text, texts[1].marker, 2)
	if nt := findItem(t, items, "max_steps").TextEdit.(*protocol.TextEdit).NewText; nt != "max_steps = " {
		t.Errorf("max_steps inserts %q, want %q", nt, "max_steps = ")
	}

	yes := true
	params := &protocol.InitializeParams{}
	params.Capabilities.TextDocument = &protocol.TextDocumentClientCapabilities{Completion: &protocol.CompletionClientCapabilities{CompletionItem: &protocol.ClientCompletionItemOptions{SnippetSupport: &yes}}}
	snip := newSessionParams(t, testOpts(), nil, params)
	items = completionItems(t, snip, texts[1].text, texts[1].marker, 2)
	it := findItem(t, items, "max_steps")
	if nt := it.TextEdit.(*protocol.TextEdit).NewText; it.InsertTextFormat != protocol.InsertTextFormatSnippet || nt != "max_steps = $0" {
		t.Errorf("snippet client got %q (format %v)", nt, it.InsertTextFormat)
	}
}

func findItem(t *testing.T, items []protocol.CompletionItem, label string) protocol.CompletionItem {
	t.Helper()
	for _, it := range items {
		if it.Label == label {
			return it
		}
	}
	t.Fatalf("no item %q", label)
	return protocol.CompletionItem{}
}

// TestNoSpaceTrigger checks that a space does not pop the completion list
// (after every number, in VS Code).
func TestNoSpaceTrigger(t *testing.T) {
	s := newSession(t, testOpts())
	res, err := s.inner.Initialize(s.ctx, &protocol.InitializeParams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Capabilities.CompletionProvider.TriggerCharacters {
		if strings.TrimSpace(c) == "" {
			t.Errorf("trigger characters %q include whitespace", res.Capabilities.CompletionProvider.TriggerCharacters)
		}
	}
}

// TestRequestsAfterShutdown checks that after shutdown every request, a
// second shutdown included, is refused with InvalidRequest.
func TestRequestsAfterShutdown(t *testing.T) {
	s := newSession(t, testOpts())
	u := testURI(t, "main.whisper")
	s.open(u, program)
	s.sync(u)
	if err := s.server.Shutdown(s.ctx); err != nil {
		t.Fatal(err)
	}
	_, err := s.server.Hover(s.ctx, &protocol.HoverParams{TextDocumentPositionParams: s.tdpp(u, s.pos(program, "nf4", 0))})
	wantInvalid(t, "hover", err)
	wantInvalid(t, "shutdown", s.server.Shutdown(s.ctx))
}

func wantInvalid(t *testing.T, what string, err error) {
	t.Helper()
	var rpcErr *jsonrpc2.Error
	if !errors.As(err, &rpcErr) || rpcErr.Code != jsonrpc2.InvalidRequest {
		t.Errorf("%s after shutdown: %v, want an InvalidRequest error", what, err)
	}
}

// TestCRLFRanges checks that no range sent for a CRLF file ends past its
// line (the protocol's lines end before the CR).
func TestCRLFRanges(t *testing.T) {
	eachEncoding(t, func(t *testing.T, s *session) {
		text := strings.ReplaceAll("// a comment\nmodel m {\n  source = \"hf:a/b\n  quantize { method = nf5 }\n}\n", "\n", "\r\n")
		u := testURI(t, "crlf.whisper")
		s.open(u, text)
		lines := strings.Split(text, "\r\n")
		within := func(what string, p protocol.Position) {
			t.Helper()
			if int(p.Line) < len(lines) && int(p.Character) > len(lines[p.Line]) {
				t.Errorf("%s at %d:%d, past the end of line %q", what, p.Line, p.Character, lines[p.Line])
			}
		}
		diags := s.waitDiagnostics(u, 1)
		if len(diags) == 0 {
			t.Fatal("no diagnostics")
		}
		for _, d := range diags {
			within("diagnostic "+string(d.Message.(protocol.String)), d.Range.End)
		}
		toks, err := s.server.SemanticTokensFull(s.ctx, &protocol.SemanticTokensParams{TextDocument: protocol.TextDocumentIdentifier{URI: u}})
		if err != nil {
			t.Fatal(err)
		}
		var line, col uint32
		for i := 0; i+4 < len(toks.Data); i += 5 {
			if toks.Data[i] > 0 {
				col = 0
			}
			line += toks.Data[i]
			col += toks.Data[i+1]
			within("semantic token", protocol.Position{Line: line, Character: col + toks.Data[i+2]})
		}
		m := testMapper(text, s.enc)
		if p := m.Position(strings.Index(text, "\n")); p.Line != 0 || int(p.Character) != len("// a comment") {
			t.Errorf("the LF of line 1 maps to %v", p)
		}
	})
}

// TestDocumentSymbolsSourceOrder checks that the outline lists attributes
// and nested blocks in the order they are written.
func TestDocumentSymbolsSourceOrder(t *testing.T) {
	s := newSession(t, testOpts())
	u := testURI(t, "main.whisper")
	text := "finetune x {\n  lora { rank = 8 }\n  batch = 4\n  optimizer { lr = 1e-4 }\n  grad_accum = 2\n}\n"
	s.open(u, text)
	res, err := s.server.DocumentSymbol(s.ctx, &protocol.DocumentSymbolParams{TextDocument: protocol.TextDocumentIdentifier{URI: u}})
	if err != nil {
		t.Fatal(err)
	}
	syms := res.(protocol.DocumentSymbolSlice)
	var got []string
	for _, c := range syms[0].Children {
		got = append(got, c.Name)
	}
	if want := "lora batch optimizer grad_accum"; strings.Join(got, " ") != want {
		t.Errorf("children %q, want %q", got, want)
	}
}

// TestFoldingNoOneLineRanges checks that every folding range spans lines,
// and that a list whose `]` follows its last item folds to that line.
func TestFoldingNoOneLineRanges(t *testing.T) {
	s := newSession(t, testOpts())
	u := testURI(t, "main.whisper")
	text := "model m {\n}\ntarget {\n  require = [gpu_memory >= 24GiB,\n    gpus >= 1]\n}\ntrack {\n  dir = \"runs\"\n}\n"
	s.open(u, text)
	fr, err := s.server.FoldingRanges(s.ctx, &protocol.FoldingRangeParams{TextDocument: protocol.TextDocumentIdentifier{URI: u}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range fr {
		if r.EndLine <= r.StartLine {
			t.Errorf("one-line folding range %+v", r)
		}
		if r.StartLine == 3 && r.EndLine == 4 {
			found = true
		}
	}
	if !found {
		t.Errorf("no fold of the list on lines 3-4 in %+v", fr)
	}
}

// TestDefinitionOnImportPath checks that definition on an import's path
// opens the imported file, and on a path that names no readable file
// returns nothing.
func TestDefinitionOnImportPath(t *testing.T) {
	s := newSession(t, testOpts())
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "common.whisper"), []byte("variable v { default = 1 }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	u := uri.File(filepath.Join(dir, "main.whisper"))
	text := "import \"common.whisper\"\nimport \"missing.whisper\"\n"
	s.open(u, text)
	def := func(marker string) protocol.LocationSlice {
		res, err := s.server.Definition(s.ctx, &protocol.DefinitionParams{TextDocumentPositionParams: s.tdpp(u, s.pos(text, marker, 3))})
		if err != nil {
			t.Fatal(err)
		}
		if locs, ok := res.(protocol.LocationSlice); ok {
			return locs
		}
		if links, ok := res.(protocol.DefinitionLinkSlice); !ok || len(links) != 0 {
			t.Fatalf("definition %#v", res)
		}
		return nil // an empty list decodes as either kind of slice
	}
	got := def("common")
	if len(got) != 1 || got[0].URI != uri.File(filepath.Join(dir, "common.whisper")) || got[0].Range != (protocol.Range{}) {
		t.Errorf("definition of the import: %+v", got)
	}
	if got := def("missing"); len(got) != 0 {
		t.Errorf("definition of a missing import: %+v", got)
	}
}

// TestInvalidTargetSetting checks that a target setting that names no
// profile is reported, with a did-you-mean, in a message window and as a
// diagnostic, and that a valid one clears it.
func TestInvalidTargetSetting(t *testing.T) {
	s := newSession(t, Options{Target: "a100-80g"})
	u := testURI(t, "main.whisper")
	s.open(u, program)
	diags := s.waitDiagnostics(u, 1)
	var p102 *protocol.Diagnostic
	for i, d := range diags {
		if d.Code == protocol.String("P102") {
			p102 = &diags[i]
		}
	}
	if p102 == nil {
		t.Fatalf("no P102 diagnostic in %+v", diags)
	}
	if msg := string(p102.Message.(protocol.String)); !strings.Contains(msg, `Did you mean "a100-80gb"?`) || p102.Severity != protocol.DiagnosticSeverityError {
		t.Errorf("P102 diagnostic %q, severity %v", msg, p102.Severity)
	}
	if msgs := s.client.messages(); len(msgs) != 1 || !strings.Contains(msgs[0], `Did you mean "a100-80gb"?`) {
		t.Errorf("messages %q, want one with the did-you-mean", msgs)
	}
	if err := s.server.DidChangeConfiguration(s.ctx, &protocol.DidChangeConfigurationParams{Settings: []byte(`{"whisper":{"target":"a100-80gb"}}`)}); err != nil {
		t.Fatal(err)
	}
	s.sync(u)
	// Configuration re-analyses the same version: wait for a second
	// publication.
	for i := 0; i < 500; i++ {
		s.client.mu.Lock()
		n := len(s.client.diags[u])
		last := s.client.diags[u][n-1]
		s.client.mu.Unlock()
		if n >= 2 {
			for _, d := range last.Diagnostics {
				if d.Code == protocol.String("P102") {
					t.Errorf("P102 still reported after a valid target: %+v", d)
				}
			}
			return
		}
		waitTick(s)
	}
	t.Error("no diagnostics after the configuration changed")
}

// waitTick waits for the next publication or 20 ms.
func waitTick(s *session) {
	select {
	case <-s.client.wake:
	case <-time.After(20 * time.Millisecond):
	}
}

// TestDiagnosticsCapped checks that a document with thousands of errors
// publishes at most diag.MaxPerFile of them, then the one that counts the
// rest.
func TestDiagnosticsCapped(t *testing.T) {
	s := newSession(t, testOpts())
	u := testURI(t, "braces.whisper")
	s.open(u, strings.Repeat("}\n", 3000))
	diags := s.waitDiagnostics(u, 1)
	if len(diags) != diag.MaxPerFile+1 {
		t.Fatalf("%d diagnostics published, want %d", len(diags), diag.MaxPerFile+1)
	}
	last := diags[diag.MaxPerFile]
	if last.Code != protocol.String(diag.TooManyCode) {
		t.Errorf("last diagnostic %+v, want %s", last, diag.TooManyCode)
	}
	if last.Range.Start.Line < diags[diag.MaxPerFile-1].Range.Start.Line {
		t.Errorf("the count is at %v, before the last one shown at %v", last.Range.Start, diags[diag.MaxPerFile-1].Range.Start)
	}
}
