// Package pages makes memory resident before its first use: the first
// write to each page of fresh memory is a page fault, 10-15 µs on this
// project's 2-vCPU VM, which a decode step must not pay for buffers that
// could have been made resident when they were allocated. A page is ready
// once this process has written it (see Populate).
package pages

import "unsafe"

// Size is the page that Touch writes one byte of.
const Size = 4 << 10

// Touch writes zero to one byte in every page of b, which holds zeros, so
// that each page is faulted in now, as its first write would.
func Touch(b []byte) {
	for i := 0; i < len(b); i += Size {
		b[i] = 0
	}
}

// TouchFloats is Touch for float32s.
func TouchFloats(f []float32) {
	if len(f) > 0 {
		Touch(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(f))), 4*len(f)))
	}
}

// Populate asks the kernel to make the n bytes from start, which hold
// zeros or are not yet resident, resident and writable in one system call
// (Linux 5.14 and up: MADV_POPULATE_WRITE; start must be page-aligned),
// and does nothing where it cannot. The memory must stay allocated
// through the call: it may span several Go objects, so it is given as an
// address.
//
// Populate alone does not make the pages ready for the process's first
// write to each. Under a hypervisor that shadows the guest's page tables
// (this project's 2-vCPU VM is a PVM guest), the kernel's writes fill the
// guest's tables but not the shadow the process runs on, and the first
// write from user space to each page still exits to the hypervisor, where
// the guest sees no fault: 2-7.5 µs a page after Populate, against 11-16
// µs for a page not populated, and 0.02 µs once written
// (BenchmarkFirstWrite and a 64 MiB test program, 12:55-13:10 UTC
// 2026-12-07). Callers Touch the pages after it (Prefault), which keeps
// Populate's saving.
func Populate(start, n uintptr) { populate(start, n) }

// Prefault makes every page of b, which holds zeros or is not yet
// resident, resident and ready for its first write from this process:
// Populate where the system can, then one write of zero a page.
func Prefault(b []byte) {
	if len(b) > 0 {
		populate(uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	}
	Touch(b)
}
