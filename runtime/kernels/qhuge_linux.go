package kernels

import "golang.org/x/sys/unix"

const hugePagesSupported = true

// adviseHuge asks for transparent huge pages on b (2 MiB-aligned) and
// reports whether the system accepts the advice (it refuses when
// transparent huge pages are not built in).
func adviseHuge(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	return unix.Madvise(b, unix.MADV_HUGEPAGE) == nil
}

// collapseHuge makes the pages of b (whole huge pages) huge now
// (MADV_COLLAPSE, Linux 6.1), where the kernel can; failing that, the
// khugepaged daemon may still collapse them later.
func collapseHuge(b []byte) {
	if len(b) > 0 {
		_ = unix.Madvise(b, unix.MADV_COLLAPSE)
	}
}
