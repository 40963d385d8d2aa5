//go:build !linux

package kernels

// getcpu cannot tell the CPU where there is no getcpu system call.
func getcpu() (int, bool) { return 0, false }
