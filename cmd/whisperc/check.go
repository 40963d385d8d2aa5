package main

import "errors"

// checkCmd is not wired yet; its owner replaces this file.
type checkCmd struct{}

func (checkCmd) Run(e *env) error { return errors.New("check: not implemented yet") }
