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

// runCmd compiles a pipeline, plans it for this machine and executes it,
// or executes a saved plan after checking that it is still fresh.
type runCmd struct {
	File     string   `arg:"" help:"The .whisper file to run, or a saved plan (.json)."`
	Var      []string `name:"var" help:"Set a variable: NAME=VALUE (repeatable)."`
	SavePlan string   `name:"save-plan" placeholder:"FILE" help:"Also write the plan, with this machine's fingerprint and the inputs' hashes, to FILE."`
}

// Run checks the file, builds the plan (runtime.FromProgram until the
// planner lowers programs) and executes it. Generated text goes to stdout
// and nothing else does; diagnostics, timings and progress go to stderr.
func (c runCmd) Run(e *env) error {
	color := isTerminal(e.stderr)
	report := func(files diag.Files, ds diag.Diagnostics) error {
		if len(ds) > 0 {
			diag.WriteText(e.stderr, files, ds, diag.TextOptions{Color: color})
		}
		if ds.HasErrors() {
			return exitError{exitErrors}
		}
		return nil
	}
	if strings.HasSuffix(c.File, ".json") {
		f, err := os.Open(c.File)
		if err != nil {
			return err
		}
		saved, err := runtime.Load(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", c.File, err)
		}
		if ds := saved.Check(); ds.HasErrors() {
			return report(nil, ds)
		}
		return report(nil, runtime.Execute(e.ctx, saved.Plan, runtime.Streams{Stdout: e.stdout, Stderr: e.stderr, Progress: color}))
	}
	vars, err := parseVars(c.Var)
	if err != nil {
		return err
	}
	prog, ds := compiler.Check(c.File, compiler.Options{Vars: vars})
	if ds.HasErrors() {
		return report(prog.Files, ds)
	}
	plan, pds := runtime.FromProgram(prog, 0)
	ds = append(ds, pds...)
	if pds.HasErrors() {
		return report(prog.Files, ds)
	}
	if c.SavePlan != "" {
		if err := savePlan(c.SavePlan, plan, prog.FileOrder); err != nil {
			return err
		}
	}
	ds = append(ds, runtime.Execute(e.ctx, plan, runtime.Streams{Stdout: e.stdout, Stderr: e.stderr, Progress: color})...)
	return report(prog.Files, ds)
}

func savePlan(name string, p *runtime.Plan, files []string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := runtime.Save(f, p, files); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
