package lsp

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.lsp.dev/protocol"
)

// TestIncrementalSync edits a document with non-ASCII text before the edit
// point in both encodings and checks the server's copy byte for byte.
func TestIncrementalSync(t *testing.T) {
	for _, enc := range []protocol.PositionEncodingKind{protocol.PositionEncodingKindUTF16, protocol.PositionEncodingKindUTF8} {
		t.Run(string(enc), func(t *testing.T) {
			s := newSession(t, testOpts(), enc)
			if string(s.enc.Kind()) != string(enc) {
				t.Fatalf("negotiated %s, offered %s", s.enc.Kind(), enc)
			}
			u := testURI(t, "a.whisper")
			text := "// é 日本 😀\nmodel base { source = \"😀\" }\n"
			s.open(u, text)
			i := len("// é 日本 😀\nmodel base { source = \"😀")
			text = s.edit(u, 2, text, i, i, "é")
			j := len("// é 日本 😀\nmodel ")
			text = s.edit(u, 3, text, j, j+len("base"), "日本")
			s.sync(u)
			d, ok := s.srv(t).docs.get(u)
			if !ok {
				t.Fatal("document not open")
			}
			if got := string(d.File.Src); got != text {
				t.Errorf("server text\n%q\nwant\n%q", got, text)
			}
			if d.Version != 3 {
				t.Errorf("version %d", d.Version)
			}
		})
	}
}

// TestApplyChangesWhole checks a whole-document change followed by a
// partial one computed on its result.
func TestApplyChangesWhole(t *testing.T) {
	f := testMapper("abc", EncodingUTF16).File
	got, err := applyChanges(f, []protocol.TextDocumentContentChangeEvent{
		&protocol.TextDocumentContentChangeWholeDocument{Text: "xyz\n"},
		&protocol.TextDocumentContentChangePartial{Range: protocol.Range{Start: protocol.Position{Line: 0, Character: 1}, End: protocol.Position{Line: 0, Character: 2}}, Text: "Y"},
	}, EncodingUTF16)
	if err != nil || string(got) != "xYz\n" {
		t.Errorf("got %q, %v", got, err)
	}
}

// TestDebounceAndStaleWork sends a burst of edits faster than the debounce
// and checks that diagnostics are published for the last version, that no
// stale version is published after a newer one, that the last version's
// analysis waited out the debounce, and that no version in between was
// analysed after one (each later edit must cut its wait short).
func TestDebounceAndStaleWork(t *testing.T) {
	const debounce = 500 * time.Millisecond
	opts := testOpts()
	opts.Debounce = debounce
	// Record when each analysis begins: publishes alone cannot show the
	// debounce, since the version check drops a superseded analysis's
	// diagnostics whether or not it ran.
	var mu sync.Mutex
	began := map[int32]time.Time{}
	s := newSessionWith(t, opts, func(sv *server) {
		sv.computing = func(d *document, begin bool) {
			if begin {
				mu.Lock()
				began[d.Version] = time.Now()
				mu.Unlock()
			}
		}
	})
	u := testURI(t, "main.whisper")
	text := program
	s.open(u, text)
	s.waitDiagnostics(u, 1)
	i := strings.Index(text, "batch      = 4") + len("batch      = ")
	const n = 20
	// A change after a quiet moment (no analysis pending) is analysed at
	// once, so some edits of the burst may be; a loaded machine can also stall the
	// burst for longer than the debounce, and the server then rightly
	// analyses mid-burst: each stall of the sender allows one more
	// analysis (CI saw [1 2 3 4 21] published at load 20).
	stalls := 0
	last := time.Now()
	sent := map[int32]time.Time{}
	for v := int32(2); v < n+2; v++ {
		text = s.edit(u, v, text, i, i+1, string(rune('1'+v%9)))
		now := time.Now()
		sent[v] = now
		if now.Sub(last) > debounce/2 {
			stalls++
		}
		last = now
	}
	s.waitDiagnostics(u, n+1)
	time.Sleep(300 * time.Millisecond) // let any stray analysis or publish arrive
	mu.Lock()
	// The last version waits out the debounce after the last edit (an
	// analysis still running when it came makes it wait; a timer never
	// fires early, so this holds on a loaded machine).
	if d := began[n+1].Sub(last); d < debounce*9/10 {
		t.Errorf("the last version's analysis began %v after the last edit, within the debounce of %v", d, debounce)
	}
	// A version of the burst analysed other than at once waited out a
	// debounce that the next edit should have cut short.
	late := 0
	for v, at := range began {
		if v > 1 && v < n+1 && at.Sub(sent[v]) > debounce/2 {
			late++
		}
	}
	if late > stalls {
		t.Errorf("%d versions of the burst were analysed after a debounce (%d stalls of the sender): %v", late, stalls, began)
	}
	mu.Unlock()
	s.client.mu.Lock()
	defer s.client.mu.Unlock()
	var versions []int32
	for _, p := range s.client.diags[u] {
		v, _ := p.Version.Get()
		versions = append(versions, v)
	}
	for k := 1; k < len(versions); k++ {
		if versions[k] < versions[k-1] {
			t.Errorf("stale version published after a newer one: %v", versions)
		}
	}
}

