//go:build !pooltrace

package kernels

// traceOn is set by the pooltrace build tag: the pool then records every
// shared product's hand-off times (pooltrace.go). Without it the records
// are compiled out.
const traceOn = false

func gcCycles() uint32 { return 0 }
