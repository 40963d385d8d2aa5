package lsp

import (
	"strings"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
	wparser "github.com/modelwhisperer/whisperc/lang/parser"
)

// defaultEarlyBytes is server.earlyBytes: about 1,500 lines, where
// planning starts to take a noticeable share of the 100 ms the server
// aims for.
const defaultEarlyBytes = 32 << 10

// maxTrees bounds the parses the server keeps for parser.Reparse.
const maxTrees = 64

// parse is the checker's parser: it brings the previous parse of the file
// up to date with parser.Reparse, so that an edit re-parses only the
// declarations it touched. The result is what parser.Parse returns.
func (s *server) parse(path string, src []byte) (*ast.File, diag.Diagnostics) {
	t, _, _ := s.reparse(path, src)
	return t.File, t.Diags
}

// reparse is parse, returning the tree, what was parsed again and the text
// it was parsed against (nil for a first parse).
func (s *server) reparse(path string, src []byte) (*wparser.Tree, wparser.ReparseStats, []byte) {
	s.treesMu.Lock()
	prev := s.trees[path]
	s.treesMu.Unlock()
	var t *wparser.Tree
	var st wparser.ReparseStats
	var from []byte
	if prev != nil {
		from = prev.File.Source.Src
	}
	if prev == nil {
		t = wparser.ParseTree(path, src)
		st = wparser.ReparseStats{Full: true, Parsed: len(t.File.Items)}
	} else {
		t, st = wparser.Reparse(prev, path, src)
	}
	s.treesMu.Lock()
	if _, ok := s.trees[path]; !ok && len(s.trees) >= maxTrees {
		for k := range s.trees { // forget any one
			delete(s.trees, k)
			break
		}
	}
	s.trees[path] = t
	s.treesMu.Unlock()
	if s.parsed != nil {
		s.parsed(path, st)
	}
	return t, st, from
}

// defaultProvisionalBytes is server.provisionalBytes: about 20,000
// lines, where checking the whole program takes more than the 100 ms the
// server aims for.
const defaultProvisionalBytes = 512 << 10

// provisional returns, for an edit of a large document, the diagnostics
// the editor can show at once, before the program is checked: the new
// syntax diagnostics of the whole file (parseDiags, from the incremental
// parse), and the checker's and planner's diagnostics of the previous
// analysis outside the re-parsed text, moved with it. Those of the edited
// declarations are dropped until the check reports them again. It returns
// nil when the previous analysis is not of the text the parse started
// from (from), or when the edit is before one of its imports (their
// summaries are placed with its tolerant view, which the new version does
// not have yet).
func (s *server) provisional(d *document, cfg config, parseDiags diag.Diagnostics, st wparser.ReparseStats, from []byte) *analysis {
	s.mu.Lock()
	prev := s.cache[d.URI]
	s.mu.Unlock()
	if prev == nil || !prev.cfg.equal(cfg) || !sameBytes(prev.doc.File.Src, from) {
		return nil
	}
	for _, imp := range prev.tree.imports {
		if imp.End >= st.Start {
			return nil
		}
	}
	doc := d
	ds := append(diag.Diagnostics{}, parseDiags...)
	for _, d := range prev.diags {
		if isSyntax(d) {
			continue // the new parse reported them
		}
		if d.Subject == nil || d.Subject.Filename != doc.Path {
			ds = append(ds, d)
			continue
		}
		lo, hi := d.Subject.Start.Byte, d.Subject.End.Byte
		switch {
		case hi <= st.Start && lo < st.Start:
			ds = append(ds, d)
		case lo >= st.OldEnd:
			ds = append(ds, d.Moved(doc.File, st.NewEnd-st.OldEnd))
		}
	}
	// The previous analysis's tolerant view and import closure serve for
	// placing the summaries of errors in imported files: its imports all
	// precede the edit.
	p := *prev
	p.doc = doc
	p.diags = ds.Sorted()
	return &p
}

// isSyntax reports a diagnostic of the parser (E1xx).
func isSyntax(d *diag.Diagnostic) bool {
	return len(d.Code) == 4 && strings.HasPrefix(d.Code, "E1")
}

// sameBytes reports whether a and b are the same slice of memory.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
