package lsp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/modelwhisperer/whisperc/compiler"
	wparser "github.com/modelwhisperer/whisperc/lang/parser"
	"github.com/modelwhisperer/whisperc/planner/hw"
	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"
)

// Options configures the language server.
type Options struct {
	// Log receives one line per notable event: a recovered panic, a refused
	// document. Nil discards them.
	Log io.Writer
	// Target names the built-in hardware target profile the planner checks
	// against ("a100-80gb"), unless the client's settings name one. Empty
	// means the machine the server runs on, as detected.
	Target string
	// Debounce is how long the server waits after the last change to a
	// document before analysing it and publishing diagnostics. Zero means
	// DefaultDebounce; a negative value disables the wait.
	Debounce time.Duration
	// ReadFile reads imported files that are not open in the editor. Nil
	// means compiler.ReadSource: a bounded read of a regular file, never
	// a device or a FIFO.
	ReadFile func(path string) ([]byte, error)
	// Version is reported to the client as the server's version.
	Version string
	// ImportDirs are directories, besides the directory of each document,
	// whose .whisper files programs may import (the command line's
	// --import-dir), unless the client's settings name others.
	ImportDirs []string
}

// DefaultDebounce is the pause after a keystroke, while an analysis of the
// document is still pending or running, before diagnostics are recomputed:
// long enough to coalesce a burst of typing, short against the 50 ms the
// server aims for. A change after a quiet moment is analysed at once.
const DefaultDebounce = 15 * time.Millisecond

// Serve runs the language server on the byte streams in and out (stdin and
// stdout for `whisperc lsp`) until the client sends exit, the input ends or
// ctx is cancelled. It returns nil after a clean shutdown and exit or when
// the input ends; an error when exit came without shutdown or the stream
// failed.
func Serve(ctx context.Context, in io.Reader, out io.Writer, opts Options) error {
	return serve(ctx, in, out, opts, nil)
}

// serve is Serve with a hook that receives the server before it reads its
// first message (tests use it to look inside).
func serve(ctx context.Context, in io.Reader, out io.Writer, opts Options, started func(*server)) error {
	if opts.ReadFile == nil {
		opts.ReadFile = compiler.ReadSource
	}
	if opts.Debounce == 0 {
		opts.Debounce = DefaultDebounce
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := newServer(ctx, opts)
	rwc := newStdio(in, out)
	stream := newTolerantStream(jsonrpc2.NewHeaderStream(rwc), s.logf)
	conn := jsonrpc2.NewConn(stream, jsonrpc2.WithCodec(codec{}))
	s.client = protocol.ClientDispatcher(conn)
	s.conn = conn
	if started != nil {
		started(s)
	}
	conn.Go(ctx, protocol.CancelHandler(s.ordered(protocol.ServerHandler(s, jsonrpc2.MethodNotFoundHandler))))
	select {
	case <-conn.Done():
	case <-s.exited:
		// Close answers the requests sent before exit, then closes the
		// stream; it then waits for the connection's reader, which may sit
		// in a read on stdin that closing cannot interrupt. The process is
		// about to end, so wait only until the stream is closed.
		go func() { _ = conn.Close() }()
		select {
		case <-rwc.closed:
		case <-time.After(5 * time.Second):
		}
	case <-ctx.Done():
		go func() { _ = conn.Close() }()
	}
	s.stopAll()
	s.mu.Lock()
	exitErr := s.exitErr
	s.mu.Unlock()
	if exitErr != nil {
		return exitErr
	}
	if err := conn.Err(); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
		return err
	}
	return nil
}

