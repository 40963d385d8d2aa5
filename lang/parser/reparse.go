package parser

import (
	"bytes"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
)

// Tree is a parsed file that Reparse can bring up to date with a new
// version of its text: the language server keeps one per file, so that an
// edit re-parses only the declarations it touched.
type Tree struct {
	// File and Diags are what Parse returns for the text.
	File  *ast.File
	Diags diag.Diagnostics
	// balanced reports that every bracket of the text is matched.
	balanced bool
	// nameStartsLine reports a block whose name begins a line
	// (`model` then `base {` on the next line): the file parses it as
	// one block when it has no syntax error and as two pieces when it
	// has one anywhere, so such a file is always parsed whole.
	nameStartsLine bool
}

// ParseTree is Parse, keeping what Reparse needs.
func ParseTree(filename string, src []byte) *Tree {
	f, ds, ok := parseFull(filename, src, maxWholeFileTokens)
	return &Tree{File: f, Diags: ds, balanced: ok, nameStartsLine: nameStartsLine(f.Items, src)}
}

// nameStartsLine reports whether a top-level block's name begins a line.
func nameStartsLine(items []ast.Item, src []byte) bool {
	for _, it := range items {
		if b, ok := it.(*ast.Block); ok && b.Name != nil && startsLine(src, b.Name.Start) {
			return true
		}
	}
	return false
}

// ReparseStats says how much of a file Reparse parsed again.
type ReparseStats struct {
	// Full is set when the whole file was parsed again.
	Full bool
	// Parsed counts the top-level items parsed (all of them when Full);
	// Reused counts those taken from the previous tree.
	Parsed, Reused int
	// When not Full and the text changed, the bytes [Start, OldEnd) of
	// the previous text were parsed again as [Start, NewEnd) of the new
	// one; the text before Start is unchanged, and the text from OldEnd
	// on moved by NewEnd-OldEnd.
	Changed               bool
	Start, OldEnd, NewEnd int
}

// Reparse returns the tree of src, a new version of the text prev was
// parsed from, equal to what ParseTree(filename, src) returns. Only the
// top-level declarations the edit touched are parsed again: the text
// between the start of the last declaration that begins a line before the
// edit and the start of the first one that begins a line after it. The
// declarations before that region are reused as they are, those after it
// moved by the change in length (copies: prev is not modified). Whatever
// could make the edit reach beyond the region is parsed whole instead:
// unmatched brackets or an unterminated comment, in prev or in the
// region; nesting or expressions over the limits; a file near the caps on
// diagnostics.
func Reparse(prev *Tree, filename string, src []byte) (*Tree, ReparseStats) {
	if t, st, ok := reparse(prev, filename, src); ok {
		return t, st
	}
	t := ParseTree(filename, src)
	return t, ReparseStats{Full: true, Parsed: len(t.File.Items)}
}

// maxReparseDiags is the most diagnostics a file may have for Reparse to
// update it piecewise: near the cap of diag.MaxPerFile, which diagnostics
// are kept depends on the whole file.
const maxReparseDiags = diag.MaxPerFile / 2

