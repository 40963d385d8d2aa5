package kernels

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// getcpu returns the CPU the calling thread runs on, by system call.
func getcpu() (int, bool) {
	var cpu, node uint32
	_, _, errno := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), uintptr(unsafe.Pointer(&node)), 0)
	return int(cpu), errno == 0
}
