package engine

import (
	"context"
	"math"
	"testing"
)

// TestGroupedProductsMatchSeparate checks that a decode graph whose q/k/v
// and gate/up products run as groups (default mode; mode none builds a
// graph per call and keeps the products apart, with the same unfused
// element-wise ops) gives the logits of the separate products bit for
// bit, on one thread and two, for fp32 and quantised weights; and that
// the groups are really in the decode graphs of the modes that keep them
// (reduce_overhead also fuses element-wise ops, so its bits differ).
func TestGroupedProductsMatchSeparate(t *testing.T) {
	ws, _ := loadStories(t)
	ctx := context.Background()
	prompt := []int{1, 403, 407, 261, 378}
	for _, q := range []Quantize{QuantizeNone, QuantizeQ8_0, QuantizeNF4} {
		for _, threads := range []int{1, 2} {
			var want [][]float32
			for _, mode := range []Compile{CompileNone, CompileDefault, CompileReduceOverhead} {
				o := DefaultOptions()
				o.Quantize, o.Compile, o.Threads = q, mode, threads
				e, err := New(ctx, ws, o)
				if err != nil {
					t.Fatal(err)
				}
				var got [][]float32
				logits, err := e.Forward(ctx, prompt[:2])
				for i := 2; err == nil && i < len(prompt); i++ {
					got = append(got, append([]float32(nil), logits...))
					logits, err = e.Forward(ctx, prompt[i:i+1])
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, logits)
				groups := 0
				if c, ok := e.graphs[graphKey{1, 1}]; ok {
					for _, n := range c.g.AllNodes() {
						if _, ok := n.Op().(*groupedLinear); ok {
							groups++
						}
					}
				}
				if wantGroups := 5 * e.cfg.Layers; mode != CompileNone && groups != wantGroups {
					t.Errorf("%v, %v: the decode graph has %d grouped products, want %d", q, mode, groups, wantGroups)
				}
				if want == nil {
					want = got
					continue
				}
				if mode != CompileDefault {
					continue
				}
				for s := range want {
					for i := range want[s] {
						if math.Float32bits(got[s][i]) != math.Float32bits(want[s][i]) {
							t.Fatalf("%v, %d threads, %v: step %d logit %d = %v, %v with separate products", q, threads, mode, s, i, got[s][i], want[s][i])
						}
					}
				}
			}
		}
	}
}