// server implements protocol.Server. Unimplemented methods answer "method
// not found".
type server struct {
	protocol.UnimplementedServer

	ctx    context.Context // the connection's lifetime
	opts   Options
	client protocol.Client
	conn   jsonrpc2.Conn
	docs   *documents

	mu       sync.Mutex
	enc      Encoding
	inited   bool
	shutdown bool
	// snippets is whether the client inserts snippet syntax ($0, ${1:x});
	// without it completion sends plain text.
	snippets bool
	exitErr  error
	target   string
	// importDirs is the importDirs setting as the client wrote it (nil:
	// the command line's Options.ImportDirs).
	importDirs []string
	// importDirsBad says why the importDirs setting could not be read
	// ("" when it could).
	importDirsBad string
	// folders are the client's workspace folders (file-system paths).
	folders []string
	// beforeHandle, when set (by tests), runs before every message.
	beforeHandle func(method string)
	// computing, when set (by tests), is called as an analysis begins
	// (true) and ends (false).
	computing func(d *document, begin bool)

	hwOnce sync.Once
	hw     *hw.Hardware

	exited   chan struct{}
	exitOnce sync.Once
	pending  map[uri.URI]*pendingAnalysis
	// running holds, per document, a one-slot semaphore taken by the
	// analysis being computed for publication: a newer version waits for
	// a superseded one to stop rather than competing with it for the CPU.
	running  map[uri.URI]chan struct{}
	cache    map[uri.URI]*analysis
	inflight map[*document]*inflight

	// earlyBytes is the size from which a document's check diagnostics
	// are published before its plan is built (see runPhases): below it
	// the planner is quick, and one publication avoids the flicker of
	// the plan's diagnostics.
	earlyBytes int
	// provisionalBytes is the size from which, after an edit, the
	// diagnostics of the previous analysis outside the edited
	// declarations are published, moved, with the new syntax errors,
	// before the check (see server.provisional).
	provisionalBytes int
	// trees holds the latest parse of each file the analyses read, which
	// the next analysis updates with parser.Reparse.
	treesMu sync.Mutex
	trees   map[string]*wparser.Tree
	// parsed, when set (by tests), receives what each parse re-parsed.
	parsed func(path string, st wparser.ReparseStats)
	// beforePlan, when set (by tests), runs before the planner.
	beforePlan func()
}

// pendingAnalysis is a scheduled or running analysis of one document.
type pendingAnalysis struct {
	timer  *time.Timer
	cancel context.CancelFunc
}

func newServer(ctx context.Context, opts Options) *server {
	return &server{
		ctx:      ctx,
		opts:     opts,
		docs:     newDocuments(),
		enc:      EncodingUTF16,
		target:   opts.Target,
		exited:   make(chan struct{}),
		pending:  make(map[uri.URI]*pendingAnalysis),
		running:  make(map[uri.URI]chan struct{}),
		cache:    make(map[uri.URI]*analysis),
		inflight: make(map[*document]*inflight),

		earlyBytes:       defaultEarlyBytes,
		provisionalBytes: defaultProvisionalBytes,
		trees:            make(map[string]*wparser.Tree),
	}
}

func (s *server) logf(format string, args ...any) {
	if s.opts.Log != nil {
		fmt.Fprintf(s.opts.Log, "whisperc lsp: "+format+"\n", args...)
	}
}

func (s *server) initialized() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inited
}

func (s *server) encoding() Encoding {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enc
}

// Initialize negotiates the position encoding and announces the features.
func (s *server) Initialize(ctx context.Context, params *protocol.InitializeParams) (*protocol.InitializeResult, error) {
	var offered []protocol.PositionEncodingKind
	if g := params.Capabilities.General; g != nil {
		offered = g.PositionEncodings
	}
	enc := negotiateEncoding(offered)
	s.mu.Lock()
	s.enc = enc
	s.inited = true
	s.snippets = snippetSupport(params.Capabilities)
	s.mu.Unlock()
	s.applySettings(params.InitializationOptions)
	s.workspaceFolders(params)
	yes := true
	incremental := protocol.TextDocumentSyncKindIncremental
	version := s.opts.Version
	if version == "" {
		version = "devel"
	}
	return &protocol.InitializeResult{
		Capabilities: protocol.ServerCapabilities{
			PositionEncoding: enc.Kind(),
			TextDocumentSync: &protocol.TextDocumentSyncOptions{
				OpenClose: &yes,
				Change:    &incremental,
				Save:      protocol.Boolean(true),
			},
			CompletionProvider: &protocol.CompletionOptions{
				// Not space: a list popping up after every number and
				// every word is noise; units come as the user types them.
				TriggerCharacters: []string{".", "=", "["},
			},
			HoverProvider:              protocol.Boolean(true),
			DefinitionProvider:         protocol.Boolean(true),
			ReferencesProvider:         protocol.Boolean(true),
			DocumentHighlightProvider:  protocol.Boolean(true),
			DocumentSymbolProvider:     protocol.Boolean(true),
			DocumentFormattingProvider: protocol.Boolean(true),
			RenameProvider:             &protocol.RenameOptions{PrepareProvider: &yes},
			CodeActionProvider: &protocol.CodeActionOptions{
				CodeActionKinds: []protocol.CodeActionKind{protocol.CodeActionKindQuickFix},
			},
			SemanticTokensProvider: &protocol.SemanticTokensOptions{
				Legend: semanticLegend(),
				Full:   protocol.Boolean(true),
			},
			InlayHintProvider:    protocol.Boolean(true),
			FoldingRangeProvider: protocol.Boolean(true),
		},
		ServerInfo: protocol.ServerInfo{Name: "whisperc", Version: protocol.NewOptional(version)},
	}, nil
}

