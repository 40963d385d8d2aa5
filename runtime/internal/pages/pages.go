// Package pages makes memory resident before its first use: the first
// write to each page of fresh memory is a page fault, 10-15 µs on this
// project's 2-vCPU VM, which a decode step must not pay for buffers that
// could have been made resident when they were allocated.
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

// Populate makes the n bytes from start, which hold zeros or are not yet
// resident, resident and writable in one system call, and reports whether
// it could (Linux 5.14 and up: MADV_POPULATE_WRITE; start must be
// page-aligned). The memory must stay allocated through the call: it may
// span several Go objects, so it is given as an address.
func Populate(start, n uintptr) bool { return populate(start, n) }

// PopulateBytes is Populate for b.
func PopulateBytes(b []byte) bool {
	return len(b) > 0 && populate(uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
}
