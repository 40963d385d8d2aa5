package engine

import "golang.org/x/sys/unix"

// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14 and up; older
// kernels refuse it, and touch writes the pages itself).
const madvPopulateWrite = unix.MADV_POPULATE_WRITE
