package diag

import (
	"fmt"
	"strings"
)

// MaxPerFile is how many diagnostics whisperc reports for one file. Past
// it, one "too many diagnostics" diagnostic (TooManyCode) stands for the
// rest: a file with thousands of mistakes is not helped by thousands of
// messages, and printing them would take longer than fixing the first.
const MaxPerFile = 100

// TooManyCode is the code of the diagnostic that replaces those past
// MaxPerFile.
const TooManyCode = "E115"

// Capped returns the sorted diagnostics with at most max of each file (by
// the subject's file name; those without a subject count as one file),
// followed, for each file that had more, by one TooManyCode diagnostic at
// the first one left out, saying how many were left out. It is an error
// when any left out is an error. TooManyCode diagnostics already in the
// list are kept and not counted, so capping twice changes nothing.
func (ds Diagnostics) Capped(max int) Diagnostics {
	ds = ds.Sorted()
	type over struct {
		first  *Diagnostic
		counts [Info + 1]int
	}
	kept := map[string]int{}
	dropped := map[string]*over{}
	out := make(Diagnostics, 0, min(len(ds), 4*max))
	var order []string
	for _, d := range ds {
		file := ""
		if d.Subject != nil {
			file = d.Subject.Filename
		}
		if d.Code == TooManyCode {
			out = append(out, d)
			continue
		}
		if kept[file] < max {
			kept[file]++
			out = append(out, d)
			continue
		}
		o := dropped[file]
		if o == nil {
			o = &over{first: d}
			dropped[file] = o
			order = append(order, file)
		}
		if d.Severity >= Error && d.Severity <= Info {
			o.counts[d.Severity]++
		}
	}
	for _, file := range order {
		o := dropped[file]
		out = append(out, tooMany(o.first, max, o.counts[Error], o.counts[Warning], o.counts[Info]))
	}
	if len(order) == 0 {
		return out
	}
	return out.Sorted()
}

// TooMany builds the diagnostic that stands for diagnostics left out after
// the first max of a file, at first (the first one left out).
func tooMany(first *Diagnostic, max, errs, warns, infos int) *Diagnostic {
	var parts []string
	for _, c := range []struct {
		n    int
		word string
	}{{errs, "error"}, {warns, "warning"}, {infos, "note"}} {
		switch {
		case c.n == 1:
			parts = append(parts, "1 "+c.word)
		case c.n > 1:
			parts = append(parts, fmt.Sprintf("%d %ss", c.n, c.word))
		}
	}
	sev := Warning
	if errs > 0 {
		sev = Error
	}
	where := "this file"
	if first.Subject != nil {
		where = first.Subject.Filename
	}
	return &Diagnostic{Severity: sev, Code: TooManyCode, Summary: "Too many diagnostics",
		Detail: fmt.Sprintf("whisperc reports at most %d diagnostics of one file; %s more in %s, from here on, are not shown. "+
			"Fix the ones above and check again.", max, strings.Join(parts, ", "), where),
		Subject: first.Subject}
}
