//go:build unix

package mapped

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps size bytes of f private and writable: readers treat it as
// read-only, but a consumer that aliases it (the engine's fp32 weights)
// and writes by mistake gets a copy-on-write page instead of a fatal
// fault, and the file never changes. Untouched pages cost nothing and stay
// shared with the page cache.
func mapFile(f *os.File, size int) ([]byte, error) {
	return unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
}

func unmap(b []byte) error { return unix.Munmap(b) }

// release drops b's pages (page-aligned) from the resident set.
func release(b []byte) { _ = unix.Madvise(b, unix.MADV_DONTNEED) }
