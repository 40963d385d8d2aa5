package ops

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"gorgonia.org/gorgonia"
)

// BenchmarkLinearVsGorgonia runs y = x·Wᵀ on a tape machine through the
// Linear op and through Gorgonia's own Mul of x and Wᵀ (gonum's pure-Go
// BLAS), forward only and forward plus gradients.
func BenchmarkLinearVsGorgonia(b *testing.B) {
	n, in, out := 64, 288, 768
	for _, grad := range []bool{false, true} {
		for _, impl := range []string{"ops.Linear", "gorgonia.Mul"} {
			b.Run(fmt.Sprintf("%s/grad=%v", impl, grad), func(b *testing.B) {
				g := gorgonia.NewGraph()
				x := matrix(g, "x", n, in, randVec(1, n*in))
				w := matrix(g, "w", out, in, randVec(2, out*in))
				var y *gorgonia.Node
				var err error
				if impl == "ops.Linear" {
					y, err = Linear("fc", x, w, kernels.Exec{})
				} else {
					y, err = gorgonia.Mul(x, gorgonia.Must(gorgonia.Transpose(w)))
				}
				if err != nil {
					b.Fatal(err)
				}
				if grad {
					cost := gorgonia.Must(gorgonia.Sum(y))
					if _, err := gorgonia.Grad(cost, x, w); err != nil {
						b.Fatal(err)
					}
				}
				m := gorgonia.NewTapeMachine(g)
				defer m.Close()
				cpu0 := processCPU()
				for b.Loop() {
					if err := m.RunAll(); err != nil {
						b.Fatal(err)
					}
					m.Reset()
				}
				b.ReportMetric(float64(2*n*in*out)*float64(b.N)/b.Elapsed().Seconds()/1e9, "fwd-GFLOP/s")
				b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// BenchmarkAttentionOp runs the attention op forward and backward on a
// tape machine for both kernels.
func BenchmarkAttentionOp(b *testing.B) {
	s := kernels.AttnShape{N: 128, Heads: 6, KVHeads: 6, HeadDim: 48}
	for _, kind := range []kernels.AttnKernel{kernels.AttnEager, kernels.AttnFlash2} {
		b.Run(kind.String(), func(b *testing.B) {
			g := gorgonia.NewGraph()
			q := matrix(g, "q", s.N, 288, randVec(1, s.N*288))
			k := matrix(g, "k", s.N, 288, randVec(2, s.N*288))
			v := matrix(g, "v", s.N, 288, randVec(3, s.N*288))
			y, err := Attention("attn", q, k, v, kind, s, kernels.Exec{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := gorgonia.Grad(gorgonia.Must(gorgonia.Sum(y)), q, k, v); err != nil {
				b.Fatal(err)
			}
			m := gorgonia.NewTapeMachine(g)
			defer m.Close()
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				if err := m.RunAll(); err != nil {
					b.Fatal(err)
				}
				m.Reset()
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU returns the CPU time the process has used; on the shared
// machine it is steadier than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
