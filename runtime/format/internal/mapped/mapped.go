// Package mapped opens a model file read-only as one byte slice, memory
// mapped where the system allows it and read into memory otherwise, so that
// loaders can hand out tensors that alias the file without copying.
package mapped

import (
	"fmt"
	"io"
	"math"
	"os"
	"unsafe"

	"github.com/modelwhisperer/whisperc/lang/input"
)

// File is a read-only view of a whole file. Data must not be written to and
// must not be used after Close.
type File struct {
	Name   string
	Data   []byte
	mapped bool
	closed bool
}

// Open maps the named file read-only. It falls back to reading the file when
// mapping fails (for example on a pipe or a file system without mmap).
func Open(name string) (*File, error) {
	f, st, err := input.Open(name, "model")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size == 0 {
		return &File{Name: name, Data: []byte{}}, nil
	}
	if size > math.MaxInt {
		return nil, fmt.Errorf("%s: file of %d bytes is too large to map", name, size)
	}
	// Copy-on-write (mapFile): the file never changes.
	if data, err := mapFile(f, int(size)); err == nil {
		return &File{Name: name, Data: data, mapped: true}, nil
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &File{Name: name, Data: data}, nil
}

// FromBytes wraps bytes already in memory, for tests and fuzzing.
func FromBytes(name string, data []byte) *File {
	return &File{Name: name, Data: data}
}

// Close unmaps the file. It is safe to call more than once.
func (f *File) Close() error {
	if f == nil || f.closed {
		return nil
	}
	f.closed = true
	data := f.Data
	f.Data = nil
	if f.mapped {
		return unmap(data)
	}
	return nil
}

// Release tells the system that the pages wholly inside b, a sub-slice of
// a mapped File's Data, are not needed in memory for now, so that they stop
// counting in the process's resident set. They stay readable: a later read
// faults them back in from the file. Unmodified private pages are dropped,
// never written anywhere. It does nothing for a File read into memory, or
// for b outside Data, or on Windows (release).
func (f *File) Release(b []byte) {
	if f == nil || !f.mapped || f.closed || len(b) == 0 || len(f.Data) == 0 {
		return
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(f.Data)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if p < base || p+uintptr(len(b)) > base+uintptr(len(f.Data)) {
		return
	}
	page := uintptr(os.Getpagesize())
	lo := (p - base + page - 1) &^ (page - 1)
	hi := (p - base + uintptr(len(b))) &^ (page - 1)
	if hi <= lo {
		return
	}
	release(f.Data[lo:hi])
}
