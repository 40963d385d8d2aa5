package main

import "errors"

// lspCmd is not wired yet; its owner replaces this file.
type lspCmd struct{}

func (lspCmd) Run(e *env) error { return errors.New("lsp: not implemented yet") }
