package lsp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"
)

// TestPanicBecomesErrorResponse makes one request panic and checks the
// client gets an internal-error response, the log gets a line, and the
// server keeps answering.
func TestPanicBecomesErrorResponse(t *testing.T) {
	var log bytes.Buffer
	s := newSessionWith(t, Options{Log: &syncWriter{w: &log}}, func(sv *server) {
		sv.beforeHandle = func(method string) {
			if method == protocol.MethodTextDocumentHover {
				panic("boom")
			}
		}
	})
	u := testURI(t, "main.whisper")
	s.open(u, program)
	_, err := s.server.Hover(s.ctx, &protocol.HoverParams{TextDocumentPositionParams: s.tdpp(u, s.pos(program, "nf4", 0))})
	var rpcErr *jsonrpc2.Error
	if !errors.As(err, &rpcErr) || rpcErr.Code != jsonrpc2.InternalError || !strings.Contains(rpcErr.Message, "boom") {
		t.Fatalf("hover error %v, want an internal error mentioning the panic", err)
	}
	s.sync(u) // still answering
	if !strings.Contains(log.String(), "internal error in textDocument/hover: boom") {
		t.Errorf("log: %q", log.String())
	}
}

// syncWriter serialises writes to a buffer shared with the test.
type syncWriter struct {
	mu chanMutex
	w  io.Writer
}

type chanMutex struct{ ch chan struct{} }

func (m *chanMutex) lock() {
	if m.ch == nil {
		m.ch = make(chan struct{}, 1)
	}
	m.ch <- struct{}{}
}
func (m *chanMutex) unlock() { <-m.ch }

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.lock()
	defer w.mu.unlock()
	return w.w.Write(p)
}

// TestRandomEdits applies a long deterministic sequence of random edits,
// half-typed and invalid text included, and after each one asks for every
// feature at a random position. No request may fail with an internal
// error, and the server's text must track the client's exactly.
func TestRandomEdits(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 60
	}
	for _, enc := range encodings {
		t.Run(string(enc), func(t *testing.T) {
			s := newSession(t, Options{Log: io.Discard}, enc)
			u := testURI(t, "main.whisper")
			text := program
			s.open(u, text)
			rng := rand.New(rand.NewSource(1))
			snippets := []string{"{", "}", "\"", "= ", "/*", "*/", "😀", "é", "日本", "var.", "[", "]", "(", ",", "\n", "model x {", "lora {", "rank = ", "24GiB", "5%", "every(", "#", "//", "\\u{1F6", "\uFFFD", " = = ", "import \"", "sft.output"}
			for v := int32(2); v < int32(n); v++ {
				start := runeStart(text, rng.Intn(len(text)+1))
				end := runeStart(text, min(len(text), start+rng.Intn(12)))
				repl := ""
				if rng.Intn(3) > 0 {
					repl = snippets[rng.Intn(len(snippets))]
				}
				text = s.edit(u, v, text, start, end, repl)
				pos := testMapper(text, s.enc).Position(rng.Intn(len(text) + 1))
				s.exercise(u, pos)
			}
			s.sync(u)
			d, _ := s.inner.docs.get(u)
			if string(d.File.Src) != text {
				t.Fatalf("server text diverged:\n%q\nwant\n%q", d.File.Src, text)
			}
			// The last version's diagnostics arrive.
			s.waitDiagnostics(u, int32(n-1))
		})
	}
}

// runeStart moves off back to the start of the UTF-8 sequence it is in, as
// an editor's positions always are.
func runeStart(s string, off int) int {
	for off > 0 && off < len(s) && s[off]&0xC0 == 0x80 {
		off--
	}
	return off
}

// exercise sends every position-based request once and fails the test on
// an internal error.
func (s *session) exercise(u uri.URI, pos protocol.Position) {
	s.t.Helper()
	td := protocol.TextDocumentIdentifier{URI: u}
	tdpp := s.tdpp(u, pos)
	check := func(what string, err error) {
		var rpcErr *jsonrpc2.Error
		if errors.As(err, &rpcErr) && rpcErr.Code == jsonrpc2.InternalError {
			s.t.Fatalf("%s at %+v: %v", what, pos, err)
		}
	}
	_, err := s.server.Hover(s.ctx, &protocol.HoverParams{TextDocumentPositionParams: tdpp})
	check("hover", err)
	_, err = s.server.Completion(s.ctx, &protocol.CompletionParams{TextDocumentPositionParams: tdpp})
	check("completion", err)
	_, err = s.server.Definition(s.ctx, &protocol.DefinitionParams{TextDocumentPositionParams: tdpp})
	check("definition", err)
	_, err = s.server.References(s.ctx, &protocol.ReferenceParams{TextDocumentPositionParams: tdpp})
	check("references", err)
	_, err = s.server.PrepareRename(s.ctx, &protocol.PrepareRenameParams{TextDocumentPositionParams: tdpp})
	check("prepareRename", err)
	_, err = s.server.Rename(s.ctx, &protocol.RenameParams{TextDocumentPositionParams: tdpp, NewName: "renamed"})
	check("rename", err)
	_, err = s.server.SemanticTokensFull(s.ctx, &protocol.SemanticTokensParams{TextDocument: td})
	check("semanticTokens", err)
	_, err = s.server.DocumentSymbol(s.ctx, &protocol.DocumentSymbolParams{TextDocument: td})
	check("documentSymbol", err)
	_, err = s.server.CodeAction(s.ctx, &protocol.CodeActionParams{TextDocument: td, Range: protocol.Range{Start: pos, End: pos}})
	check("codeAction", err)
	_, err = s.server.InlayHint(s.ctx, &protocol.InlayHintParams{TextDocument: td, Range: protocol.Range{End: protocol.Position{Line: 1 << 20}}})
	check("inlayHint", err)
	_, err = s.server.Formatting(s.ctx, &protocol.DocumentFormattingParams{TextDocument: td})
	check("formatting", err)
	_, err = s.server.DocumentHighlight(s.ctx, &protocol.DocumentHighlightParams{TextDocumentPositionParams: tdpp})
	check("documentHighlight", err)
	_, err = s.server.FoldingRanges(s.ctx, &protocol.FoldingRangeParams{TextDocument: td})
	check("foldingRange", err)
}

