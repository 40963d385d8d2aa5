//go:build !linux

package pages

// populate cannot: there is no MADV_POPULATE_WRITE here, and callers
// Touch the pages instead.
func populate(start, n uintptr) {}
