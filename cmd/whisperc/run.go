package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/mattn/go-isatty"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/runtime"
)

// runCmd compiles a pipeline, plans it for this machine and executes it.
type runCmd struct {
	File string   `arg:"" help:"The .whisper file to run."`
	Var  []string `name:"var" help:"Set a variable: NAME=VALUE (repeatable)."`
}

// Run checks the file, builds the plan (runtime.FromProgram until the
// planner lowers programs) and executes it. Generated text goes to stdout
// and nothing else does; diagnostics, timings and progress go to stderr.
func (c runCmd) Run(e *env) error {
	if strings.HasSuffix(c.File, ".json") {
		return usageError{fmt.Sprintf("run %s: running a saved plan needs `whisperc plan -o`, which does not write plans yet; run the .whisper file instead", c.File)}
	}
	vars := map[string]string{}
	for _, v := range c.Var {
		name, value, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			return usageError{fmt.Sprintf("--var %q: want NAME=VALUE", v)}
		}
		vars[name] = value
	}
	prog, ds := compiler.Check(c.File, compiler.Options{Vars: vars})
	files := prog.Files
	color := isTerminal(e.stderr)
	if ds.HasErrors() {
		diag.WriteText(e.stderr, files, ds, diag.TextOptions{Color: color})
		return exitError{exitErrors}
	}
	plan, pds := runtime.FromProgram(prog, 0)
	ds = append(ds, pds...)
	if !pds.HasErrors() {
		ds = append(ds, runtime.Execute(e.ctx, plan, runtime.Streams{Stdout: e.stdout, Stderr: e.stderr, Progress: color})...)
	}
	if len(ds) > 0 {
		diag.WriteText(e.stderr, files, ds, diag.TextOptions{Color: color})
	}
	if ds.HasErrors() {
		return exitError{exitErrors}
	}
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
