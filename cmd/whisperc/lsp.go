package main

import (
	"github.com/modelwhisperer/whisperc/lsp"
)

// lspCmd runs the language server on stdin/stdout; log lines go to stderr.
type lspCmd struct {
	Stdio  bool   `help:"Speak the protocol on stdin/stdout (the default and only transport; accepted because LSP clients pass it)."`
	Target string `help:"Hardware target profile to plan against (such as a100-80gb) unless the editor's settings name one; empty means this machine."`
}

func (c lspCmd) Run(e *env) error {
	return lsp.Serve(e.ctx, e.stdin, e.stdout, lsp.Options{Log: e.stderr, Target: c.Target, Version: version})
}
