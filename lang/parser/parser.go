// Package parser parses .whisper source into the syntax tree of package
// lang/ast.
//
// The grammar is participle's (see grammar.go and spec/grammar.ebnf). As
// participle stops at the first error, Parse recovers on its own: it splits
// the token stream at top-level declarations (by bracket matching) and,
// inside a broken block, at body items, and parses each piece separately
// with absolute positions, so one mistake does not hide the others. The
// result is always a tree (partial when there are errors) plus every
// syntax diagnostic found, sorted.
package parser

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
)

// Limits on the input, each reported as a diagnostic when exceeded.
const (
	// MaxFileSize is the largest file Parse accepts, in bytes. Pipelines
	// are a few kilobytes; a bigger file is almost certainly not one.
	MaxFileSize = 4 << 20
	// MaxDepth is the deepest nesting of brackets (and of unary operators)
	// Parse accepts.
	MaxDepth = 100
	// MaxChain is the longest chain of binary operators in one expression.
	MaxChain = 1000
	// MaxOperators is the most binary operators one expression may hold
	// at one bracket depth, whatever their precedence.
	MaxOperators = 10 * MaxChain
	// maxEncodingErrors caps the E107 diagnostics of one file.
	maxEncodingErrors = 10
)

// Parse parses one .whisper file. It never fails: it returns the tree it
// could build (never nil; its Source is the file) and the syntax
// diagnostics, sorted. Every diagnostic's range lies within src.
func Parse(filename string, src []byte) (file *ast.File, diags diag.Diagnostics) {
	return parse(filename, src, maxWholeFileTokens)
}

// parse is Parse with the size of file participle may parse in one piece.
func parse(filename string, src []byte, wholeFileTokens int) (*ast.File, diag.Diagnostics) {
	file, diags, _ := parseFull(filename, src, wholeFileTokens)
	return file, diags
}

// parseFull is parse that also reports whether every bracket of the file
// is matched (false when it was not parsed at all).
func parseFull(filename string, src []byte, wholeFileTokens int) (file *ast.File, diags diag.Diagnostics, balanced bool) {
	f := source.NewFile(filename, src)
	file = &ast.File{Extent: ast.Extent{Start: 0, End: len(src)}, Source: f}
	defer func() {
		if r := recover(); r != nil {
			file.Items = nil
			balanced = false
			diags = append(diags, internalError(f, 0, fmt.Sprintf("%v\n%s", r, debug.Stack())))
			diags = diags.Sorted()
		}
	}()
	if len(src) > MaxFileSize {
		diags = diags.Append(diag.Errorf(f.Range(0, 0), "E114", "File too large",
			fmt.Sprintf("This file has %d bytes; whisperc reads .whisper files of at most %d bytes. "+
				"Split the pipeline into files joined with import, or check that this is the file you meant.", len(src), MaxFileSize)))
		return file, diags, balanced
	}
	diags = diags.Extend(checkEncoding(f))
	sc := scan(f)
	file.Comments = sc.comments
	diags = diags.Extend(sc.diags)
	toks, cuts := limitExpressions(f, sc.toks)
	p := newParser(f, toks)
	p.wholeFileTokens = wholeFileTokens
	balanced = p.bracketsOK
	p.invalid = sc.invalid
	p.preDiags = len(diags)
	if d := p.checkDepth(); d != nil {
		return file, diags.Extend(cutDiagnostics(cuts, nil)).Append(d).Capped(diag.MaxPerFile), balanced
	}
	if p.full() {
		diags = diags.Extend(cutDiagnostics(cuts, nil))
		// The scanner alone found too many problems: parse nothing.
		off := len(src)
		if sc.stoppedAt >= 0 {
			off = sc.stoppedAt
		}
		return file, diags.Append(gaveUp(f.Range(off, off))).Capped(diag.MaxPerFile), balanced
	}
	file.Items = p.parseFile()
	diags = diags.Extend(p.diags).Extend(p.conv.diags).Extend(cutDiagnostics(cuts, p.conv.diags))
	return file, diags.Capped(diag.MaxPerFile), balanced
}

// internalError reports a bug in the parser as a diagnostic, so that the
// user sees a position and a message rather than a crash.
func internalError(f *source.File, off int, msg string) *diag.Diagnostic {
	first, _, _ := strings.Cut(msg, "\n")
	return diag.Errorf(f.Range(off, off), "E199", "Internal parser error",
		"The parser failed on this file: "+first+". This is a bug in whisperc; please report it with the file. "+
			"Meanwhile, simplify the text near the reported position to work around it.")
}

// checkEncoding reports NUL bytes and invalid UTF-8, at most
// maxEncodingErrors of them.
func checkEncoding(f *source.File) diag.Diagnostics {
	var ds diag.Diagnostics
	src := f.Src
	for i := 0; i < len(src); {
		c := src[i]
		if c == 0 {
			ds = ds.Append(diag.Errorf(f.Range(i, i+1), "E107", "NUL byte in source",
				"A .whisper file is UTF-8 text and may not contain NUL bytes; this file may be binary or in another encoding. Remove the byte, or save the file as UTF-8."))
			i++
		} else if c < 0x80 {
			i++
			continue
		} else {
			r, size := decodeRune(src[i:])
			if r >= 0 {
				i += size
				continue
			}
			ds = ds.Append(diag.Errorf(f.Range(i, i+1), "E107", "Invalid UTF-8",
				"A .whisper file must be valid UTF-8 text. Save the file as UTF-8, or remove the byte."))
			i++
		}
		if len(ds) >= maxEncodingErrors {
			ds = ds.Append(diag.Errorf(f.Range(i, i), "E107", "Too many encoding errors",
				"Further invalid bytes are not reported. Save the file as UTF-8 text."))
			break
		}
	}
	return ds
}
