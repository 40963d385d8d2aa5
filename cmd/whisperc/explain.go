package main

import "errors"

// explainCmd is not wired yet; its owner replaces this file.
type explainCmd struct{}

func (explainCmd) Run(e *env) error { return errors.New("explain: not implemented yet") }
