package kernels

import (
	goruntime "runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCurrentCPU pins the test's thread to each CPU it may use in turn
// and requires currentCPU to name it. It must find a source:
// the per-CPU segment is there whatever the hypervisor does with
// IA32_TSC_AUX (this project's VM left it as the host's).
func TestCurrentCPU(t *testing.T) {
	if !haveCPUNumber() {
		t.Fatal("currentCPU found no source that agrees with getcpu (neither RDTSCP nor the per-CPU segment)")
	}
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		t.Fatal(err)
	}
	defer unix.SchedSetaffinity(0, &allowed)
	for cpu := range 1024 {
		if !allowed.IsSet(cpu) {
			continue
		}
		var one unix.CPUSet
		one.Set(cpu)
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			t.Fatal(err)
		}
		if got := currentCPU(); int(got) != cpu {
			t.Fatalf("on CPU %d currentCPU() = %d (source %d)", cpu, got, cpuFrom.Load())
		}
	}
}
