package pages

import "golang.org/x/sys/unix"

func populate(start, n uintptr) bool {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, start, n, unix.MADV_POPULATE_WRITE)
	return errno == 0
}
