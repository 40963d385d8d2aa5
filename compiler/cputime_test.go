//go:build unix

package compiler

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time this process has used (user and system,
// garbage collection included), steadier than wall time on a shared
// machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
