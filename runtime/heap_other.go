//go:build !linux

package runtime

// populate makes the pages of bufs, which hold zeros, resident: one fault
// a page where there is no call that does it at once.
func populate(bufs [][]byte, page int) { touch4K(bufs) }
