package main

import "errors"

// fmtCmd is not wired yet; its owner replaces this file.
type fmtCmd struct{}

func (fmtCmd) Run(e *env) error { return errors.New("fmt: not implemented yet") }