// snippetSupport reports whether the client says it inserts snippets in
// completion items. A client that does not say so gets plain text: the
// protocol's default is no snippets.
func snippetSupport(c protocol.ClientCapabilities) bool {
	if c.TextDocument == nil || c.TextDocument.Completion == nil || c.TextDocument.Completion.CompletionItem == nil {
		return false
	}
	ss := c.TextDocument.Completion.CompletionItem.SnippetSupport
	return ss != nil && *ss
}

// clientSnippets reports whether completion may send snippets.
func (s *server) clientSnippets() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snippets
}

// isShutdown reports whether the client has sent shutdown.
func (s *server) isShutdown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

// Initialized reports a bad target setting.
func (s *server) Initialized(ctx context.Context, params *protocol.InitializedParams) error {
	s.checkSettings()
	return nil
}

// Shutdown stops analysis; the client sends exit next.
func (s *server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	s.mu.Unlock()
	s.stopAll()
	return nil
}

// Exit closes the connection, which ends Serve.
func (s *server) Exit(ctx context.Context) error {
	s.mu.Lock()
	if !s.shutdown {
		s.exitErr = errors.New("the client sent exit without shutdown")
	}
	s.mu.Unlock()
	s.exitOnce.Do(func() { close(s.exited) })
	return nil
}

// SetTrace is accepted and ignored.
func (s *server) SetTrace(ctx context.Context, params *protocol.SetTraceParams) error { return nil }

// DidChangeConfiguration applies new settings and re-analyses every open
// document.
func (s *server) DidChangeConfiguration(ctx context.Context, params *protocol.DidChangeConfigurationParams) error {
	s.applySettings(params.Settings)
	s.checkSettings()
	s.mu.Lock()
	s.cache = make(map[uri.URI]*analysis)
	s.mu.Unlock()
	for _, d := range s.docs.all() {
		s.schedule(d, 0)
	}
	return nil
}

// DidOpen records the document and analyses it at once.
func (s *server) DidOpen(ctx context.Context, params *protocol.DidOpenTextDocumentParams) error {
	d, err := s.docs.open(params.TextDocument.URI, params.TextDocument.Version, params.TextDocument.Text)
	if err != nil {
		s.logf("%v", err)
		return nil
	}
	s.schedule(d, 0)
	s.reanalyseImporters(d)
	return nil
}

// DidChange applies the edits and schedules analysis after the debounce.
func (s *server) DidChange(ctx context.Context, params *protocol.DidChangeTextDocumentParams) error {
	d, err := s.docs.change(params.TextDocument.URI, params.TextDocument.Version, params.ContentChanges, s.encoding())
	if err != nil {
		s.logf("%v", err)
		return nil
	}
	s.schedule(d, s.opts.Debounce)
	s.reanalyseImporters(d)
	return nil
}

// DidSave needs nothing: the server already analyses the editor's text.
func (s *server) DidSave(ctx context.Context, params *protocol.DidSaveTextDocumentParams) error {
	return nil
}

// DidClose forgets the document and clears its diagnostics. The open
// documents that import it are analysed again: they now read the file
// from the disk, without the closed buffer's unsaved edits.
func (s *server) DidClose(ctx context.Context, params *protocol.DidCloseTextDocumentParams) error {
	u := params.TextDocument.URI
	closed, wasOpen := s.docs.get(u)
	s.docs.close(u)
	if wasOpen {
		defer s.reanalyseImporters(closed)
	}
	s.mu.Lock()
	if p := s.pending[u]; p != nil {
		p.stop()
		delete(s.pending, u)
	}
	delete(s.cache, u)
	s.mu.Unlock()
	return s.client.PublishDiagnostics(s.ctx, &protocol.PublishDiagnosticsParams{URI: u, Diagnostics: []protocol.Diagnostic{}})
}

