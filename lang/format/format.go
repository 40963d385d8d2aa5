// Package format prints .whisper files in the one canonical layout, like
// gofmt and terraform fmt.
//
// The layout: two-space indentation; one attribute per line, with `=`
// aligned across a run of consecutive attributes (a blank line or a nested
// block ends a run); blank lines between items kept but collapsed to one;
// a block, object or list written on one line stays on one line when it
// holds no comment and fits in MaxWidth columns, and is otherwise printed
// one item per line (lists with trailing commas); binary operators spaced;
// units glued to their number (`24GiB`, `5%`, `1.5h`) except the word units
// (`500 steps`); numbers and strings exactly as written; every comment
// kept, trailing comments of consecutive lines aligned. Formatting is
// idempotent and never changes the syntax tree (tests check both).
package format

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/parser"
)

// MaxWidth is the widest line, in characters, on which a block, object or
// list written on one line is kept on one line.
const MaxWidth = 100

// Source parses and formats one file. It refuses input with syntax errors:
// then it returns nil and the diagnostics. As a safety net it re-parses its
// output and returns nil with an internal-error diagnostic (E198) rather
// than output whose syntax tree or comments differ from the input's.
func Source(filename string, src []byte) ([]byte, diag.Diagnostics) {
	f, ds := parser.Parse(filename, src)
	if ds.HasErrors() {
		return nil, ds
	}
	out, err := format(f)
	if err == nil {
		err = verify(f, out)
	}
	if err != nil {
		return nil, ds.Append(diag.Errorf(f.Source.Range(0, 0), "E198", "Internal formatter error",
			"The formatter failed on this file: "+err.Error()+". This is a bug in whisperc; please report it with the file. "+
				"The file was left unchanged; it is still valid and can be checked and run as it is."))
	}
	return out, ds
}

// File formats a parsed file with its comments. The file should come from
// parser.Parse without syntax errors: its Source is used to find blank lines
// and the original layout. Given a partial tree (with syntax errors), File
// still returns something, but it may have lost the broken parts; if
// formatting fails on a malformed tree, File returns the source unchanged.
func File(f *ast.File) []byte {
	out, err := format(f)
	if err != nil {
		if f != nil && f.Source != nil {
			return bytes.Clone(f.Source.Src)
		}
		return nil
	}
	return out
}

// format runs the printer, turning a panic (a bug on a malformed tree) into
// an error.
func format(f *ast.File) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			first, _, _ := strings.Cut(fmt.Sprintf("%v\n%s", r, debug.Stack()), "\n")
			out, err = nil, fmt.Errorf("%s", first)
		}
	}()
	if f == nil || f.Source == nil {
		return nil, fmt.Errorf("no file")
	}
	p := newPrinter(f)
	return p.file(f), nil
}

// verify checks that out parses without errors to the same tree, with the
// same number of comments, as f.
func verify(f *ast.File, out []byte) error {
	g, ds := parser.Parse(f.Source.Name, out)
	if ds.HasErrors() {
		return fmt.Errorf("its output does not parse (%s)", ds.Sorted()[0].Summary)
	}
	if ast.Dump(f) != ast.Dump(g) {
		return fmt.Errorf("its output has a different syntax tree")
	}
	if len(f.Comments) != len(g.Comments) {
		return fmt.Errorf("its output has %d comments instead of %d", len(g.Comments), len(f.Comments))
	}
	return nil
}
