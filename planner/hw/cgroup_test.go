package hw

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCgroupLimits reads CPU quotas and memory limits from both cgroup
// layouts, taking the tightest limit up the hierarchy.
func TestCgroupLimits(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		cpus  float64
		mem   int64
	}{
		{"v2 quota", map[string]string{
			"proc": "0::/user.slice/job\n", "cg/user.slice/job/cpu.max": "150000 100000\n", "cg/user.slice/job/memory.max": "max\n",
			"cg/user.slice/memory.max": "1073741824\n"}, 1.5, 1 << 30},
		{"v2 none", map[string]string{"proc": "0::/\n", "cg/cpu.max": "max 100000\n"}, 0, 0},
		{"v2 parent tighter", map[string]string{
			"proc": "0::/a/b\n", "cg/a/b/cpu.max": "400000 100000\n", "cg/a/cpu.max": "200000 100000\n"}, 2, 0},
		{"v1", map[string]string{
			"proc": "4:memory:/job\n1:cpu,cpuacct:/job\n", "cg/cpu,cpuacct/job/cpu.cfs_quota_us": "50000\n",
			"cg/cpu,cpuacct/job/cpu.cfs_period_us": "100000\n", "cg/memory/job/memory.limit_in_bytes": "2147483648\n"}, 0.5, 2 << 30},
		{"v1 unlimited", map[string]string{
			"proc": "4:memory:/job\n1:cpu:/\n", "cg/cpu/cpu.cfs_quota_us": "-1\n", "cg/cpu/cpu.cfs_period_us": "100000\n",
			"cg/memory/job/memory.limit_in_bytes": "9223372036854771712\n"}, 0, 0},
		{"no file", map[string]string{}, 0, 0},
	} {
		dir := t.TempDir()
		writeFiles(t, dir, c.files)
		cpus, mem := cgroupLimits(filepath.Join(dir, "proc"), filepath.Join(dir, "cg"))
		if cpus != c.cpus || mem != c.mem {
			t.Errorf("%s: %v CPUs, %d bytes; want %v, %d", c.name, cpus, mem, c.cpus, c.mem)
		}
	}
}

// TestDetectUsable: the usable CPUs are the affinity's, capped by the
// quota, and never more than this process may run on.
func TestDetectUsable(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"proc": "0::/j\n", "cg/j/cpu.max": "100000 100000\n", "cg/j/memory.max": "536870912\n"})
	h, err := DetectWith(context.Background(), Options{GPUs: noGPUs{}, ProcCgroup: filepath.Join(dir, "proc"), CgroupRoot: filepath.Join(dir, "cg")})
	if err != nil {
		t.Fatal(err)
	}
	if h.CPU.Usable != 1 || h.CPU.Quota != 1 || h.RAMBytes != 512<<20 || h.CPU.Cores() != 1 {
		t.Errorf("usable %d, quota %v, RAM %d, cores %d", h.CPU.Usable, h.CPU.Quota, h.RAMBytes, h.CPU.Cores())
	}
	h, _ = DetectWith(context.Background(), Options{GPUs: noGPUs{}, ProcCgroup: filepath.Join(dir, "none")})
	if h.CPU.Usable < 1 || h.CPU.Usable > affinityCPUs() {
		t.Errorf("usable %d with affinity %d", h.CPU.Usable, affinityCPUs())
	}
}

// noGPUs is a prober for a CPU-only machine.
type noGPUs struct{}

func (noGPUs) ProbeGPUs(context.Context) (GPUReport, error) { return GPUReport{}, ErrNoGPULibrary }
