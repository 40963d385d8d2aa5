package lsp

import (
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
	s.treesMu.Lock()
	prev := s.trees[path]
	s.treesMu.Unlock()
	var t *wparser.Tree
	var st wparser.ReparseStats
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
	return t.File, t.Diags
}
