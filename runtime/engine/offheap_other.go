//go:build !linux

package engine

// madvPopulateWrite is -1 where there is no MADV_POPULATE_WRITE: touch
// writes the pages itself.
const madvPopulateWrite = -1
