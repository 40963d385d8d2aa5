package kernels

import (
	"syscall"
	"testing"
	"time"
)

// processCPU returns the CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMetric starts measuring the process's CPU time; the returned function
// reports it per operation as "cpu-ns/op". On a shared machine wall time
// includes time spent waiting for a core, CPU time does not, so this is the
// steadier number for single-threaded kernels.
func cpuMetric(b *testing.B) func() {
	start := processCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
