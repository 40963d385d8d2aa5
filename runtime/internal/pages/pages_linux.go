package pages

import "golang.org/x/sys/unix"

// populate's error is ignored: an older kernel refuses the advice, and
// callers Touch the pages anyway.
func populate(start, n uintptr) {
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, start, n, unix.MADV_POPULATE_WRITE)
}
