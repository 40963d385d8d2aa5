package diag

import (
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/lang/source"
)

func TestVisible(t *testing.T) {
	for in, want := range map[string]string{
		"plain café":         "plain café",
		"\x1b[31mred":        `\x1b[31mred`,
		"nul\x00here":        `nul\x00here`,
		"cr\rbell\a":         `cr\x0dbell\x07`,
		"del\x7f":            `del\x7f`,
		"c1\u009b2J":         `c1\u{9B}2J`,
		"bidi\u202egnp.exe":  `bidi\u{202E}gnp.exe`,
		"bad\xffutf8":        `bad\xffutf8`,
		"two\nlines\ttabbed": `two\x0alines\x09tabbed`,
	} {
		if got := Visible(in, ""); got != want {
			t.Errorf("Visible(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Visible("a\nb\x1b", "\n"); got != "a\nb\\x1b" {
		t.Errorf("keep: %q", got)
	}
}

// TestTextEscapesControlCharacters checks that nothing of the user's text
// reaches the terminal raw: not in the snippet, the summary, the detail or
// a note.
func TestTextEscapesControlCharacters(t *testing.T) {
	src := "prompt = \"\x1b]0;pwned\x07\x1b[2J\x00\"\n"
	f := source.NewFile("e.whisper", []byte(src))
	r := f.Range(9, len(src)-1)
	d := Errorf(r, "E302", "Bad \x1b[31mvalue", "Detail \x1b[2J here.\nSecond \x00 paragraph.")
	d.Notes = []Note{{Range: r, Message: "note \x1b[1m"}}
	got := Text(FileMap{f.Name: f}, Diagnostics{d})
	for i := 0; i < len(got); i++ {
		if c := got[i]; (c < 0x20 && c != '\n') || c == 0x7f {
			t.Fatalf("raw control character %#x at byte %d of:\n%s", c, i, got)
		}
	}
	for _, want := range []string{`\x1b]0;pwned\x07\x1b[2J\x00`, `Bad \x1b[31mvalue`, "Second \\x00 paragraph.", `note \x1b[1m`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	// The carets still line up under the escaped subject.
	lines := strings.Split(got, "\n")
	code, carets := lines[2], lines[3]
	if i, j := strings.Index(code, `"\x1b`), strings.Index(carets, "^"); i != j {
		t.Errorf("carets at %d, subject at %d:\n%s\n%s", j, i, code, carets)
	}
}

// TestSnippetOfLongLine checks that a long line is shown as a window
// around the subject, so one diagnostic never prints megabytes.
func TestSnippetOfLongLine(t *testing.T) {
	line := "x = " + strings.Repeat("1+", 500000) + "1"
	f := source.NewFile("l.whisper", []byte(line+"\n"))
	at := 4 + 2*300000 + 1 // the `+` after 300,000 terms
	d := Errorf(f.Range(at, at+1), "E113", "Expression too long", "Split it.")
	got := Text(FileMap{f.Name: f}, Diagnostics{d})
	if len(got) > 1000 {
		t.Fatalf("%d bytes rendered for one diagnostic:\n%.500s", len(got), got)
	}
	lines := strings.Split(got, "\n")
	code, carets := []rune(lines[2]), []rune(lines[3])
	caret := strings.IndexRune(string(carets), '^')
	col := len([]rune(string(carets)[:caret]))
	if col >= len(code) || code[col] != '+' || !strings.Contains(lines[2], "…") {
		t.Errorf("caret does not point at the `+`:\n%s\n%s", lines[2], lines[3])
	}
}
