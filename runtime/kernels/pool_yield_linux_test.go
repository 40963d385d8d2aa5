package kernels

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPoolOnOneCPU checks what a held two-thread pool costs when the OS
// runs the caller's and the worker's threads on one CPU, as it does on a
// 2-CPU machine while a third thread holds the other CPU: about one
// thread's CPU time, because the waiting thread yields its CPU
// (osYieldPolls). A waiter that only spins takes half of every slice of
// that CPU from the thread doing the work, and the process about twice
// the CPU time (1.9× here without the yields). It runs in a child
// process pinned to one CPU with GOMAXPROCS=2 (with GOMAXPROCS=1 the two
// goroutines would share a P and Go would interleave them), and counts
// the process's CPU time, which other work on that CPU does not change.
func TestPoolOnOneCPU(t *testing.T) {
	if os.Getenv("WHISPERC_POOL_ONE_CPU") != "1" {
		c := exec.Command(os.Args[0], "-test.run=^TestPoolOnOneCPU$", "-test.v")
		c.Env = append(os.Environ(), "WHISPERC_POOL_ONE_CPU=1", "GOMAXPROCS=2")
		out, err := c.CombinedOutput()
		t.Logf("child:\n%s", out)
		if err != nil {
			t.Fatalf("the child pinned to one CPU failed: %v", err)
		}
		return
	}
	cpu := pinToOneCPU(t)
	initCPUSource()
	if c := currentCPU(); c >= 0 && int(c) != cpu {
		t.Fatalf("currentCPU() = %d on a thread pinned to CPU %d", c, cpu)
	} else if c < 0 && haveCPUNumber() {
		t.Fatal("currentCPU() does not tell the CPU, where RDTSCP could")
	}
	rows, cols := 512, 512
	w, x := randVec(1, rows*cols, 0.05), randVec(2, cols, 1)
	out := make([]float32, rows)
	rng := func(lo, hi int) { matVecRange(useAsm, useAVX512, out, w, x, cols, lo, hi) }
	const products = 3000
	cpuTime := func() time.Duration {
		var ru unix.Rusage
		if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var one, two time.Duration
	pool := NewPool(2)
	for range 2 {
		c0 := cpuTime()
		for range products {
			rng(0, rows)
		}
		c1 := cpuTime()
		pool.Hold()
		for range products {
			pool.run(rng, rows, rows/2)
		}
		pool.Release()
		c2 := cpuTime()
		one, two = one+c1-c0, two+c2-c1
		// Let the released worker park before the next one-thread
		// round (maxHeldSpin).
		time.Sleep(10 * time.Millisecond)
	}
	st := pool.Stats()
	t.Logf("CPU %d: %d products of %dx%d: one thread %v of CPU time, a held two-thread pool %v (%.2f×); pool %+v",
		cpu, 2*products, rows, cols, one, two, float64(two)/float64(one), st)
	if two > one*3/2 {
		t.Errorf("on one CPU a held two-thread pool took %v of CPU time against one thread's %v: a waiting thread takes the CPU from the working one", two, one)
	}
}

// pinToOneCPU restricts every thread of this process to the first CPU of
// its affinity (threads started later inherit it) and returns that CPU.
func pinToOneCPU(t *testing.T) int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	cpu := 0
	for !set.IsSet(cpu) {
		cpu++
	}
	var one unix.CPUSet
	one.Set(cpu)
	// Twice: a thread started during the first pass by a thread not yet
	// pinned is pinned in the second.
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			tid, err := strconv.Atoi(task.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &one); err != nil {
				t.Fatalf("pinning thread %d to CPU %d: %v", tid, cpu, err)
			}
		}
	}
	return cpu
}
