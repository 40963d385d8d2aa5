// Package input reads outside input (source files, saved plans, model
// headers, tokenizers, configuration files, standard input) with bounds.
//
// Every read of a file whisperc did not write goes through this package, so
// that three promises hold everywhere: a path that is not a regular file
// (a device such as /dev/zero, a FIFO, a directory, a socket) is refused
// before anything is read, and opening it never blocks; a file larger than
// the caller's limit is refused before it is read; and the read itself stops
// at the limit even when the file grows while it is read.
package input

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular is wrapped by errors about paths that are not regular files.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by errors about input over its size limit.
var ErrTooLarge = errors.New("input too large")

// Error describes a refused input. It wraps ErrNotRegular or ErrTooLarge.
type Error struct {
	// Path names the input ("standard input" for stdin).
	Path string
	// What says what the input was read as ("source file", "saved plan").
	What string
	// Mode is the file's type when it is not a regular file.
	Mode fs.FileMode
	// Size is the input's size, or the bytes read before it passed Limit.
	Size int64
	// Limit is the size limit in bytes (0 when not a size error).
	Limit int64
	kind  error
}

func (e *Error) Error() string {
	what := e.What
	if what == "" {
		what = "input"
	}
	if e.kind == ErrNotRegular {
		return fmt.Sprintf("%s is %s, not a regular file; whisperc reads a %s only from a regular file", e.Path, describeMode(e.Mode), what)
	}
	if e.Size > e.Limit && e.Size > 0 {
		return fmt.Sprintf("%s is larger than the %s limit for a %s (%s or more); refusing to read it", e.Path, Bytes(e.Limit), what, Bytes(e.Size))
	}
	return fmt.Sprintf("%s is larger than the %s limit for a %s; refusing to read it", e.Path, Bytes(e.Limit), what)
}

// Unwrap returns ErrNotRegular or ErrTooLarge.
func (e *Error) Unwrap() error { return e.kind }

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeIrregular != 0:
		return "an irregular file"
	}
	return "not a regular file"
}

// Bytes formats a byte count for messages: "4 MiB", "1.5 KiB", "17 bytes".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v, i := float64(n)/unit, 0
	for v >= unit && i < len(units)-1 {
		v /= unit
		i++
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), units[i])
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// Open opens path for reading as outside input. It follows symbolic links,
// never blocks (a FIFO is opened non-blocking and then refused), and
// returns an *Error wrapping ErrNotRegular for anything but a regular file.
// what names the input for messages ("source file", "model").
func Open(path, what string) (*os.File, fs.FileInfo, error) {
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, &Error{Path: path, What: what, Mode: st.Mode().Type(), kind: ErrNotRegular}
	}
	return f, st, nil
}

// CheckRegular reports, as an error from Open, whether path is not a
// readable regular file. It is for libraries that open the path themselves
// (there is a window between the check and their open; the check keeps out
// devices and FIFOs named by mistake or by a hostile file, which is its
// purpose).
func CheckRegular(path, what string) error {
	f, _, err := Open(path, what)
	if err != nil {
		return err
	}
	return f.Close()
}

// ReadFile reads the regular file at path, refusing it (an *Error wrapping
// ErrTooLarge) when it holds more than limit bytes, before reading and
// while reading.
func ReadFile(path, what string, limit int64) ([]byte, error) {
	f, st, err := Open(path, what)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Size() > limit {
		return nil, &Error{Path: path, What: what, Size: st.Size(), Limit: limit, kind: ErrTooLarge}
	}
	return readLimited(f, path, what, limit, st.Size())
}

// ReadAll reads r to its end (standard input, a pipe), refusing more than
// limit bytes. name names the input in messages ("standard input").
func ReadAll(r io.Reader, name, what string, limit int64) ([]byte, error) {
	return readLimited(r, name, what, limit, 0)
}

// ReadPrefix reads at most n bytes from the start of the regular file at
// path (a magic number, a header); a shorter file gives fewer bytes.
func ReadPrefix(path, what string, n int) ([]byte, error) {
	f, _, err := Open(path, what)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	m, err := io.ReadFull(f, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil
	}
	return buf[:m], err
}

func readLimited(r io.Reader, name, what string, limit, sizeHint int64) ([]byte, error) {
	// The size was checked before; the limit applies again while reading,
	// because a file can grow (or a pipe never end).
	r = io.LimitReader(r, limit+1)
	capacity := sizeHint
	if capacity > limit {
		capacity = limit
	}
	if capacity < 512 {
		capacity = 512
	}
	buf := make([]byte, 0, capacity+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, &Error{Path: name, What: what, Size: int64(len(buf)), Limit: limit, kind: ErrTooLarge}
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
