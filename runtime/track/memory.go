package track

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// resetPeakMemory resets the kernel's peak resident-set counter of this
// process (Linux: writing 5 to /proc/self/clear_refs), so that the next
// peakMemory measures one stage. Elsewhere it does nothing and peakMemory
// reports the process's peak so far.
func resetPeakMemory() {
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakMemory returns the peak resident set size of this process in
// bytes (VmHWM), or 0 where the system does not report it.
func peakMemory() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 2 && fields[1] == "kB" {
				n, err := strconv.ParseInt(fields[0], 10, 64)
				if err == nil {
					return n * 1024
				}
			}
		}
	}
	return 0
}
