package main

import (
	"path/filepath"

	"github.com/modelwhisperer/whisperc/lsp"
)

// lspCmd runs the language server on stdin/stdout; log lines go to stderr.
type lspCmd struct {
	Stdio     bool     `help:"Speak the protocol on stdin/stdout (the default and only transport; accepted because LSP clients pass it)."`
	Target    string   `help:"Hardware target profile to plan against (such as a100-80gb) unless the editor's settings name one; empty means this machine."`
	ImportDir []string `name:"import-dir" sep:"none" placeholder:"DIR" help:"Also allow imports of .whisper files under DIR (repeatable), unless the editor's importDirs setting names directories. Without it, imports must lie under each document's directory."`
}

func (c lspCmd) Run(e *env) error {
	// A relative DIR is relative to the directory the server started in,
	// as on the other commands; the server itself resolves relative
	// settings against the workspace folder.
	dirs := make([]string, 0, len(c.ImportDir))
	for _, d := range c.ImportDir {
		if abs, err := filepath.Abs(d); err == nil && d != "" {
			d = abs
		}
		dirs = append(dirs, d)
	}
	return lsp.Serve(e.ctx, e.stdin, e.stdout, lsp.Options{Log: e.stderr, Target: c.Target, ImportDirs: dirs, Version: version})
}
