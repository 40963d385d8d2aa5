package main

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// uncache writes name's pages back to disk and drops them from the page
// cache, so that every process measured here maps the executable and the
// model as a process does once the files have been read back from disk.
// How much of a mapped file is resident depends on the folios it has in
// the page cache: a file just written sits there in large folios, and on
// this project's 6.18 kernel a fault maps a whole folio, so a copy of
// whisperc the linker has just written is resident almost entirely
// (about 37 MiB) where the same file read from disk is about 24 MiB
// (runtime/bench/rss.sh prints the split), and a quantised model's
// embedding lookups bring back more of a freshly written model file.
// Calibration's base memory and the runs then see the same files.
func uncache(t *testing.T, name string) {
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}
