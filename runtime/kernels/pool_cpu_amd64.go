package kernels

import (
	goruntime "runtime"

	"github.com/klauspost/cpuid/v2"
)

// tscAux returns RDTSCP's IA32_TSC_AUX: on Linux, the CPU number in its
// low 12 bits (and the NUMA node above them).
//
//go:noescape
func tscAux() uint32

// haveCPUNumber reports whether currentCPU can tell the CPU: RDTSCP on
// Linux, which keeps the CPU's number in IA32_TSC_AUX.
var haveCPUNumber = goruntime.GOOS == "linux" && cpuid.CPU.Has(cpuid.RDTSCP)

// currentCPU returns the CPU the calling thread runs on, or -1 where that
// cannot be told cheaply (a few tens of cycles; no system call).
func currentCPU() int32 {
	if !haveCPUNumber {
		return -1
	}
	return int32(tscAux() & 0xfff)
}
