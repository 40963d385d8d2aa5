package kernels

import "unsafe"

// HugeArena holds GGML block matrices that a model keeps as stored, copied
// out of the memory-mapped file into one buffer backed by transparent huge
// pages (2 MiB). A decode step streams every weight once; on 4 KiB pages
// it pays a TLB miss per page and the hardware prefetchers stop at every
// page boundary, and one core streamed 13-15 GB/s through the Q8_0 kernel
// where the same bytes on huge pages gave 25-36 GB/s (this 2-vCPU Zen 4
// VM, BenchmarkIntDecodeHuge). The copies replace the file's pages, which
// the caller releases, so the resident set does not grow.
//
// An arena smaller than hugeMin, or on a system that does not give huge
// pages to it (not Linux, transparent huge pages off, a kernel before
// 6.1), copies nothing: Copy reports false and the matrices keep their
// bytes.
type HugeArena struct {
	buf []byte // 2 MiB-aligned, len = the size asked for, rounded up to 64 bytes
	off int    // bytes handed out
	ok  bool
}

// hugePage is the size of a transparent huge page on amd64 and arm64
// (4 KiB base pages).
const hugePage = 2 << 20

// hugeMin is the smallest arena worth its alignment slack: below it the
// weights are mostly in the caches anyway.
const hugeMin = 4 << 20

// NewHugeArena returns an arena for size bytes of matrix data. Each copy
// starts on a 64-byte boundary, so size should count 63 bytes of slack
// per matrix (HugeArenaSize does).
func NewHugeArena(size int) *HugeArena {
	a := &HugeArena{}
	if size < hugeMin || !hugePagesSupported {
		return a
	}
	// One Go allocation (so the collector frees it with the last matrix
	// that points into it), aligned to a huge page by hand.
	raw := make([]byte, size+hugePage)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(raw)))
	skip := int((p+hugePage-1)&^(hugePage-1) - p)
	a.buf = raw[skip : skip+size : skip+size]
	// Ask for huge pages before the copies touch the buffer, so that
	// fresh memory faults in 2 MiB at a time; Seal collapses the rest.
	a.ok = adviseHuge(a.buf[:len(a.buf)&^(hugePage-1)])
	return a
}

// HugeArenaSize returns the arena size for matrices of the given data
// lengths.
func HugeArenaSize(lens ...int) int {
	n := 0
	for _, l := range lens {
		n += (l + 63) &^ 63
	}
	return n
}

// Copy moves q's data into the arena when the arena is in use and has
// room, and reports whether it did: q.Data then points into the arena and
// the old bytes are no longer referenced by q.
func (a *HugeArena) Copy(q *QMatrix) bool {
	if a == nil || !a.ok || len(q.Data) == 0 || a.off+len(q.Data) > len(a.buf) {
		return false
	}
	dst := a.buf[a.off : a.off+len(q.Data) : a.off+len(q.Data)]
	copy(dst, q.Data)
	q.Data = dst
	a.off = (a.off + len(dst) + 63) &^ 63
	return true
}

// Seal collapses the copied range into huge pages where the copies left
// small ones (memory the runtime reused was already faulted in 4 KiB
// pages). Copies after Seal stay correct but may sit on small pages.
func (a *HugeArena) Seal() {
	if a == nil || !a.ok || a.off == 0 {
		return
	}
	collapseHuge(a.buf[:min(len(a.buf), (a.off+hugePage-1)&^(hugePage-1))&^(hugePage-1)])
}

// OnHugePages reports whether the arena holds its copies on huge pages.
func (a *HugeArena) OnHugePages() bool { return a != nil && a.ok }