func reparse(prev *Tree, filename string, src []byte) (*Tree, ReparseStats, bool) {
	var st ReparseStats
	if prev == nil || prev.File == nil || prev.File.Source == nil || !prev.balanced || prev.nameStartsLine || len(src) > MaxFileSize ||
		prev.File.Source.Name != filename || unsafeToSplice(prev.Diags) {
		return nil, st, false
	}
	old := prev.File.Source.Src
	if bytes.Equal(old, src) {
		return prev, ReparseStats{Reused: len(prev.File.Items)}, true
	}
	// The changed bytes: old[p:len(old)-s] became src[p:len(src)-s].
	p, s := commonPrefix(old, src), 0
	for s < len(old)-p && s < len(src)-p && old[len(old)-1-s] == src[len(src)-1-s] {
		s++
	}
	delta := len(src) - len(old)
	items := prev.File.Items
	// The region starts at the last item that begins a line before p
	// (strictly: text inserted at an item's start would join its first
	// token), and ends at the first item that begins a line strictly
	// after the changed bytes (so its line break is unchanged).
	r0, r1 := 0, len(old)
	first, last := 0, len(items) // items[first:last] are parsed again
	for i, it := range items {
		start, _ := it.Span()
		if start < p && startsLine(old, start) {
			r0, first = start, i
		}
	}
	for i := len(items) - 1; i >= first; i-- {
		start, _ := items[i].Span()
		if start > len(old)-s && startsLine(old, start) {
			r1, last = start, i
		}
	}
	region := src[r0 : r1+delta]
	rf, rds, ok := parseFull(filename, region, maxWholeFileTokens)
	if !ok || unsafeToSplice(rds) || nameStartsLine(rf.Items, region) {
		return nil, st, false
	}
	if r1 < len(old) {
		// An error at the region's end is about the token that follows
		// it in the file ("unexpected identifier `model`"), which the
		// region's parse saw as the end of the file.
		for _, d := range rds {
			if _, hi := diagSpan(d); hi >= len(region) || strings.HasPrefix(d.Summary, "Unexpected end of file") {
				return nil, st, false
			}
		}
	}
	nf := source.NewFile(filename, src)
	file := &ast.File{Extent: ast.Extent{Start: 0, End: len(src)}, Source: nf}
	file.Items = make([]ast.Item, 0, len(items)-(last-first)+len(rf.Items))
	file.Items = append(file.Items, items[:first]...)
	for _, it := range rf.Items {
		file.Items = append(file.Items, ast.ShiftItem(it, r0))
	}
	for _, it := range items[last:] {
		file.Items = append(file.Items, ast.ShiftItem(it, delta))
	}
	for _, c := range prev.File.Comments {
		if c.End <= r0 {
			file.Comments = append(file.Comments, c)
		}
	}
	for _, c := range rf.Comments {
		file.Comments = append(file.Comments, ast.ShiftComment(c, r0))
	}
	for _, c := range prev.File.Comments {
		if c.Start >= r1 {
			file.Comments = append(file.Comments, ast.ShiftComment(c, delta))
		}
	}
	var ds diag.Diagnostics
	for _, d := range prev.Diags {
		lo, hi := diagSpan(d)
		if r0 > 0 && lo == r0 || r1 < len(old) && lo == r1 {
			// An error at the first token of a declaration may be about
			// the broken text before it.
			return nil, st, false
		}
		switch {
		case hi <= r0 && (hi < r0 || lo < r0):
			ds = append(ds, d)
		case lo >= r1 && r1 < len(old):
			ds = append(ds, d.Moved(nf, delta))
		case lo >= r0 && hi <= r1:
			// Inside the region: the region's parse reports it again.
		default:
			return nil, st, false
		}
	}
	for _, d := range rds {
		ds = append(ds, d.Moved(nf, r0))
	}
	if len(ds) > maxReparseDiags || countCode(ds, "E107") >= maxEncodingErrors {
		return nil, st, false
	}
	st.Parsed = len(rf.Items)
	st.Reused = first + len(items) - last
	st.Changed, st.Start, st.OldEnd, st.NewEnd = true, r0, r1, r1+delta
	return &Tree{File: file, Diags: ds.Capped(diag.MaxPerFile), balanced: true}, st, true
}

// unsafeToSplice reports diagnostics whose presence means the file cannot
// be parsed piecewise: a parse stopped early or cut short by a limit, an
// unterminated comment (which runs to the end of the file), an internal
// error, or a number of them near the cap.
func unsafeToSplice(ds diag.Diagnostics) bool {
	if len(ds) > maxReparseDiags {
		return true
	}
	for _, d := range ds {
		switch d.Code {
		case "E113", "E114", "E199", diag.TooManyCode:
			return true
		}
		if d.Subject == nil {
			return true
		}
		if d.Code == "E102" { // unterminated comment
			return true
		}
	}
	return false
}

func countCode(ds diag.Diagnostics, code string) int {
	n := 0
	for _, d := range ds {
		if d.Code == code {
			n++
		}
	}
	return n
}

// startsLine reports whether offset off of src is at the start of a line.
func startsLine(src []byte, off int) bool { return off == 0 || src[off-1] == '\n' }

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// diagSpan returns the lowest and highest offsets any range of d covers.
func diagSpan(d *diag.Diagnostic) (lo, hi int) {
	lo, hi = d.Subject.Start.Byte, d.Subject.End.Byte
	grow := func(r source.Range) {
		lo, hi = min(lo, r.Start.Byte), max(hi, r.End.Byte)
	}
	if d.Context != nil {
		grow(*d.Context)
	}
	for _, n := range d.Notes {
		grow(n.Range)
	}
	if d.Suggestion != nil {
		grow(d.Suggestion.Range)
	}
	return lo, hi
}
