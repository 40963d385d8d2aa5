package engine

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestMaxOf checks maxOf against one chain of the max builtin, bit for
// bit, with ±0 and NaN among the values.
func TestMaxOf(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	negZero := float32(math.Copysign(0, -1))
	for _, n := range []int{1, 7, 8, 9, 100, 32000} {
		for trial := range 4 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			switch trial {
			case 1: // only zeros of either sign at the top
				for i := range x {
					x[i] = -float32(math.Abs(float64(x[i])))
				}
				x[r.IntN(n)], x[r.IntN(n)] = negZero, 0
			case 2:
				x[r.IntN(n)] = float32(math.NaN())
			case 3:
				x[n-1] = 1e30
			}
			want := x[0]
			for _, v := range x[1:] {
				want = max(want, v)
			}
			got := maxOf(x)
			if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
				t.Fatalf("n=%d trial %d: maxOf = %v (%#x), want %v (%#x)", n, trial, got, math.Float32bits(got), want, math.Float32bits(want))
			}
		}
	}
}

// TestCrossEntropyThreads checks that the loss and its gradient do not
// depend on how many goroutines share the rows, masked rows included.
func TestCrossEntropyThreads(t *testing.T) {
	const rows, vocab = 13, 301
	r := rand.New(rand.NewPCG(3, 4))
	logits := make([]float32, rows*vocab)
	for i := range logits {
		logits[i] = float32(r.NormFloat64() * 3)
	}
	targets, weights := make([]int32, rows), make([]float32, rows)
	for i := range targets {
		targets[i], weights[i] = int32(r.IntN(vocab)), 1.0/rows
	}
	weights[4] = 0
	run := func(threads int) (float32, []float32) {
		o := &crossEntropyOp{name: "loss", threads: threads, targets: targets, weights: weights}
		x := tensor.New(tensor.WithShape(rows, vocab), tensor.WithBacking(logits))
		l, err := o.Do(x)
		if err != nil {
			t.Fatal(err)
		}
		g := &crossEntropyGrad{loss: o}
		d, err := g.Do(x, gorgonia.NewF32(1), l)
		if err != nil {
			t.Fatal(err)
		}
		return float32(*l.(*gorgonia.F32)), append([]float32(nil), d.Data().([]float32)...)
	}
	wl, wd := run(1)
	for _, th := range []int{2, 3, 16} {
		l, d := run(th)
		if math.Float32bits(l) != math.Float32bits(wl) {
			t.Fatalf("threads=%d: loss %v, one thread %v", th, l, wl)
		}
		for i := range d {
			if math.Float32bits(d[i]) != math.Float32bits(wd[i]) {
				t.Fatalf("threads=%d: dlogits[%d] = %v, one thread %v", th, i, d[i], wd[i])
			}
		}
	}
}
