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

// TestSigmoidOpIsGorgonias checks that sigmoidOp, which the unfused
// SwiGLU uses in place of Gorgonia's Sigmoid, gives Gorgonia's values and
// gradients bit for bit (its forward kernel is vectorised, its backward
// nodes are Gorgonia's own), on inputs that reach both clamps.
func TestSigmoidOpIsGorgonias(t *testing.T) {
	const rows, cols = 7, 37
	r := rand.New(rand.NewPCG(7, 8))
	xs, cs := make([]float32, rows*cols), make([]float32, rows*cols)
	for i := range xs {
		xs[i] = float32(r.NormFloat64() * 6)
		cs[i] = float32(r.NormFloat64())
	}
	xs[3], xs[40], xs[77] = -90, 15.5, 15
	run := func(ours bool) (y, dx []float32) {
		g := gorgonia.NewGraph()
		x := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(rows, cols), gorgonia.WithName("x"),
			gorgonia.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(append([]float32(nil), xs...)))))
		c := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(rows, cols), gorgonia.WithName("c"),
			gorgonia.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(cs))))
		var s *gorgonia.Node
		if ours {
			s = gorgonia.Must(gorgonia.ApplyOpWithName(newSigmoid("sig", true), "sig", x))
		} else {
			s = gorgonia.Must(gorgonia.Sigmoid(x))
		}
		// Gorgonia's backward nodes overwrite σ's value: read it first.
		var sv gorgonia.Value
		gorgonia.Read(s, &sv)
		loss := gorgonia.Must(gorgonia.Sum(gorgonia.Must(gorgonia.HadamardProd(s, c))))
		grads, err := gorgonia.Grad(loss, x)
		if err != nil {
			t.Fatal(err)
		}
		vm := gorgonia.NewTapeMachine(g)
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		return sv.Data().([]float32), append([]float32(nil), grads[0].Value().Data().([]float32)...)
	}
	wy, wdx := run(false)
	gy, gdx := run(true)
	for i := range wy {
		if math.Float32bits(gy[i]) != math.Float32bits(wy[i]) || math.Float32bits(gdx[i]) != math.Float32bits(wdx[i]) {
			t.Fatalf("element %d (x = %v): σ %v, dx %v; Gorgonia's σ %v, dx %v", i, xs[i], gy[i], gdx[i], wy[i], wdx[i])
		}
	}
}
