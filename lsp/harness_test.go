package lsp

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"
)

// testClient is the editor side of an in-process session: it records the
// diagnostics the server publishes.
type testClient struct {
	protocol.UnimplementedClient
	mu    sync.Mutex
	diags map[uri.URI][]*protocol.PublishDiagnosticsParams
	wake  chan struct{}
	shown []*protocol.ShowMessageParams
}

func (c *testClient) ShowMessage(ctx context.Context, p *protocol.ShowMessageParams) error {
	c.mu.Lock()
	c.shown = append(c.shown, p)
	c.mu.Unlock()
	return nil
}

// messages returns the window/showMessage texts received so far.
func (c *testClient) messages() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.shown {
		out = append(out, p.Message)
	}
	return out
}

func (c *testClient) PublishDiagnostics(ctx context.Context, p *protocol.PublishDiagnosticsParams) error {
	p, err := protocol.Clone(p)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.diags[p.URI] = append(c.diags[p.URI], p)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// session is one in-process client/server pair over a net.Pipe.
type session struct {
	t      testing.TB
	ctx    context.Context
	server protocol.Server
	client *testClient
	conn   jsonrpc2.Conn
	done   chan error
	enc    Encoding
	inner  *server
}

// srv returns the server's internals.
func (s *session) srv(t testing.TB) *server { return s.inner }

// newSession starts a server with opts and initializes it, offering the
// given position encodings (none: the protocol's utf-16 default).
func newSession(t testing.TB, opts Options, encodings ...protocol.PositionEncodingKind) *session {
	t.Helper()
	return newSessionWith(t, opts, nil, encodings...)
}

// newSessionWith is newSession with a setup function that sees the server
// before it reads its first message.
func newSessionWith(t testing.TB, opts Options, setup func(*server), encodings ...protocol.PositionEncodingKind) *session {
	t.Helper()
	params := &protocol.InitializeParams{}
	if len(encodings) > 0 {
		params.Capabilities.General = &protocol.GeneralClientCapabilities{PositionEncodings: encodings}
	}
	return newSessionParams(t, opts, setup, params)
}

// newSessionParams starts a server with opts and initializes it with
// params.
func newSessionParams(t testing.TB, opts Options, setup func(*server), params *protocol.InitializeParams) *session {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cs, ss := net.Pipe()
	s := &session{t: t, ctx: ctx, client: &testClient{diags: map[uri.URI][]*protocol.PublishDiagnosticsParams{}, wake: make(chan struct{}, 1)}, done: make(chan error, 1)}
	started := make(chan *server, 1)
	go func() {
		s.done <- serve(ctx, ss, ss, opts, func(sv *server) {
			if setup != nil {
				setup(sv)
			}
			started <- sv
		})
	}()
	s.inner = <-started
	s.conn = jsonrpc2.NewConn(jsonrpc2.NewHeaderStream(cs), jsonrpc2.WithCodec(codec{}))
	s.conn.Go(ctx, protocol.ClientHandler(s.client, jsonrpc2.MethodNotFoundHandler))
	s.server = protocol.ServerDispatcher(s.conn)
	t.Cleanup(func() {
		cancel()
		_ = s.conn.Close()
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			t.Error("server did not stop")
		}
	})
	res, err := s.server.Initialize(ctx, params)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	switch res.Capabilities.PositionEncoding {
	case protocol.PositionEncodingKindUTF8:
		s.enc = EncodingUTF8
	default:
		s.enc = EncodingUTF16
	}
	if err := s.server.Initialized(ctx, &protocol.InitializedParams{}); err != nil {
		t.Fatal(err)
	}
	return s
}

// open opens a document with text (use "|" nowhere special; see at).
func (s *session) open(u uri.URI, text string) {
	s.t.Helper()
	err := s.server.DidOpen(s.ctx, &protocol.DidOpenTextDocumentParams{TextDocument: protocol.TextDocumentItem{URI: u, LanguageID: "whisper", Version: 1, Text: text}})
	if err != nil {
		s.t.Fatal(err)
	}
}

// edit replaces the bytes [start, end) of text (the current text, which
// the test tracks) by repl, sending positions in the session's encoding.
func (s *session) edit(u uri.URI, version int32, text string, start, end int, repl string) string {
	s.t.Helper()
	m := testMapper(text, s.enc)
	err := s.server.DidChange(s.ctx, &protocol.DidChangeTextDocumentParams{
		TextDocument:   protocol.VersionedTextDocumentIdentifier{TextDocumentIdentifier: protocol.TextDocumentIdentifier{URI: u}, Version: version},
		ContentChanges: []protocol.TextDocumentContentChangeEvent{&protocol.TextDocumentContentChangePartial{Range: m.Range(start, end), Text: repl}},
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return text[:start] + repl + text[end:]
}

// sync waits until the server has processed every notification sent so
// far: notifications run in order on the server's read loop, so the answer
// to a later request proves they are done.
func (s *session) sync(u uri.URI) {
	s.t.Helper()
	if _, err := s.server.DocumentSymbol(s.ctx, &protocol.DocumentSymbolParams{TextDocument: protocol.TextDocumentIdentifier{URI: u}}); err != nil {
		s.t.Fatalf("sync: %v", err)
	}
}

// waitDiagnostics waits for the diagnostics of version of u.
func (s *session) waitDiagnostics(u uri.URI, version int32) []protocol.Diagnostic {
	s.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.client.mu.Lock()
		for _, p := range s.client.diags[u] {
			if v, ok := p.Version.Get(); ok && v == version {
				s.client.mu.Unlock()
				return p.Diagnostics
			}
		}
		s.client.mu.Unlock()
		select {
		case <-s.client.wake:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			s.t.Fatalf("no diagnostics for %s version %d", u, version)
		}
	}
}

// pos returns the protocol position of the first "marker" in text, in the
// session's encoding, at the marker's start plus delta bytes.
func (s *session) pos(text, marker string, delta int) protocol.Position {
	s.t.Helper()
	i := strings.Index(text, marker)
	if i < 0 {
		s.t.Fatalf("marker %q not in text", marker)
	}
	return testMapper(text, s.enc).Position(i + delta)
}

func (s *session) tdpp(u uri.URI, p protocol.Position) protocol.TextDocumentPositionParams {
	return protocol.TextDocumentPositionParams{TextDocument: protocol.TextDocumentIdentifier{URI: u}, Position: p}
}

// testURI returns a file URI in a temporary directory.
func testURI(t testing.TB, name string) uri.URI {
	return uri.File(t.TempDir() + "/" + name)
}

// testOpts are the options of most test sessions: they plan against a
// fixed built-in profile, so that results do not depend on the machine
// running the tests.
func testOpts() Options { return Options{Target: "a100-80gb"} }