// TestUnknownDocument checks the server refuses requests about documents
// that are not open instead of crashing, and ignores changes to them.
func TestUnknownDocument(t *testing.T) {
	s := newSession(t, testOpts())
	_, err := s.server.Hover(s.ctx, &protocol.HoverParams{TextDocumentPositionParams: s.tdpp("file:///nowhere.whisper", protocol.Position{})})
	if err == nil || !strings.Contains(err.Error(), "not open") {
		t.Errorf("hover on an unknown document: %v", err)
	}
	// A change to an unopened document is logged and ignored.
	s.edit("file:///nowhere.whisper", 2, "", 0, 0, "x")
	other := testURI(t, "other.whisper")
	s.open(other, "")
	s.sync(other)
}

// TestOpeningRunsNothing checks that analysing a pipeline writes no files:
// the directory holding it is unchanged after diagnostics arrive.
func TestOpeningRunsNothing(t *testing.T) {
	s := newSession(t, testOpts())
	dir := t.TempDir()
	p := filepath.Join(dir, "main.whisper")
	if err := os.WriteFile(p, []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	u := uri.File(p)
	s.open(u, program)
	s.waitDiagnostics(u, 1)
	time.Sleep(50 * time.Millisecond)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files after opening: %v", names)
	}
}

// FuzzServe feeds arbitrary JSON-RPC message bodies to a server that has
// been initialized and has a document open. It must not panic, and it must
// return once its input ends.
func FuzzServe(f *testing.F) {
	f.Add(`{"jsonrpc":"2.0","id":2,"method":"textDocument/hover","params":{"textDocument":{"uri":"file:///a.whisper"},"position":{"line":0,"character":3}}}`)
	f.Add(`{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"file:///a.whisper","version":2},"contentChanges":[{"range":{"start":{"line":9,"character":99},"end":{"line":0,"character":0}},"text":"😀"}]}}`)
	f.Add(`{"jsonrpc":"2.0","id":3,"method":"textDocument/completion","params":{"textDocument":{"uri":"file:///a.whisper"},"position":{"line":4294967295,"character":4294967295}}}`)
	f.Add(`{"jsonrpc":"2.0","id":4,"method":"textDocument/rename","params":{"textDocument":{"uri":"file:///a.whisper"},"position":{"line":0,"character":7},"newName":"b"}}`)
	f.Add(`[{"jsonrpc":"2.0","id":5,"method":"shutdown"},{"jsonrpc":"2.0","method":"exit"}]`)
	f.Add(`{"jsonrpc":"2.0","id":6,"method":"textDocument/semanticTokens/full","params":null}`)
	f.Add(`{`)
	f.Fuzz(func(t *testing.T, body string) {
		var in bytes.Buffer
		frame := func(b string) { fmt.Fprintf(&in, "Content-Length: %d\r\n\r\n%s", len(b), b) }
		frame(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}`)
		frame(`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///a.whisper","languageId":"whisper","version":1,"text":"model base {\n  quantize { method = nf4 }\n}\n"}}}`)
		frame(body)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = Serve(ctx, &in, io.Discard, Options{Log: io.Discard, ReadFile: func(string) ([]byte, error) { return nil, os.ErrNotExist }})
		}()
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatal("Serve did not return after its input ended")
		}
	})
}

// TestMalformedMessageSkipped sends frames that are not JSON-RPC between
// valid ones: the server logs and skips them and answers what follows.
func TestMalformedMessageSkipped(t *testing.T) {
	inR, inW := io.Pipe()
	var out, log bytes.Buffer
	outW, logW := &syncWriter{w: &out}, &syncWriter{w: &log}
	done := make(chan error, 1)
	go func() { done <- Serve(context.Background(), inR, outW, Options{Log: logW, Target: "a100-80gb"}) }()
	frame := func(b string) {
		if _, err := fmt.Fprintf(inW, "Content-Length: %d\r\n\r\n%s", len(b), b); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(what string) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			outW.mu.lock()
			ok := strings.Contains(out.String(), what)
			outW.mu.unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s in the output:\n%s", what, out.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	frame(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}`)
	frame(`{"a":`)
	frame(`not json at all`)
	frame(`{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///a.whisper","languageId":"whisper","version":1,"text":"model base {\n}\n"}}}`)
	frame(`{"jsonrpc":"2.0","id":2,"method":"textDocument/hover","params":{"textDocument":{"uri":"file:///a.whisper"},"position":{"line":0,"character":2}}}`)
	waitFor(`"id":2,"result":{"contents"`)
	frame(`{"jsonrpc":"2.0","id":3,"method":"shutdown"}`)
	waitFor(`"id":3,"result":null`)
	frame(`{"jsonrpc":"2.0","method":"exit"}`)
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if n := strings.Count(log.String(), "skipping a malformed message"); n != 2 {
		t.Errorf("%d malformed messages logged:\n%s", n, log.String())
	}
}
