package chunkedfile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
)

// recorder collects what a Chunk reports.
type recorder struct{ msgs []string }

func (r *recorder) Helper()                      {}
func (r *recorder) Errorf(f string, args ...any) { r.msgs = append(r.msgs, fmt.Sprintf(f, args...)) }

func TestParseSplitsChunksAndLines(t *testing.T) {
	text := "a = 1 ### \"E1\"\n---\nb\nc ### \"E2\" ### \"E3\"\n"
	chunks := Parse(t, "x.txt", text)
	if len(chunks) != 2 {
		t.Fatalf("got %d chunks, want 2", len(chunks))
	}
	if got := string(chunks[1].Source); got != "b\nc ### \"E2\" ### \"E3\"\n" {
		t.Errorf("chunk 2 source = %q", got)
	}
	if chunks[1].StartLine != 3 {
		t.Errorf("chunk 2 starts at line %d, want 3", chunks[1].StartLine)
	}
	if n := len(chunks[1].wants[2]); n != 2 {
		t.Errorf("chunk 2 line 2 has %d expectations, want 2", n)
	}
}

func TestCheckReportsMissingAndUnexpected(t *testing.T) {
	c := Parse(t, "x.txt", "line one ### \"E101\"\nline two\n")[0]
	f := source.NewFile("chunk", c.Source)
	at := func(line int) source.Range { return f.Range(f.LineStart(line), f.LineEnd(line)) }

	var ok recorder
	c.Check(&ok, diag.Diagnostics{diag.Errorf(at(1), "E101", "Boom", "Fix it.")})
	if len(ok.msgs) != 0 {
		t.Errorf("matching diagnostic reported: %v", ok.msgs)
	}

	var bad recorder
	c.Check(&bad, diag.Diagnostics{diag.Errorf(at(2), "E101", "Boom", "Fix it.")})
	joined := strings.Join(bad.msgs, "\n")
	if !strings.Contains(joined, "x.txt:2: unexpected diagnostic") || !strings.Contains(joined, "x.txt:1: expected a diagnostic") {
		t.Errorf("got %q, want one unexpected (line 2) and one missing (line 1)", joined)
	}
}
