package kernels

import "unsafe"

// HugeArena holds a model's quantised matrices in one buffer backed by
// transparent huge pages (2 MiB): GGML block matrices that a model keeps
// as stored, copied out of the memory-mapped file, and the matrices the
// engine quantises at load, written straight into it (Alloc). A decode
// step streams every weight once; on 4 KiB pages it pays a TLB miss per
// page and the hardware prefetchers stop at every page boundary, and one
// core streamed 13-15 GB/s through the Q8_0 kernel
// where the same bytes on huge pages gave 25-36 GB/s (this 2-vCPU Zen 4
// VM, BenchmarkIntDecodeHuge). The copies replace the file's pages, which
// the caller releases, so the resident set does not grow.
//
// An arena smaller than hugeMin, or on a system that does not give huge
// pages to it (not Linux, transparent huge pages off, a kernel before
// 6.1), holds nothing: Alloc returns nil, Copy reports false and the
// matrices keep their own buffers.
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

// Alloc returns n bytes of the arena, starting on a 64-byte boundary,
// for a matrix quantised straight into it (QuantConfig.Data); it returns
// nil when the arena is not in use or has no room left.
func (a *HugeArena) Alloc(n int) []byte {
	if a == nil || !a.ok || n <= 0 || a.off+n > len(a.buf) {
		return nil
	}
	b := a.buf[a.off : a.off+n : a.off+n]
	a.off = (a.off + n + 63) &^ 63
	return b
}

// Copy moves q's data into the arena when the arena is in use and has
// room, and reports whether it did: q.Data then points into the arena and
// the old bytes are no longer referenced by q.
func (a *HugeArena) Copy(q *QMatrix) bool {
	dst := a.Alloc(len(q.Data))
	if dst == nil {
		return false
	}
	copy(dst, q.Data)
	q.Data = dst
	return true
}

// CopyScales moves a 4-bit matrix's first-level scales (Absmax, or
// QAbsmax when double-quantised), which a product reads beside the codes,
// into the arena where it has room. The second-level scales are a few
// hundred bytes and stay where they are.
func (a *HugeArena) CopyScales(q *QMatrix) {
	if len(q.QAbsmax) > 0 {
		if dst := a.Alloc(len(q.QAbsmax)); dst != nil {
			copy(dst, q.QAbsmax)
			q.QAbsmax = dst
		}
	}
	if len(q.Absmax) > 0 {
		// 64-byte aligned, and the arena's bytes hold no pointers, as a
		// []float32 does not.
		if dst := a.Alloc(4 * len(q.Absmax)); dst != nil {
			f := unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(dst))), len(q.Absmax))
			copy(f, q.Absmax)
			q.Absmax = f
		}
	}
}

// QuantizedLens returns the lengths of the buffers that quantising a
// [rows, cols] matrix with cfg gives and an arena holds (Alloc,
// CopyScales): the codes, then for NF4 and FP4 the first-level scales.
func QuantizedLens(rows, cols int, cfg QuantConfig) []int {
	n := rows * cols
	switch cfg.Method {
	case NF4, FP4:
		nb := (n + Block4Bit - 1) / Block4Bit
		if cfg.DoubleQuant {
			return []int{(n + 1) / 2, nb}
		}
		return []int{(n + 1) / 2, 4 * nb}
	case Q8_0:
		return []int{(n + BlockQ8_0 - 1) / BlockQ8_0 * bytesQ8Block}
	case BF16:
		return []int{2 * n}
	}
	return nil
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
