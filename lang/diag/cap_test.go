package diag

import (
	"fmt"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/lang/source"
)

func TestCapped(t *testing.T) {
	src := source.NewFile("a.whisper", []byte(strings.Repeat("x\n", 300)))
	var ds Diagnostics
	for i := 299; i >= 0; i-- {
		sev := Error
		if i%3 == 0 {
			sev = Warning
		}
		ds = append(ds, &Diagnostic{Severity: sev, Code: "E110", Summary: fmt.Sprint("d", i), Subject: ptr(src.Range(2*i, 2*i+1))})
	}
	other := source.NewFile("b.whisper", []byte("y\n"))
	ds = append(ds, Errorf(other.Range(0, 1), "E203", "other file", ""))
	got := ds.Capped(100)
	if len(got) != 102 {
		t.Fatalf("got %d diagnostics, want 100 of a.whisper, one E115 and one of b.whisper", len(got))
	}
	last := got[100]
	if last.Code != TooManyCode || last.Severity != Error || last.Subject.Start.Line != 101 {
		t.Fatalf("E115 = %+v", last)
	}
	// Lines 101..300 are left out: 200 diagnostics, of which the lines
	// whose index is a multiple of 3 are warnings (i = 102, 105, ..., 297).
	if !strings.Contains(last.Detail, "134 errors, 66 warnings more in a.whisper") {
		t.Errorf("detail: %s", last.Detail)
	}
	if got[101].Subject.Filename != "b.whisper" {
		t.Errorf("other file's diagnostic lost: %v", got[101])
	}
	if again := got.Capped(100); len(again) != len(got) {
		t.Errorf("capping twice: %d, then %d", len(got), len(again))
	}
	if small := ds[:5].Capped(100); len(small) != 5 {
		t.Errorf("under the cap: %d", len(small))
	}
}
