package kernels

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// hugePagesSupported is false where transparent huge pages are switched
// off ("never"): MADV_HUGEPAGE is accepted there but changes nothing.
var hugePagesSupported = func() bool {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	return err == nil && !strings.Contains(string(b), "[never]")
}()

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
