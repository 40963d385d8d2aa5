//go:build !unix

package input

import "os"

// openNonBlocking refuses what Stat shows is not a regular file before
// opening it, on systems without O_NONBLOCK.
func openNonBlocking(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &Error{Path: path, Mode: st.Mode().Type(), kind: ErrNotRegular}
	}
	return os.Open(path)
}