// reanalyseImporters schedules the other open documents whose analysis read
// the changed one through an import, so their diagnostics follow it.
func (s *server) reanalyseImporters(changed *document) {
	s.mu.Lock()
	var again []uri.URI
	for u, a := range s.cache {
		if u != changed.URI && a.reads(changed.Path) {
			again = append(again, u)
			delete(s.cache, u)
		}
	}
	// An analysis still running read the old text: it must not be cached.
	for d, c := range s.inflight {
		if d.URI != changed.URI {
			c.stale = true
			delete(s.inflight, d)
			if !slices.Contains(again, d.URI) {
				again = append(again, d.URI)
			}
		}
	}
	s.mu.Unlock()
	for _, u := range again {
		if d, ok := s.docs.get(u); ok {
			s.schedule(d, s.opts.Debounce)
		}
	}
}

func (p *pendingAnalysis) stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
	if p.cancel != nil {
		p.cancel()
	}
}

// stopAll cancels every scheduled and running analysis.
func (s *server) stopAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for u, p := range s.pending {
		p.stop()
		delete(s.pending, u)
	}
}

// schedule analyses d and publishes its diagnostics, unless a newer
// version arrives first: then the stale timer is stopped and stale work
// cancelled before it publishes. The delay is a trailing debounce that
// applies only while an earlier analysis of the document is still pending
// or running: a change after a quiet moment is analysed at once, a burst of
// changes is coalesced into one analysis of its last version. At most one
// analysis per document runs at a time: a cancelled one stops at the next
// phase boundary, and the newest version then starts; the versions in
// between are never analysed.
func (s *server) schedule(d *document, delay time.Duration) {
	ctx, cancel := context.WithCancel(s.ctx)
	p := &pendingAnalysis{cancel: cancel}
	run := func() {
		defer func() {
			if r := recover(); r != nil {
				s.logf("internal error analysing %s: %v\n%s", d.URI, r, debug.Stack())
			}
			cancel()
			s.mu.Lock()
			if s.pending[d.URI] == p {
				delete(s.pending, d.URI)
			}
			s.mu.Unlock()
		}()
		slot := s.slot(d.URI)
		select {
		case slot <- struct{}{}:
			defer func() { <-slot }()
		case <-ctx.Done():
			return // superseded while the previous analysis finished
		}
		if ctx.Err() != nil {
			return
		}
		current := func() bool {
			cur, ok := s.docs.get(d.URI)
			return ctx.Err() == nil && ok && cur.Version == d.Version
		}
		a := s.analyse(ctx, d, func(checked *analysis) {
			if current() {
				s.publish(ctx, checked)
			}
		})
		if a == nil || !current() {
			return
		}
		s.publish(ctx, a)
	}
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		cancel()
		return
	}
	old := s.pending[d.URI]
	if old != nil {
		old.stop()
	} else {
		delay = 0
	}
	s.pending[d.URI] = p
	if delay <= 0 {
		s.mu.Unlock()
		go run()
		return
	}
	p.timer = time.AfterFunc(delay, run)
	s.mu.Unlock()
}

// slot returns the semaphore of the analyses of u published (see
// server.running).
func (s *server) slot(u uri.URI) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.running[u]
	if !ok {
		c = make(chan struct{}, 1)
		s.running[u] = c
	}
	return c
}

// analysisOf returns the analysis of the current version of an open
// document, computing it if no analysis of that version is cached.
func (s *server) analysisOf(ctx context.Context, u uri.URI) (*analysis, error) {
	d, ok := s.docs.get(u)
	if !ok {
		return nil, errNotOpen(u)
	}
	a := s.analyse(ctx, d, nil)
	if a == nil {
		return nil, protocol.ErrRequestCancelled
	}
	return a, nil
}

// errNotOpen is the error for a request about a document the client has
// not opened.
func errNotOpen(u uri.URI) error { return fmt.Errorf("%s is not open", u) }
