//go:build unix

package main

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// ceiling measures what a second thread can give on this machine at all:
// the same work on one goroutine and on two at once, each locked to its OS
// thread, for pure compute (a register-only loop, and the Q4_0 decode
// kernel on a matrix that stays in L2) and for streaming memory (a plain
// sum, and the Q4_0 decode kernel over 128 MiB of matrices). It prints,
// per kind, the work per second on one thread, on two together, their
// ratio (the most two threads can gain on such work), how much of the wall
// time the threads were actually running (CPU seconds ÷ threads ÷ wall:
// well under 100% means other processes held the CPUs and the ratio says
// little), and the work per CPU-second of one thread, alone and beside the
// other (lower beside it means the two contend, for memory bandwidth say).
func ceiling(args []string) error {
	fs := flag.NewFlagSet("ceiling", flag.ExitOnError)
	dur := fs.Duration("time", 2*time.Second, "time per measurement")
	fs.Parse(args)
	q4 := func(rows, cols, n int) []*kernels.QMatrix {
		var ms []*kernels.QMatrix
		for i := 0; i < n; i++ {
			data := make([]byte, rows*cols/32*18)
			for j := range data {
				data[j] = byte(j*7 + i)
			}
			for j := 0; j < len(data); j += 18 {
				data[j], data[j+1] = 0x00, 0x2c // scale 1/16
			}
			m, err := kernels.FromGGML(weights.Q4_0, rows, cols, data)
			if err != nil {
				panic(err)
			}
			ms = append(ms, m)
		}
		return ms
	}
	small := [2][]*kernels.QMatrix{q4(256, 768, 1), q4(256, 768, 1)}   // 110 KB each: L2
	big := [2][]*kernels.QMatrix{q4(2048, 768, 76), q4(2048, 768, 76)} // 64 MiB each
	words := [2][]uint64{make([]uint64, 8<<20), make([]uint64, 8<<20)} // 64 MiB each
	for _, w := range words {
		for i := range w {
			w[i] = uint64(i)
		}
	}
	x := make([]float32, 768)
	for i := range x {
		x[i] = float32(i%13) - 6
	}
	kinds := []struct {
		name, unit string
		step       func(id int) float64 // does a unit of work, returns its size
	}{
		{"compute: scalar loop", "G iter/s", func(int) float64 {
			a, b := 1.0, 1.1
			for i := 0; i < 1<<20; i++ {
				a = a*0.9999999 + 0.5
				b = b*0.9999999 + 0.5
			}
			sink += a + b
			return float64(1<<20) / 1e9
		}},
		{"compute: Q4_0 kernel, L2-resident", "GB/s", func(id int) float64 {
			out := make([]float32, 256)
			for i := 0; i < 64; i++ {
				kernels.Exec{}.QMatVec(out, small[id][0], x)
			}
			return 64 * float64(small[id][0].Bytes()) / 1e9
		}},
		{"memory: sum of 64 MiB", "GB/s", func(id int) float64 {
			var s0, s1, s2, s3 uint64
			w := words[id]
			for i := 0; i+4 <= len(w); i += 4 {
				s0 += w[i]
				s1 += w[i+1]
				s2 += w[i+2]
				s3 += w[i+3]
			}
			sink += float64(s0 + s1 + s2 + s3)
			return float64(8*len(w)) / 1e9
		}},
		{"memory: Q4_0 kernel over 64 MiB", "GB/s", func(id int) float64 {
			out := make([]float32, 2048)
			var n float64
			for _, m := range big[id] {
				kernels.Exec{}.QMatVec(out, m, x)
				n += float64(m.Bytes())
			}
			return n / 1e9
		}},
	}
	fmt.Println("| work | unit | 1 thread | 2 threads | 2 ÷ 1 | on CPU (1 / 2 threads) | per CPU-second (1 / 2 threads) |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, k := range kinds {
		one, busy1 := measure(1, *dur, k.step)
		two, busy2 := measure(2, *dur, k.step)
		fmt.Printf("| %s | %s | %.2f | %.2f | %.2f | %.0f%% / %.0f%% | %.2f / %.2f |\n", k.name, k.unit, one, two, two/one, 100*busy1, 100*busy2, one/busy1, two/busy2/2)
	}
	return nil
}

var sink float64

// measure runs step on threads goroutines locked to their OS threads for
// about d and returns the total work per second and the fraction of the
// wall time the threads were on a CPU (each thread's CPU time summed,
// divided by threads × wall).
func measure(threads int, d time.Duration, step func(id int) float64) (rate, busy float64) {
	var wg sync.WaitGroup
	work := make([]float64, threads)
	cpu := make([]time.Duration, threads)
	start := make(chan struct{})
	t0 := time.Now()
	for id := 0; id < threads; id++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			<-start
			c0 := threadCPU()
			for end := time.Now().Add(d); time.Now().Before(end); {
				work[id] += step(id)
			}
			cpu[id] = threadCPU() - c0
		}(id)
	}
	t0 = time.Now()
	close(start)
	wg.Wait()
	wall := time.Since(t0)
	var total float64
	var c time.Duration
	for id := range work {
		total += work[id]
		c += cpu[id]
	}
	return total / wall.Seconds(), c.Seconds() / float64(threads) / wall.Seconds()
}

// threadCPU returns the CPU time of the calling OS thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
