package main

import "errors"

// runCmd is not wired yet; its owner replaces this file.
type runCmd struct{}

func (runCmd) Run(e *env) error { return errors.New("run: not implemented yet") }
