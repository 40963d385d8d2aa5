package cost

import (
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
)

// TestCPUMemoryFloor checks that a calibration that measured the
// executable's pages splits the process's base into the executable and the
// rest, adding up to the measured base, and that an older calibration
// without it keeps one process component of the whole base.
func TestCPUMemoryFloor(t *testing.T) {
	w := Workload{Arch: cpuShapes["15M"], Mode: Inference, Storage: FP32, Compute: FP32, Batch: 1, Seq: 1, NewTokens: 200, KVCache: true,
		Devices: 1, Sharding: DDP, Attention: Eager, FileBytes: 60_816_028, TokenizerFileBytes: 433_869, CompileMode: compiler.CompileDefault}
	rates := &CPURates{BaseBytes: 32 << 20, ExecutableBytes: 24 << 20}
	m := w.Memory(Device{Name: "cpu", Memory: 24 << 30, CPU: rates})
	if exe, rest := m.Component("executable"), m.Component("process"); exe != 24<<20 || rest != 8<<20 {
		t.Errorf("executable %d, process %d; want 24 MiB and 8 MiB", exe, rest)
	}
	rates.ExecutableBytes = 0
	old := w.Memory(Device{Name: "cpu", Memory: 24 << 30, CPU: rates})
	if old.Component("executable") != 0 || old.Component("process") != 32<<20 || old.Total != m.Total {
		t.Errorf("without the split: executable %d, process %d, total %d (split total %d)", old.Component("executable"), old.Component("process"), old.Total, m.Total)
	}
}

// TestCPUMemoryServeCache checks that a server's KV cache is sized for
// all its slots: the serve stage plans one sequence's step (Batch 1) with
// CacheBatch slots, and the runtime allocates a whole context for each
// slot up front. The CPU memory once counted one slot while the plan's
// kv_cache decision counted all of them.
func TestCPUMemoryServeCache(t *testing.T) {
	w := Workload{Arch: cpuShapes["15M"], Mode: Inference, Storage: FP32, Compute: FP32, Batch: 1, Seq: 256, NewTokens: 0, KVCache: true,
		Devices: 1, Sharding: DDP, Attention: Eager, FileBytes: 60_816_028, CompileMode: compiler.CompileDefault}
	dev := Device{Name: "cpu", Memory: 24 << 30, CPU: &CPURates{BaseBytes: 32 << 20}}
	one := w.Memory(dev).Component("kv_cache")
	w.CacheBatch = 8
	slots := w.Memory(dev)
	if want := 8 * one; one <= 0 || slots.Component("kv_cache") != want {
		t.Errorf("kv_cache with 8 slots: %d bytes, want 8 × %d", slots.Component("kv_cache"), one)
	}
	w.CacheBatch = 0
	if d := slots.Total - w.Memory(dev).Total; d < 7*one {
		t.Errorf("7 more slots add %d bytes to the total, want at least %d", d, 7*one)
	}
}

// TestCPUMemoryStartupRelease checks the two uses of what the calibration
// measured around the executable's release: a generation whose pieces
// sum to less than the process's peak before the release is predicted at
// that peak (a "startup" component makes up the difference), a larger
// one is not; and a server, which does not release, counts the
// executable as resident before the release.
func TestCPUMemoryStartupRelease(t *testing.T) {
	tiny := Workload{Arch: cpuShapes["15M"], Mode: Inference, Storage: FP32, Compute: FP32, Batch: 1, Seq: 1, NewTokens: 10, KVCache: true,
		Devices: 1, Sharding: DDP, Attention: Eager, FileBytes: 1 << 20, CompileMode: compiler.CompileDefault}
	rates := &CPURates{BaseBytes: 22 << 20, ExecutableBytes: 15 << 20, StartupBytes: 40 << 20, ReleasedBytes: 20 << 20}
	dev := Device{Name: "cpu", Memory: 24 << 30, CPU: rates}
	m := tiny.Memory(dev)
	if m.Total != 40<<20 || m.Component("startup") <= 0 {
		t.Errorf("small model: total %d with startup %d; want the 40 MiB peak before the release", m.Total, m.Component("startup"))
	}
	big := tiny
	big.FileBytes = 60_816_028
	if b := big.Memory(dev); b.Component("startup") != 0 || b.Total <= 40<<20 || b.Component("executable") != 15<<20 {
		t.Errorf("15M: total %d, startup %d, executable %d; want no startup component and the executable after the release", b.Total, b.Component("startup"), b.Component("executable"))
	}
	srv := big
	srv.Seq, srv.NewTokens, srv.CacheBatch = 16, 0, 4
	if s := srv.Memory(dev); s.Component("executable") != 20<<20 || s.Component("process") != 7<<20 {
		t.Errorf("server: executable %d, process %d; want the 20 MiB resident before the release and the 7 MiB rest", s.Component("executable"), s.Component("process"))
	}
}
