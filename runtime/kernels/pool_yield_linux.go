package kernels

import "golang.org/x/sys/unix"

// osYield gives the calling thread's CPU to another runnable thread on
// it, if there is one (sched_yield); it returns at once otherwise.
func osYield() { unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }
