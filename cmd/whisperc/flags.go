package main

import (
	"fmt"
	"strings"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/input"
	"github.com/modelwhisperer/whisperc/lang/parser"
)

// terraformFlags are the long flags that may be written with one dash, as
// Terraform users type them (`-var lr=1e-4`, `-out plan.json`).
var terraformFlags = []string{"var", "out", "target", "json", "check"}

// terraformFlagList returns the flags of terraformFlags as --name, for
// the help text.
func terraformFlagList() string {
	names := make([]string, len(terraformFlags))
	for i, f := range terraformFlags {
		names[i] = "--" + f
	}
	return strings.Join(names, ", ")
}

// normalizeArgs rewrites `-var` to `--var` (and `-var=x` to `--var=x`) for
// the flags above; everything after `--` is left alone.
func normalizeArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") {
			name, _, _ := strings.Cut(a[1:], "=")
			for _, f := range terraformFlags {
				if name == f {
					a = "-" + a
					break
				}
			}
		}
		out = append(out, a)
	}
	return out
}

// programFlags are the flags of every command that checks a program.
type programFlags struct {
	Var       []string `name:"var" sep:"none" placeholder:"NAME=VALUE" help:"Set a variable (repeatable). The value is taken verbatim, commas included."`
	ImportDir []string `name:"import-dir" sep:"none" placeholder:"DIR" help:"Also allow imports of .whisper files under DIR (repeatable). Without it, imports must lie under the root file's directory."`
}

// stdinName names standard input in diagnostics.
const stdinName = "<stdin>"

// options returns the compiler options for checking root: the -var
// values, the allowed import directories and, when root is "-", a reader
// that serves standard input (bounded like any source file) as the root.
func (f programFlags) options(e *env, root string) (compiler.Options, error) {
	vars, err := parseVars(f.Var)
	if err != nil {
		return compiler.Options{}, err
	}
	opts := compiler.Options{Vars: vars, ImportDirs: f.ImportDir}
	if root == "-" {
		src, err := input.ReadAll(e.stdin, "standard input", "source file", parser.MaxFileSize)
		if err != nil {
			return compiler.Options{}, err
		}
		opts.ReadFile = func(name string) ([]byte, error) {
			if name == stdinName {
				return src, nil
			}
			return compiler.ReadSource(name)
		}
	}
	return opts, nil
}

// parseVars turns repeated NAME=VALUE settings into a map. Types are checked
// by the compiler against each variable's declaration.
func parseVars(settings []string) (map[string]string, error) {
	vars := make(map[string]string, len(settings))
	for _, s := range settings {
		name, value, ok := strings.Cut(s, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, usageError{fmt.Sprintf("-var %q: expected NAME=VALUE, such as -var lr=1e-4", s)}
		}
		if prev, dup := vars[name]; dup && prev != value {
			return nil, usageError{fmt.Sprintf("-var %s is set twice (%q and %q); set it once", name, prev, value)}
		}
		vars[name] = value
	}
	return vars, nil
}