// TestCloseClearsDiagnostics checks closing a document publishes an empty
// list, so the editor's problem list forgets it.
func TestCloseClearsDiagnostics(t *testing.T) {
	s := newSession(t, testOpts())
	u := testURI(t, "main.whisper")
	s.open(u, "model {")
	if len(s.waitDiagnostics(u, 1)) == 0 {
		t.Fatal("no diagnostics for broken text")
	}
	if err := s.server.DidClose(s.ctx, &protocol.DidCloseTextDocumentParams{TextDocument: protocol.TextDocumentIdentifier{URI: u}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.client.mu.Lock()
		ps := s.client.diags[u]
		last := ps[len(ps)-1]
		s.client.mu.Unlock()
		_, versioned := last.Version.Get()
		if len(last.Diagnostics) == 0 && !versioned {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no empty diagnostics after close; last %+v", last)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSupersededAnalysesDoNotOverlap types into a large document faster
// than it can be analysed and checks that the server never runs two
// analyses of it at once (a superseded one stops before the next starts),
// that versions in between are skipped, and that the last version's
// diagnostics arrive.
func TestSupersededAnalysesDoNotOverlap(t *testing.T) {
	var mu sync.Mutex
	now, most, total := 0, 0, 0
	opts := testOpts()
	opts.Debounce = -1 // no debounce: every keystroke schedules an analysis
	s := newSessionWith(t, opts, func(sv *server) {
		sv.computing = func(d *document, begin bool) {
			mu.Lock()
			if begin {
				now++
				total++
				most = max(most, now)
			} else {
				now--
			}
			mu.Unlock()
			if begin {
				// Slower than the typing below, whatever the machine:
				// an edit re-parses one declaration, which alone would
				// keep up.
				time.Sleep(20 * time.Millisecond)
			}
		}
	})
	text := bigProgram(2000)
	u := testURI(t, "big.whisper")
	s.open(u, text)
	s.waitDiagnostics(u, 1)
	i := strings.Index(text, "seq_len = 1024") + len("seq_len = 102")
	const keys = 30
	for v := int32(2); v < keys+2; v++ {
		text = s.edit(u, v, text, i, i+1, string(rune('1'+v%9)))
		time.Sleep(2 * time.Millisecond)
	}
	s.waitDiagnostics(u, keys+1)
	mu.Lock()
	defer mu.Unlock()
	if most > 1 {
		t.Errorf("%d analyses of the document ran at once", most)
	}
	if total > keys/2 {
		t.Errorf("%d analyses for %d keystrokes: superseded versions were analysed", total, keys)
	}
}

// TestHoverDoesNotWaitForAnalysis holds the analysis of a new version and
// checks that hover still answers at once, from the tolerant view, with
// the memory figures of the latest analysis.
func TestHoverDoesNotWaitForAnalysis(t *testing.T) {
	release := make(chan struct{})
	s := newSessionWith(t, testOpts(), func(sv *server) {
		sv.computing = func(d *document, begin bool) {
			if begin && d.Version >= 2 {
				<-release
			}
		}
	})
	defer close(release)
	u := testURI(t, "main.whisper")
	s.open(u, program)
	s.waitDiagnostics(u, 1)
	i := strings.Index(program, "batch      = 4") + len("batch      = ")
	text := s.edit(u, 2, program, i, i+1, "2")
	got := make(chan *protocol.Hover, 1)
	pos := s.pos(text, "sft {", 1)
	go func() {
		h, err := s.server.Hover(s.ctx, &protocol.HoverParams{TextDocumentPositionParams: s.tdpp(u, pos)})
		if err != nil {
			t.Error(err)
		}
		got <- h
	}()
	select {
	case h := <-got:
		if h == nil || !strings.Contains(h.Contents.(*protocol.MarkupContent).Value, "Predicted peak memory") {
			t.Errorf("hover while analysing lacks the last memory figures: %+v", h)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("hover waited for the analysis")
	}
	// Completion, symbols and semantic tokens do not wait either.
	done := make(chan string, 3)
	go func() {
		_, err := s.server.Completion(s.ctx, &protocol.CompletionParams{TextDocumentPositionParams: s.tdpp(u, s.pos(text, "nf4", 0))})
		done <- fmt.Sprint("completion: ", err)
	}()
	go func() {
		_, err := s.server.DocumentSymbol(s.ctx, &protocol.DocumentSymbolParams{TextDocument: protocol.TextDocumentIdentifier{URI: u}})
		done <- fmt.Sprint("symbols: ", err)
	}()
	go func() {
		_, err := s.server.SemanticTokensFull(s.ctx, &protocol.SemanticTokensParams{TextDocument: protocol.TextDocumentIdentifier{URI: u}})
		done <- fmt.Sprint("semantic tokens: ", err)
	}()
	for k := 0; k < 3; k++ {
		select {
		case r := <-done:
			if !strings.HasSuffix(r, "<nil>") {
				t.Error(r)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a request waited for the analysis")
		}
	}
}
