package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/diff"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/format"
	"github.com/modelwhisperer/whisperc/lang/input"
	"github.com/modelwhisperer/whisperc/lang/parser"
	"github.com/modelwhisperer/whisperc/lang/source"
)

// fmtCmd prints, writes, diffs or checks the canonical layout.
type fmtCmd struct {
	Write bool     `short:"w" help:"Write the result back to each file instead of printing it."`
	Diff  bool     `short:"d" help:"Print a unified diff of the changes instead of the result."`
	Check bool     `help:"Print the names of files that are not formatted and exit 1 if any; change nothing."`
	Files []string `arg:"" optional:"" name:"file" help:".whisper files; none or - reads standard input."`
}

func (c fmtCmd) Run(e *env) error {
	if n := btoi(c.Write) + btoi(c.Diff) + btoi(c.Check); n > 1 {
		return usageError{"fmt: choose one of -w, -d and --check"}
	}
	files := c.Files
	if len(files) == 0 {
		files = []string{"-"}
	}
	var all diag.Diagnostics
	srcs := diag.FileMap{}
	unformatted := 0
	for _, name := range files {
		src, err := readInput(e, name)
		if err != nil {
			return err
		}
		display := name
		if name == "-" {
			display = "<stdin>"
			if c.Write {
				return usageError{"fmt -w: cannot write back to standard input"}
			}
		}
		out, ds := format.Source(display, src)
		if ds.HasErrors() {
			srcs[display] = source.NewFile(display, src)
			all = all.Extend(ds)
			continue
		}
		changed := !bytes.Equal(src, out)
		switch {
		case c.Check:
			if changed {
				unformatted++
				fmt.Fprintln(e.stdout, display)
			}
		case c.Diff:
			if changed {
				unformatted++
				e.stdout.Write(diff.Diff(display+" (original)", src, display+" (formatted)", out))
			}
		case c.Write:
			if changed {
				if err := writeFileAtomic(name, out); err != nil {
					return err
				}
			}
		default:
			e.stdout.Write(out)
		}
	}
	if len(all) > 0 {
		diag.WriteText(e.stderr, srcs, all.Sorted(), diag.TextOptions{Color: isTerminal(e.stderr)})
		fmt.Fprintf(e.stderr, "fmt: %s; nothing was formatted in those files\n", plural(all.Count(diag.Error), "syntax error"))
		return exitError{exitErrors}
	}
	if c.Check && unformatted > 0 {
		fmt.Fprintf(e.stderr, "fmt --check: %s not formatted; run `whisperc fmt -w` on them\n", plural(unformatted, "file"))
		return exitError{exitErrors}
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// readInput reads a named file, or standard input for "-".
func readInput(e *env, name string) ([]byte, error) {
	if name == "-" {
		return input.ReadAll(e.stdin, "standard input", "source file", parser.MaxFileSize)
	}
	return compiler.ReadSource(name)
}

// writeFileAtomic replaces name's contents through a temporary file in the
// same directory, keeping its permissions, so an interrupted write never
// leaves a half-written pipeline behind.
//
// A symbolic link is followed: the file it points to is formatted and the
// link itself is kept.
func writeFileAtomic(name string, data []byte) error {
	if target, err := filepath.EvalSymlinks(name); err == nil {
		name = target
	}
	info, err := os.Stat(name)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".whisperc-fmt-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
