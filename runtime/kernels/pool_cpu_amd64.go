package kernels

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"

	"github.com/klauspost/cpuid/v2"
)

// tscAux returns RDTSCP's IA32_TSC_AUX: on Linux, the CPU number in its
// low 12 bits (and the NUMA node above them).
//
//go:noescape
func tscAux() uint32

// segCPU returns the limit of Linux's per-CPU GDT segment (selector
// 0x7b, GDT_ENTRY_CPUNODE), which the kernel sets to the CPU number in
// its low 12 bits and the NUMA node above them: what the vDSO's getcpu
// reads where the CPU has no RDPID.
//
//go:noescape
func segCPU() uint32

// cpuSource is how currentCPU tells the CPU.
type cpuSource int

const (
	cpuUnknown cpuSource = iota // it cannot
	cpuTSCAux                   // RDTSCP's IA32_TSC_AUX
	cpuSegment                  // the per-CPU segment's limit (segCPU)
)

// cpuFrom is the source currentCPU uses: the first of IA32_TSC_AUX and
// the per-CPU segment that agrees with the getcpu system call. A
// hypervisor may leave IA32_TSC_AUX as the host's: on this project's
// 2-vCPU VM RDTSCP read 0x127 on CPU 0 and 0x7c on CPU 1 (and CPUID did
// not list RDTSCP), while the segment read 0 and 1. Without a source a
// waiter could not tell that it shared its CPU with the thread it waited
// for, and yielded blindly (osYieldPolls). It is chosen when the first
// pool starts (initCPUSource), not when the program does: a process that
// never decodes (whisperc check, the language server) makes none of the
// system calls the choice takes.
var (
	cpuFrom atomic.Int32 // a cpuSource
	cpuOnce sync.Once
)

// initCPUSource chooses cpuFrom, once.
func initCPUSource() { cpuOnce.Do(func() { cpuFrom.Store(int32(pickCPUSource())) }) }

func pickCPUSource() cpuSource {
	if goruntime.GOOS != "linux" {
		return cpuUnknown
	}
	if cpuid.CPU.Has(cpuid.RDTSCP) && agreesWithGetcpu(func() uint32 { return tscAux() }) {
		return cpuTSCAux
	}
	if agreesWithGetcpu(segCPU) {
		return cpuSegment
	}
	return cpuUnknown
}

// agreesWithGetcpu reports whether read's low 12 bits are the CPU that
// the getcpu system call reports, in most of several tries made on one
// thread (a try whose two system calls disagree, the thread having
// moved, does not count).
func agreesWithGetcpu(read func() uint32) bool {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	agree, tries := 0, 0
	for range 16 {
		a, okA := getcpu()
		v := int(read() & 0xfff)
		b, okB := getcpu()
		if !okA || !okB || a != b {
			continue
		}
		tries++
		if v == a {
			agree++
		}
	}
	return tries > 0 && agree == tries
}

// haveCPUNumber reports whether currentCPU can tell the CPU.
func haveCPUNumber() bool {
	initCPUSource()
	return cpuSource(cpuFrom.Load()) != cpuUnknown
}

// currentCPU returns the CPU the calling thread runs on, or -1 where that
// cannot be told cheaply (a few tens of cycles; no system call).
func currentCPU() int32 {
	switch cpuSource(cpuFrom.Load()) {
	case cpuTSCAux:
		return int32(tscAux() & 0xfff)
	case cpuSegment:
		return int32(segCPU() & 0xfff)
	}
	return -1
}
