package runtime

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// populate makes the pages of bufs, whole heap pages of size page each
// that hold zeros, resident and writable: each run of adjacent ones in one
// system call (MADV_POPULATE_WRITE, Linux 5.14 and up), else one fault a
// page.
func populate(bufs [][]byte, page int) {
	for i := 0; i < len(bufs); {
		start := uintptr(unsafe.Pointer(unsafe.SliceData(bufs[i])))
		j, end := i+1, start+uintptr(page)
		for j < len(bufs) && uintptr(unsafe.Pointer(unsafe.SliceData(bufs[j]))) == end {
			j, end = j+1, end+uintptr(page)
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_POPULATE_WRITE); errno != 0 {
			touch4K(bufs[i:j])
		}
		i = j
	}
}
