//go:build windows

package engine

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// mapAnon reserves and commits n zeroed bytes (VirtualAlloc).
func mapAnon(n int) ([]byte, error) {
	addr, err := windows.VirtualAlloc(0, uintptr(n), windows.MEM_COMMIT|windows.MEM_RESERVE, windows.PAGE_READWRITE)
	if err != nil {
		return nil, err
	}
	return unsafe.Slice(*(**byte)(unsafe.Pointer(&addr)), n), nil
}

func unmapAnon(b []byte) error {
	return windows.VirtualFree(uintptr(unsafe.Pointer(unsafe.SliceData(b))), 0, windows.MEM_RELEASE)
}

// discard tells the system b's contents are no longer needed
// (MEM_RESET), keeping the addresses committed: nothing reads them again.
func discard(b []byte) {
	_, _ = windows.VirtualAlloc(uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), windows.MEM_RESET, windows.PAGE_READWRITE)
}
