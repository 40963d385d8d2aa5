package main

import "errors"

// hwCmd is not wired yet; its owner replaces this file.
type hwCmd struct{}

func (hwCmd) Run(e *env) error { return errors.New("hw: not implemented yet") }
