//go:build !amd64

package kernels

// haveCPUNumber is false: the CPU a thread runs on is not told here.
func haveCPUNumber() bool { return false }

// initCPUSource has nothing to choose.
func initCPUSource() {}

// currentCPU returns -1: a spinning waiter then yields its CPU now and
// then as if it might share it (event.wait).
func currentCPU() int32 { return -1 }
