package engine

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// TestGradientsMatchFiniteDifferences checks the training graph's
// gradients (every custom op's SymDiff, and Gorgonia's own ops in the
// unfused form) against central finite differences of the loss
// Σ logits∘C, for the input and for one entry of every weight kind,
// with eager attention and with flash2, whose tiled backward pass runs on
// 2×2 tiles here so that a sequence of 5 spans several of them.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	c := arch.Config{Name: "tiny", Family: arch.Llama, Dim: 16, HiddenDim: 24, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 20, MaxSeq: 8, RopeTheta: 10000, NormEps: 1e-5}
	for _, att := range []Attention{AttentionEager, AttentionFlash2} {
		for _, mode := range []Compile{CompileDefault, CompileReduceOverhead} {
			gradientsMatchFiniteDifferences(t, c, att, mode)
		}
	}
}

func gradientsMatchFiniteDifferences(t *testing.T, c arch.Config, att Attention, mode Compile) {
	{
		t.Run(att.String()+"/"+mode.String(), func(t *testing.T) {
			e, err := New(context.Background(), weights.Random(c, 3), Options{Attention: att, KVCache: true, Compile: mode, Quantize: QuantizeNone})
			if err != nil {
				t.Fatal(err)
			}
			e.st.exec.BlockQ, e.st.exec.BlockK = 2, 2
			const T = 5
			tg, err := e.TrainGraph(T)
			if err != nil {
				t.Fatal(err)
			}
			x := tg.Input.Value().Data().([]float32)
			if err := e.Embed(x, []int{1, 7, 3, 19, 7}); err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(5, 6))
			cdata := make([]float32, T*c.Vocab)
			for i := range cdata {
				cdata[i] = float32(r.NormFloat64())
			}
			cn := gorgonia.NewMatrix(tg.Graph, tensor.Float32, gorgonia.WithShape(T, c.Vocab), gorgonia.WithName("C"),
				gorgonia.WithValue(tensor.New(tensor.WithShape(T, c.Vocab), tensor.WithBacking(cdata))))
			loss := gorgonia.Must(gorgonia.Sum(gorgonia.Must(gorgonia.HadamardProd(tg.Logits, cn))))
			names := []string{"layers.0.attention.wq.weight", "layers.0.attention.wk.weight", "layers.1.attention.wv.weight",
				"layers.0.attention.wo.weight", "layers.1.feed_forward.w1.weight", "layers.0.feed_forward.w2.weight",
				"layers.1.feed_forward.w3.weight", "layers.0.attention_norm.weight", "layers.1.ffn_norm.weight", "norm.weight", "output.weight"}
			wrt := gorgonia.Nodes{tg.Input}
			for _, n := range names {
				wrt = append(wrt, tg.Weights[n])
			}
			grads, err := gorgonia.Grad(loss, wrt...)
			if err != nil {
				t.Fatal(err)
			}
			vm := gorgonia.NewTapeMachine(tg.Graph)
			defer vm.Close()
			// Decoding with the same engine must not disturb the training
			// graph's positions.
			for _, toks := range [][]int{{3, 4}, {5}} {
				if _, err := e.Forward(context.Background(), toks); err != nil {
					t.Fatal(err)
				}
			}
			run := func() float64 {
				t.Helper()
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				v := float64(loss.Value().Data().(float32))
				vm.Reset()
				return v
			}
			run()
			got := make([][]float32, len(grads))
			for i, g := range grads {
				got[i] = append([]float32(nil), g.Value().Data().([]float32)...)
			}
			for i, n := range wrt {
				data := n.Value().Data().([]float32)
				for _, idx := range []int{0, len(data) / 3, len(data) - 1} {
					old := data[idx]
					const h = 1e-2
					data[idx] = old + h
					up := run()
					data[idx] = old - h
					down := run()
					data[idx] = old
					fd := (up - down) / (2 * h)
					g := float64(got[i][idx])
					if math.Abs(fd-g) > 2e-2*math.Max(1, math.Abs(fd)) {
						t.Errorf("d loss / d %s[%d]: gradient %.5f, finite difference %.5f", n.Name(), idx, g, fd)
					}
				}
			}
		})
	}
}
