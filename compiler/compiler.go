// Package compiler checks .whisper programs and builds the typed Program
// that the planner, the runtime and the language server consume.
//
// Check parses the root file with lang/parser, follows its imports, merges
// every file's declarations into one namespace, resolves bare identifiers
// by each attribute's schema (an enum value or a declaration), type-checks
// every attribute against package stdlib, applies -var values and defaults,
// orders the stages by their dependencies and applies the program-only parts
// of the methodology rules ML001–ML008. Like every phase of whisperc it
// returns a partial result together with its diagnostics.
package compiler

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/input"
	"github.com/modelwhisperer/whisperc/lang/parser"
	"github.com/modelwhisperer/whisperc/lang/source"
	"github.com/modelwhisperer/whisperc/stdlib"
)

// Options tune Check.
type Options struct {
	// Vars are the -var NAME=VALUE settings, as written on the command line.
	Vars map[string]string
	// ReadFile reads the root and imported files; nil means ReadSource.
	// The language server substitutes its open documents.
	ReadFile func(path string) ([]byte, error)
	// ImportDirs are directories, besides the directory of each root file,
	// whose .whisper files (and their subdirectories') may be imported
	// (whisperc's --import-dir flag). See ImportAllowed.
	ImportDirs []string
	// Parse parses one file; nil means parser.Parse. The language server
	// substitutes parser.Reparse against the previous version of the
	// file, which gives the same result.
	Parse func(filename string, src []byte) (*ast.File, diag.Diagnostics)
	// Context, when set, stops the check early once it is cancelled (the
	// language server's superseded analyses): the program and
	// diagnostics of a cancelled check are incomplete and must be
	// discarded. Nil never cancels.
	Context context.Context
}

// cancelled reports whether the check's context is done.
func (c *checker) cancelled() bool {
	return c.opts.Context != nil && c.opts.Context.Err() != nil
}

// ReadSource reads a .whisper file from disk with the limits every outside
// input has: a regular file (never a device or a FIFO) of at most
// parser.MaxFileSize bytes, refused before it is read.
func ReadSource(path string) ([]byte, error) {
	return input.ReadFile(path, "source file", parser.MaxFileSize)
}

// Check checks the program rooted at the named file and returns the typed
// program, partial when there are errors, with every diagnostic sorted and
// deduplicated.
func Check(root string, opts Options) (*Program, diag.Diagnostics) {
	return CheckFiles([]string{root}, opts)
}

// CheckFiles checks a program made of several root files (and their
// imports) sharing one namespace.
func CheckFiles(roots []string, opts Options) (prog *Program, ds diag.Diagnostics) {
	return newChecker(opts).check(roots)
}

// check runs the checker, turning a panic into an internal-error
// diagnostic.
func (c *checker) check(roots []string) (prog *Program, ds diag.Diagnostics) {
	defer func() {
		if r := recover(); r != nil {
			d := &diag.Diagnostic{
				Severity: diag.Error, Code: "E200",
				Summary: "Internal checker error",
				Detail: fmt.Sprintf("The checker failed (%v). This is a bug in whisperc; please report it with this file. "+
					"The diagnostics above are what was found before the failure.\n%s", r, firstFrames(debug.Stack())),
			}
			if f := c.prog.Files[c.prog.Root]; f != nil {
				rng := f.Range(0, 0)
				d.Subject = &rng
			}
			prog, ds = c.prog, append(c.diags, d).Capped(diag.MaxPerFile)
		}
	}()
	c.run(roots)
	return c.prog, c.diags.Capped(diag.MaxPerFile)
}

// firstFrames keeps a stack trace short enough for a diagnostic.
func firstFrames(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	if len(lines) > 16 {
		lines = lines[:16]
	}
	return strings.Join(lines, "\n")
}

// checker holds the state of one Check call.
type checker struct {
	opts  Options
	roots []string
	// gaveUp is set when the parser stopped early in a file (E115).
	gaveUp bool
	prog   *Program
	diags  diag.Diagnostics
	schema []stdlib.Block
	kinds  map[string]*stdlib.Block
	// vars holds each variable's state by name, for var.NAME.
	vars map[string]*varState
	// srcs maps a file name to its source, for ranges.
	srcs map[string]*source.File
	// pipeline is the checked pipeline body, once a stage needed its seed.
	pipeline         *body
	pipelineSearched bool
	// candidates caches the declaration names of each set of kinds, for
	// did-you-mean.
	candidates map[string][]string
	// parse is parser.Parse; benchmarks substitute a cache to measure the
	// checker alone.
	parse func(filename string, src []byte) (*ast.File, diag.Diagnostics)
}

func newChecker(opts Options) *checker {
	if opts.ReadFile == nil {
		opts.ReadFile = ReadSource
	}
	c := &checker{
		opts: opts,
		prog: &Program{
			Files:  diag.FileMap{},
			ASTs:   map[string]*ast.File{},
			byName: map[string]*Decl{},
		},
		schema: stdlib.Blocks(),
		kinds:  map[string]*stdlib.Block{},
		vars:   map[string]*varState{},
		srcs:   map[string]*source.File{},
		parse:  parser.Parse,
	}
	if opts.Parse != nil {
		c.parse = opts.Parse
	}
	for i := range c.schema {
		c.kinds[c.schema[i].Kind] = &c.schema[i]
	}
	return c
}

func (c *checker) report(d *diag.Diagnostic) { c.diags = append(c.diags, d) }

func (c *checker) run(roots []string) {
	for _, r := range roots {
		c.roots = append(c.roots, filepath.Clean(r))
	}
	for i, r := range roots {
		r = filepath.Clean(r)
		if i == 0 {
			c.prog.Root = r
			base := filepath.Base(r)
			c.prog.Name = strings.TrimSuffix(base, filepath.Ext(base))
		}
		c.load(r, nil)
	}
	if c.gaveUp {
		// The parser stopped early in some file: what follows its stop
		// is missing, and checking the rest would report its absence.
		return
	}
	for _, phase := range []func(){c.declare, c.resolveVariables, c.checkDecls, c.buildGraph, c.lint} {
		if c.cancelled() {
			return
		}
		phase()
	}
}
