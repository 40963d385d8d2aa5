//go:build !linux

package kernels

const hugePagesSupported = false

func adviseHuge(b []byte) bool { return false }

func collapseHuge(b []byte) {}
