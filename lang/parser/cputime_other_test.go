//go:build !unix

package parser

// processCPU cannot tell the process's CPU time on this system.
func processCPU() (int64, bool) { return 0, false }
