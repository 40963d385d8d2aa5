//go:build unix

package hw

import (
	"io/fs"
	"strconv"
	"syscall"
)

// deviceID names the file system holding fi by its device number.
func deviceID(fi fs.FileInfo, dir string) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return strconv.FormatUint(uint64(st.Dev), 16)
	}
	return pathKey(dir)
}
