package runtime

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
)

// TestStepCalibrationStability is a benchmark, not a check: run by
// runtime/bench/stepcal_stability.sh (WHISPERC_STEPCAL_STABILITY=N), it
// calibrates the decode step of the 42M fp32 and 110M q8_0 shapes N times
// in a row, each time afresh (no cache), and prints the decode rate each
// calibration predicts, from its first round alone (what one round of 48
// steps measured before) and from its settled rounds, with the rounds and
// their spread, and then how far apart the N calibrations are (largest ÷
// smallest) for each.
func TestStepCalibrationStability(t *testing.T) {
	n := 0
	fmt.Sscan(os.Getenv("WHISPERC_STEPCAL_STABILITY"), &n)
	if n < 2 {
		t.Skip("a benchmark: set WHISPERC_STEPCAL_STABILITY to the number of calibrations (2 or more)")
	}
	shapes := []struct {
		name   string
		c      arch.Config
		format cost.DType
	}{
		{"42M fp32", arch.Config{Name: "42M", Family: arch.Llama, Dim: 512, HiddenDim: 1376, Layers: 8, Heads: 8, KVHeads: 8, Vocab: 32000, MaxSeq: 1024, Tied: true}, cost.FP32},
		{"110M q8_0", arch.Config{Name: "110M", Family: arch.Llama, Dim: 768, HiddenDim: 2048, Layers: 12, Heads: 12, KVHeads: 12, Vocab: 32000, MaxSeq: 1024, Tied: true}, cost.Q8_0},
	}
	fmt.Printf("%-10s %4s %14s %14s %7s %7s\n", "shape", "run", "1 round tok/s", "settled tok/s", "rounds", "spread")
	for _, sh := range shapes {
		var first, final []float64
		for i := range n {
			s := &StepCalibrator{Threads: 1, TempDir: t.TempDir()}
			var got settled
			var p arch.Config
			s.onSettle = func(q arch.Config, g settled) {
				if q.Dim == sh.c.Dim && q.HiddenDim == sh.c.HiddenDim && q.Vocab == sh.c.Vocab {
					p, got = q, g
				}
			}
			m, err := s.Measure(context.Background(), sh.c, cost.Uniform(sh.format), sh.format, compiler.CompileDefault)
			if err != nil {
				t.Fatal(err)
			}
			layer1 := max((got.First[1]-got.First[0])/float64(p.Layers-1), 0)
			head1 := max(got.First[0]-layer1, 0)
			f := 1 / (float64(sh.c.Layers)*layer1 + head1)
			r := 1 / (float64(sh.c.Layers)*m.Layer + m.Head)
			first, final = append(first, f), append(final, r)
			fmt.Printf("%-10s %4d %14.1f %14.1f %7d %6.1f%%\n", sh.name, i+1, f, r, m.Rounds, 100*m.Spread)
		}
		fmt.Printf("%-10s  max÷min: 1 round %.3f, settled %.3f\n", sh.name, slices.Max(first)/slices.Min(first), slices.Max(final)/slices.Min(final))
	}
}
