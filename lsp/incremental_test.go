package lsp

import (
	"strings"
	"sync"
	"testing"
	"time"

	"go.lsp.dev/protocol"

	wparser "github.com/modelwhisperer/whisperc/lang/parser"
)

// TestEditReparsesOneDeclaration counts what an edit costs: after the
// first analysis of a 1,000-line document, a keystroke in one declaration
// re-parses that declaration alone, and its diagnostics equal those of a
// fresh server that parses everything.
func TestEditReparsesOneDeclaration(t *testing.T) {
	var mu sync.Mutex
	var stats []wparser.ReparseStats
	s := newSessionWith(t, testOpts(), func(sv *server) {
		sv.parsed = func(path string, st wparser.ReparseStats) {
			mu.Lock()
			stats = append(stats, st)
			mu.Unlock()
		}
	})
	text := bigProgram(1000)
	u := testURI(t, "big.whisper")
	s.open(u, text)
	s.waitDiagnostics(u, 1)
	mid := len(text) / 2
	i := mid + strings.Index(text[mid:], "seq_len = 1024") + len("seq_len = ")
	text = s.edit(u, 2, text, i, i+4, "x")
	got := s.waitDiagnostics(u, 2)
	mu.Lock()
	last := stats[len(stats)-1]
	items := len(stats)
	mu.Unlock()
	if items < 2 || last.Full || last.Parsed != 1 || last.Reused < 100 {
		t.Errorf("the edit re-parsed %+v (parse %d), want one declaration and the others reused", last, items)
	}
	fresh := newSession(t, testOpts())
	fresh.open(u, text)
	want := fresh.waitDiagnostics(u, 1)
	if len(got) == 0 || !sameDiagnostics(got, want) {
		t.Errorf("after the edit:\n%v\nwant, from a full parse:\n%v", got, want)
	}
}

func sameDiagnostics(a, b []protocol.Diagnostic) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Range != b[i].Range || a[i].Message != b[i].Message || a[i].Code != b[i].Code || a[i].Severity != b[i].Severity {
			return false
		}
	}
	return true
}

// TestCheckDiagnosticsBeforePlan holds the planner and checks that the
// check's diagnostics of a large document are published meanwhile, and
// the plan's after it is released.
func TestCheckDiagnosticsBeforePlan(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	s := newSessionWith(t, testOpts(), func(sv *server) {
		sv.beforePlan = func() { <-release }
	})
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	text := bigProgram(2000)
	if len(text) < defaultEarlyBytes {
		t.Fatalf("the document has %d bytes, under defaultEarlyBytes", len(text))
	}
	u := testURI(t, "big.whisper")
	s.open(u, text)
	first := s.waitPublication(u, 1)
	if len(first) == 0 {
		t.Fatal("no check diagnostics while the planner is held") // the ML rules warn on this program
	}
	for _, d := range first {
		if c, _ := d.Code.(protocol.String); strings.HasPrefix(string(c), "P") {
			t.Errorf("a plan diagnostic before the plan ran: %v", d)
		}
	}
	time.Sleep(20 * time.Millisecond)
	s.client.mu.Lock()
	n := len(s.client.diags[u])
	s.client.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d publications while the planner is held, want 1", n)
	}
	once.Do(func() { close(release) })
	s.waitPublication(u, 2)
}

// TestProvisionalDiagnostics checks the first publication after an edit of
// a large document (here any size, by setting provisionalBytes to 0): the
// new syntax error of the edited declaration, and the previous analysis's
// error in a later declaration moved down by the inserted line, as the
// check then reports it.
func TestProvisionalDiagnostics(t *testing.T) {
	s := newSessionWith(t, testOpts(), func(sv *server) { sv.provisionalBytes = 0 })
	text := bigProgram(1000) + "\nmodel bad {\n  source   = \"hf:a/b\"\n  quantize { method = nf5 }\n}\n"
	u := testURI(t, "big.whisper")
	s.open(u, text)
	var e303 *protocol.Diagnostic
	for _, d := range s.waitDiagnostics(u, 1) {
		if d.Code == protocol.String("E303") {
			e303 = &d
		}
	}
	if e303 == nil {
		t.Fatal("no E303 for nf5")
	}
	// Wait for the analysis to be complete: the provisional diagnostics
	// start from it.
	for {
		s.inner.mu.Lock()
		a := s.inner.cache[u]
		s.inner.mu.Unlock()
		if a != nil && a.doc.Version == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	published := len(s.client.diags[u])
	mid := len(text) / 2
	i := mid + strings.Index(text[mid:], "  seq_len = 1024\n") + len("  seq_len = 1024\n")
	text = s.edit(u, 2, text, i, i, "  batch = = 2\n")
	first := s.waitPublication(u, published+1)
	var syntax, moved bool
	for _, d := range first {
		if d.Code == protocol.String("E110") && int(d.Range.Start.Line) == strings.Count(text[:i], "\n") {
			syntax = true
		}
		if d.Code == protocol.String("E303") && d.Range.Start.Line == e303.Range.Start.Line+1 && d.Range.Start.Character == e303.Range.Start.Character {
			moved = true
		}
	}
	if !syntax || !moved {
		t.Errorf("first publication after the edit: syntax error %v, E303 moved a line down %v: %v", syntax, moved, first)
	}
	// The check's own publication follows: two for version 2 (the
	// program has errors, so no plan).
	for {
		s.inner.mu.Lock()
		a := s.inner.cache[u]
		s.inner.mu.Unlock()
		if a != nil && a.doc.Version == 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	s.waitPublication(u, published+2)
	s.client.mu.Lock()
	n := len(s.client.diags[u]) - published
	s.client.mu.Unlock()
	if n != 2 {
		t.Errorf("%d publications of version 2, want the provisional one and the check's", n)
	}
}
