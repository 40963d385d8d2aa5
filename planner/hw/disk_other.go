//go:build !unix

package hw

import "io/fs"

// deviceID names the file system by the probed directory where device
// numbers are not available.
func deviceID(fi fs.FileInfo, dir string) string { return pathKey(dir) }
