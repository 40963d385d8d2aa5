//go:build unix

package engine

import "golang.org/x/sys/unix"

// mapAnon maps n zeroed bytes of private anonymous memory.
func mapAnon(n int) ([]byte, error) {
	return unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
}

func unmapAnon(b []byte) error { return unix.Munmap(b) }

// discard gives b's pages back, keeping the addresses mapped (they read
// as zeros).
func discard(b []byte) { _ = unix.Madvise(b, unix.MADV_DONTNEED) }
