//go:build !linux

package hw

import "runtime"

// affinityCPUs returns the number of CPUs this process may use.
func affinityCPUs() int { return runtime.NumCPU() }
