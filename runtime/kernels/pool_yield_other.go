//go:build !linux

package kernels

// osYield has no portable form: elsewhere a spinning waiter keeps its
// thread.
func osYield() {}
