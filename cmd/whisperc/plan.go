package main

import "errors"

// planCmd is not wired yet; its owner replaces this file.
type planCmd struct{}

func (planCmd) Run(e *env) error { return errors.New("plan: not implemented yet") }
