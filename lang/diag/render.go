package diag

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/modelwhisperer/whisperc/lang/source"
)

// Files finds the source of a file by name, for snippets. A nil *source.File
// means the source is unknown and the snippet is left out.
type Files interface {
	File(name string) *source.File
}

// FileMap is a Files backed by a map.
type FileMap map[string]*source.File

// File returns the named file or nil.
func (m FileMap) File(name string) *source.File { return m[name] }

// TextOptions tune the text renderer.
type TextOptions struct {
	// Color adds ANSI colours (for terminals).
	Color bool
	// Width wraps detail text; 0 means 100 columns.
	Width int
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[1;31m"
	ansiYellow = "\x1b[1;33m"
	ansiBlue   = "\x1b[1;34m"
	ansiCyan   = "\x1b[36m"
)

// WriteText renders ds as text, each diagnostic as
//
//	file:line:col: severity[CODE]: summary
//	   │
//	12 │   rank = 64
//	   │          ^^
//	   │
//	detail, ending in a fix.
//	  note: file:line:col: message
//	  suggestion: replace with "x"
//
// followed by a blank line. It is the only diagnostic renderer of whisperc.
func WriteText(w io.Writer, files Files, ds Diagnostics, opts TextOptions) error {
	var b strings.Builder
	for _, d := range ds {
		renderOne(&b, files, d, opts)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Text renders ds without colour, for tests and logs.
func Text(files Files, ds Diagnostics) string {
	var b strings.Builder
	_ = WriteText(&b, files, ds, TextOptions{})
	return b.String()
}

func (o TextOptions) paint(code, s string) string {
	if !o.Color {
		return s
	}
	return code + s + ansiReset
}

func renderOne(b *strings.Builder, files Files, d *Diagnostic, o TextOptions) {
	sevColor := ansiBlue
	switch d.Severity {
	case Error:
		sevColor = ansiRed
	case Warning:
		sevColor = ansiYellow
	}
	head := d.Severity.String()
	if d.Code != "" {
		head += "[" + d.Code + "]"
	}
	if d.Subject != nil {
		b.WriteString(o.paint(ansiBold, Visible(d.Subject.String(), "")+":") + " ")
	}
	b.WriteString(o.paint(sevColor, Visible(head, "")) + ": " + o.paint(ansiBold, Visible(d.Summary, "")) + "\n")

	if d.Subject != nil && files != nil {
		if f := files.File(d.Subject.Filename); f != nil {
			snippet(b, f, *d.Subject, o, sevColor)
		}
	}
	if d.Detail != "" {
		width := o.Width
		if width <= 0 {
			width = 100
		}
		for _, para := range strings.Split(Visible(d.Detail, "\n"), "\n") {
			b.WriteString(wrap(para, width))
			b.WriteString("\n")
		}
	}
	for _, n := range d.Notes {
		fmt.Fprintf(b, "  %s %s: %s\n", o.paint(ansiCyan, "note:"), Visible(n.Range.String(), ""), Visible(n.Message, ""))
	}
	if s := d.Suggestion; s != nil {
		msg := s.Message
		if msg == "" {
			msg = "replace with"
		}
		fmt.Fprintf(b, "  %s %s %q\n", o.paint(ansiCyan, "suggestion:"), Visible(msg, ""), s.Replacement)
	}
	b.WriteString("\n")
}

// snippet prints the subject's first line with a gutter and underlines the
// subject, expanding tabs so that the carets line up.
func snippet(b *strings.Builder, f *source.File, r source.Range, o TextOptions, color string) {
	line := r.Start.Line
	if line < 1 || line > f.LineCount() {
		return
	}
	text := f.Line(line)
	start := r.Start.Byte - f.LineStart(line)
	end := r.End.Byte - f.LineStart(line)
	if r.End.Line != line || end > len(text) {
		end = len(text)
	}
	if start > len(text) {
		start = len(text)
	}
	if end < start {
		end = start
	}
	num := fmt.Sprint(line)
	pad := strings.Repeat(" ", len(num))
	fmt.Fprintf(b, "%s %s\n", pad, o.paint(ansiBlue, "│"))
	// Cut very long lines before escaping them: a byte is at least one
	// column, so these bounds keep more than the window shows.
	rawPre, rawMid, rawPost := text[:start], text[start:end], text[end:]
	if n := 4*snippetLead + 8; len(rawPre) > n {
		rawPre = rawPre[len(rawPre)-n:]
		for len(rawPre) > 0 && !utf8.RuneStart(rawPre[0]) {
			rawPre = rawPre[1:]
		}
		rawPre = append([]byte("…"), rawPre...)
	}
	if n := 4*snippetWidth + 8; len(rawMid) > n {
		rawMid, rawPost = rawMid[:n], nil
	} else if len(rawPost) > n {
		rawPost = rawPost[:n]
	}
	pre, mid, post := shown(string(rawPre)), shown(string(rawMid)), shown(string(rawPost))
	// A long line is shown as a window around the subject.
	if displayWidth(pre)+displayWidth(mid)+displayWidth(post) > snippetWidth {
		if displayWidth(pre) > snippetLead {
			pre = "…" + lastColumns(pre, snippetLead-1)
		}
		if displayWidth(mid) > snippetWidth-displayWidth(pre) {
			mid = firstColumns(mid, max(snippetWidth-displayWidth(pre)-1, 1)) + "…"
			post = ""
		}
		if room := snippetWidth - displayWidth(pre) - displayWidth(mid); displayWidth(post) > room {
			post = firstColumns(post, max(room-1, 0)) + "…"
		}
	}
	fmt.Fprintf(b, "%s %s %s\n", o.paint(ansiBlue, num), o.paint(ansiBlue, "│"), pre+mid+post)
	lead := displayWidth(pre)
	width := displayWidth(mid)
	if width < 1 {
		width = 1
	}
	fmt.Fprintf(b, "%s %s %s%s\n", pad, o.paint(ansiBlue, "│"), strings.Repeat(" ", lead), o.paint(color, strings.Repeat("^", width)))
}

func expandTabs(s string) string { return strings.ReplaceAll(s, "\t", "    ") }

// Snippet lines longer than snippetWidth columns are cut to a window that
// starts at most snippetLead columns before the subject.
const (
	snippetWidth = 120
	snippetLead  = 40
)

// shown is source text as a snippet shows it: tabs expanded, control
// characters escaped (see Visible).
func shown(s string) string { return Visible(expandTabs(s), "") }

// firstColumns returns the longest prefix of s at most n columns wide.
func firstColumns(s string, n int) string {
	w := 0
	for i, r := range s {
		rw := displayWidth(string(r))
		if w+rw > n {
			return s[:i]
		}
		w += rw
	}
	return s
}

// lastColumns returns the longest suffix of s at most n columns wide.
func lastColumns(s string, n int) string {
	w := 0
	for i := len(s); i > 0; {
		r, size := utf8.DecodeLastRuneInString(s[:i])
		rw := displayWidth(string(r))
		if w+rw > n {
			return s[i:]
		}
		w += rw
		i -= size
	}
	return s
}

// displayWidth counts runes; wide CJK characters count twice so carets line
// up in a terminal.
func displayWidth(s string) int {
	n := 0
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		switch {
		case r >= 0x1100 && (r <= 0x115f || r == 0x2329 || r == 0x232a ||
			(r >= 0x2e80 && r <= 0xa4cf && r != 0x303f) || (r >= 0xac00 && r <= 0xd7a3) ||
			(r >= 0xf900 && r <= 0xfaff) || (r >= 0xfe30 && r <= 0xfe6f) || (r >= 0xff00 && r <= 0xff60) ||
			(r >= 0xffe0 && r <= 0xffe6) || (r >= 0x1f300 && r <= 0x1faff) || (r >= 0x20000 && r <= 0x3fffd)):
			n += 2
		default:
			n++
		}
	}
	return n
}

func wrap(s string, width int) string {
	words := strings.Fields(s)
	var b strings.Builder
	col := 0
	for _, w := range words {
		if col > 0 && col+1+len(w) > width {
			b.WriteString("\n")
			col = 0
		} else if col > 0 {
			b.WriteString(" ")
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	return b.String()
}

// JSONOutput is the document that `whisperc check --json` prints, in the
// shape of Terraform's `validate -json`, with one documented extension:
// a diagnostic's severity is "error", "warning" or "info" (methodology
// notes such as ML002), where Terraform has only the first two. Consumers
// that know only Terraform's two should treat "info" as below "warning".
type JSONOutput struct {
	FormatVersion string      `json:"format_version"`
	Valid         bool        `json:"valid"`
	ErrorCount    int         `json:"error_count"`
	WarningCount  int         `json:"warning_count"`
	Diagnostics   Diagnostics `json:"diagnostics"`
}

// JSONFormatVersion is the version of the JSON diagnostics document.
const JSONFormatVersion = "1.0"

// WriteJSON renders ds as a JSONOutput document.
func WriteJSON(w io.Writer, ds Diagnostics) error {
	if ds == nil {
		ds = Diagnostics{}
	}
	out := JSONOutput{
		FormatVersion: JSONFormatVersion,
		Valid:         !ds.HasErrors(),
		ErrorCount:    ds.Count(Error),
		WarningCount:  ds.Count(Warning),
		Diagnostics:   ds,
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
