//go:build windows

package mapped

import (
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// mapFile maps size bytes of f copy-on-write (PAGE_WRITECOPY, as the Unix
// MAP_PRIVATE mapping): a consumer that writes by mistake gets a private
// page and the file never changes. The view keeps the mapping object
// alive, so its handle is closed at once.
func mapFile(f *os.File, size int) ([]byte, error) {
	h, err := windows.CreateFileMapping(windows.Handle(f.Fd()), nil, windows.PAGE_WRITECOPY, uint32(uint64(size)>>32), uint32(size), nil)
	if err != nil {
		return nil, err
	}
	defer windows.CloseHandle(h)
	addr, err := windows.MapViewOfFile(h, windows.FILE_MAP_COPY, 0, 0, uintptr(size))
	if err != nil {
		return nil, err
	}
	return unsafe.Slice(*(**byte)(unsafe.Pointer(&addr)), size), nil
}

func unmap(b []byte) error {
	return windows.UnmapViewOfFile(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

// release does nothing: Windows has no call that drops the clean pages of
// a file view from the working set while keeping them readable, short of
// trimming the whole process's.
func release([]byte) {}
