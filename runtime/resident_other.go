//go:build !linux

package runtime

// releaseExecutable releases nothing where the process cannot read its
// own mappings (see the Linux version).
func releaseExecutable() int64 { return 0 }

// executableBytes is 0 where the process cannot read its own mappings.
func executableBytes() int64 { return 0 }
