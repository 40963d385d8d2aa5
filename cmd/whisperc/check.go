package main

import (
	"fmt"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
)

// checkCmd parses and checks each file as the root of its own program.
type checkCmd struct {
	JSON bool `name:"json" help:"Print diagnostics as JSON (Terraform's validate -json shape) on stdout."`
	programFlags
	Files []string `arg:"" name:"file" help:".whisper files to check; each is the root of its own program; - reads standard input."`
}

func (c checkCmd) Run(e *env) error {
	var all diag.Diagnostics
	files := diag.FileMap{}
	for _, name := range c.Files {
		opts, err := c.options(e, name)
		if err != nil {
			return err
		}
		if name == "-" {
			name = stdinName
		}
		prog, ds := compiler.Check(name, opts)
		if prog != nil {
			for k, f := range prog.Files {
				files[k] = f
			}
		}
		all = all.Extend(ds)
	}
	all = all.Sorted()
	if c.JSON {
		if err := diag.WriteJSON(e.stdout, all); err != nil {
			return err
		}
	} else {
		if err := diag.WriteText(e.stderr, files, all, diag.TextOptions{Color: isTerminal(e.stderr)}); err != nil {
			return err
		}
		fmt.Fprintln(e.stderr, summaryLine(all))
	}
	if all.HasErrors() {
		return exitError{exitErrors}
	}
	return nil
}

// summaryLine counts the diagnostics as "2 errors, 1 warning" or "ok".
func summaryLine(ds diag.Diagnostics) string {
	errs, warns, infos := ds.Count(diag.Error), ds.Count(diag.Warning), ds.Count(diag.Info)
	if errs+warns+infos == 0 {
		return "ok: no problems found"
	}
	return fmt.Sprintf("%s, %s, %s", plural(errs, "error"), plural(warns, "warning"), plural(infos, "note"))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
