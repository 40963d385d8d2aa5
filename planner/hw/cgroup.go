package hw

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupLimits reads the CPU quota (in CPUs; 0 for none) and the memory
// limit (bytes; 0 for none) that the control groups of this process
// impose, from procCgroup (/proc/self/cgroup) and the cgroup file system
// mounted at root (/sys/fs/cgroup), in both layouts: v2 (cpu.max,
// memory.max, in the unified hierarchy) and v1 (cpu.cfs_quota_us over
// cpu.cfs_period_us, memory.limit_in_bytes, per controller). The tightest
// limit on the way from the process's group up to the root counts.
func cgroupLimits(procCgroup, root string) (cpus float64, mem int64) {
	data, err := os.ReadFile(procCgroup)
	if err != nil || len(data) > 1<<16 {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		ctrls, path := strings.Split(parts[1], ","), parts[2]
		v2 := parts[0] == "0" && parts[1] == ""
		has := func(c string) bool {
			for _, x := range ctrls {
				if x == c {
					return true
				}
			}
			return false
		}
		for _, dir := range ancestors(path) {
			switch {
			case v2:
				if q := readCPUMax(filepath.Join(root, dir, "cpu.max")); q > 0 {
					cpus = tighter(cpus, q)
				}
				if m := readInt(filepath.Join(root, dir, "memory.max")); m > 0 {
					mem = tighterInt(mem, m)
				}
			case has("cpu"):
				quota := readInt(filepath.Join(root, parts[1], dir, "cpu.cfs_quota_us"))
				period := readInt(filepath.Join(root, parts[1], dir, "cpu.cfs_period_us"))
				if quota <= 0 || period <= 0 {
					quota = readInt(filepath.Join(root, "cpu", dir, "cpu.cfs_quota_us"))
					period = readInt(filepath.Join(root, "cpu", dir, "cpu.cfs_period_us"))
				}
				if quota > 0 && period > 0 {
					cpus = tighter(cpus, float64(quota)/float64(period))
				}
			case has("memory"):
				// v1 reports "no limit" as a huge page-aligned number.
				if m := readInt(filepath.Join(root, "memory", dir, "memory.limit_in_bytes")); m > 0 && m < 1<<60 {
					mem = tighterInt(mem, m)
				}
			}
		}
	}
	return cpus, mem
}

// ancestors returns path and its parents up to "/".
func ancestors(path string) []string {
	path = filepath.Clean("/" + path)
	out := []string{path}
	for path != "/" {
		path = filepath.Dir(path)
		out = append(out, path)
	}
	return out
}

func tighter(a, b float64) float64 {
	if a == 0 || b < a {
		return b
	}
	return a
}

func tighterInt(a, b int64) int64 {
	if a == 0 || b < a {
		return b
	}
	return a
}

// readCPUMax parses a v2 cpu.max ("max 100000" or "200000 100000") into
// CPUs, 0 when unlimited or unreadable.
func readCPUMax(name string) float64 {
	data, err := os.ReadFile(name)
	if err != nil || len(data) > 256 {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) != 2 || f[0] == "max" {
		return 0
	}
	q, err1 := strconv.ParseFloat(f[0], 64)
	p, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 || math.IsInf(q/p, 0) {
		return 0
	}
	return q / p
}

// readInt reads a file holding one integer ("max" and errors read as 0).
func readInt(name string) int64 {
	data, err := os.ReadFile(name)
	if err != nil || len(data) > 256 {
		return 0
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0
	}
	return v
}
