// Package diag defines the one diagnostic shape that every phase of whisperc
// reports: the parser, the checker, the planner, the runtime and the language
// server all speak in Diagnostics, and one renderer prints them.
package diag

import (
	"fmt"
	"sort"

	"github.com/modelwhisperer/whisperc/lang/source"
)

// Severity says how bad a diagnostic is. The zero value is invalid, so a
// diagnostic whose severity was forgotten is detectable.
type Severity int

// The severities, worst first.
const (
	SeverityInvalid Severity = iota
	Error
	Warning
	Info
)

// String returns the lower-case name used in rendered text and JSON.
func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	case Info:
		return "info"
	}
	return "invalid"
}

// MarshalText renders the severity as its name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "error":
		*s = Error
	case "warning":
		*s = Warning
	case "info":
		*s = Info
	default:
		return fmt.Errorf("unknown severity %q", b)
	}
	return nil
}

// Note points at a related place, such as the other end of a reference cycle
// or an earlier declaration of the same name.
type Note struct {
	Range   source.Range `json:"range"`
	Message string       `json:"message"`
}

// Suggestion is a replacement that fixes the diagnostic: the bytes of Range
// become Replacement. Editors offer it as a quick fix.
type Suggestion struct {
	Message     string       `json:"message"`
	Range       source.Range `json:"range"`
	Replacement string       `json:"replacement"`
}

// Diagnostic is one problem found in the user's input.
//
// Summary is terse, without a trailing period. Detail is one or more
// sentences that end in how to fix it. Subject is the range to underline;
// Context, when set, is a wider range that gives the subject meaning (the
// whole block, say). Code is stable and documented in spec/diagnostics.md.
type Diagnostic struct {
	Severity   Severity      `json:"severity"`
	Code       string        `json:"code"`
	Summary    string        `json:"summary"`
	Detail     string        `json:"detail,omitempty"`
	Subject    *source.Range `json:"range,omitempty"`
	Context    *source.Range `json:"context,omitempty"`
	Notes      []Note        `json:"notes,omitempty"`
	Suggestion *Suggestion   `json:"suggestion,omitempty"`
}

// Error makes a Diagnostic usable as a Go error, rendered on one line.
func (d *Diagnostic) Error() string {
	if d.Subject != nil {
		return fmt.Sprintf("%s: %s[%s]: %s", d.Subject, d.Severity, d.Code, d.Summary)
	}
	return fmt.Sprintf("%s[%s]: %s", d.Severity, d.Code, d.Summary)
}

// Diagnostics is a list of diagnostics, in the order found until Sort.
type Diagnostics []*Diagnostic

// Append adds diagnostics and returns the list, like append.
func (ds Diagnostics) Append(more ...*Diagnostic) Diagnostics { return append(ds, more...) }

// Extend adds every diagnostic of other.
func (ds Diagnostics) Extend(other Diagnostics) Diagnostics { return append(ds, other...) }

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Count returns the number of diagnostics of severity s.
func (ds Diagnostics) Count(s Severity) int {
	n := 0
	for _, d := range ds {
		if d.Severity == s {
			n++
		}
	}
	return n
}

// Errs returns only the errors.
func (ds Diagnostics) Errs() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == Error {
			out = append(out, d)
		}
	}
	return out
}

// Error joins the diagnostics on separate lines, so a Diagnostics can be
// returned where an error is expected.
func (ds Diagnostics) Error() string {
	s := ""
	for i, d := range ds {
		if i > 0 {
			s += "\n"
		}
		s += d.Error()
	}
	return s
}

// Sorted returns the diagnostics ordered by file, position, severity, code
// and summary, with exact duplicates (same code, summary and subject) removed.
// Diagnostics without a subject come last. The receiver is not modified.
func (ds Diagnostics) Sorted() Diagnostics {
	out := make(Diagnostics, 0, len(ds))
	seen := make(map[string]bool, len(ds))
	for _, d := range ds {
		if d == nil {
			continue
		}
		k := d.key()
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool { return less(out[i], out[j]) })
	return out
}

func (d *Diagnostic) key() string {
	if d.Subject == nil {
		return fmt.Sprintf("%d|%s|%s|-", d.Severity, d.Code, d.Summary)
	}
	return fmt.Sprintf("%d|%s|%s|%s|%d|%d", d.Severity, d.Code, d.Summary, d.Subject.Filename, d.Subject.Start.Byte, d.Subject.End.Byte)
}

func less(a, b *Diagnostic) bool {
	if (a.Subject == nil) != (b.Subject == nil) {
		return a.Subject != nil
	}
	if a.Subject != nil {
		if a.Subject.Filename != b.Subject.Filename {
			return a.Subject.Filename < b.Subject.Filename
		}
		if a.Subject.Start.Byte != b.Subject.Start.Byte {
			return a.Subject.Start.Byte < b.Subject.Start.Byte
		}
	}
	if a.Severity != b.Severity {
		return a.Severity < b.Severity
	}
	if a.Code != b.Code {
		return a.Code < b.Code
	}
	return a.Summary < b.Summary
}

// Errorf builds an error diagnostic at r.
func Errorf(r source.Range, code, summary, detail string) *Diagnostic {
	return &Diagnostic{Severity: Error, Code: code, Summary: summary, Detail: detail, Subject: &r}
}

// Warningf builds a warning diagnostic at r.
func Warningf(r source.Range, code, summary, detail string) *Diagnostic {
	return &Diagnostic{Severity: Warning, Code: code, Summary: summary, Detail: detail, Subject: &r}
}

// Infof builds an informational diagnostic at r.
func Infof(r source.Range, code, summary, detail string) *Diagnostic {
	return &Diagnostic{Severity: Info, Code: code, Summary: summary, Detail: detail, Subject: &r}
}

// Moved returns a copy of d, a diagnostic of an earlier version of f's text
// whose bytes moved by delta, with every range at its new place in f: what
// an incremental parser or the language server does with the diagnostics
// of text an edit did not touch. Ranges in other files stay as they are.
func (d *Diagnostic) Moved(f *source.File, delta int) *Diagnostic {
	mv := func(r source.Range) source.Range {
		if r.Filename != f.Name {
			return r // a note in another file
		}
		m := f.Range(r.Start.Byte+delta, r.End.Byte+delta)
		m.Filename = r.Filename
		return m
	}
	c := *d
	if d.Subject != nil {
		r := mv(*d.Subject)
		c.Subject = &r
	}
	if d.Context != nil {
		r := mv(*d.Context)
		c.Context = &r
	}
	if d.Notes != nil {
		c.Notes = make([]Note, len(d.Notes))
		for i, n := range d.Notes {
			c.Notes[i] = Note{Range: mv(n.Range), Message: n.Message}
		}
	}
	if d.Suggestion != nil {
		sg := *d.Suggestion
		sg.Range = mv(sg.Range)
		c.Suggestion = &sg
	}
	return &c
}
