package weights

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/modelwhisperer/whisperc/planner/arch"
)

// Random returns a Llama model of shape c held in memory, with weights
// drawn uniformly from ±1/sqrt(fan-in) (norm weights near 1) by a PCG
// seeded with seed: the same seed gives the same model. Calibration, the
// benchmarks and the plan-versus-measured tests use it for the 15M/42M/110M
// shapes, whose real weights the project does not ship.
func Random(c arch.Config, seed uint64) *Set {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ws := &Set{Config: c, Tensors: map[string]*Tensor{}, Source: "random:" + c.Name}
	add := func(name string, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]byte, 4*n)
		scale := 1 / math.Sqrt(float64(shape[len(shape)-1]))
		for i := range n {
			v := float32((r.Float64()*2 - 1) * scale)
			if len(shape) == 1 {
				v = float32(1 + 0.1*(r.Float64()*2-1))
			}
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
		}
		ws.Tensors[name] = &Tensor{Name: name, Shape: shape, DType: F32, Data: data}
	}
	hs := c.HeadSize()
	add("tok_embeddings.weight", c.Vocab, c.Dim)
	add("norm.weight", c.Dim)
	if !c.Tied {
		add("output.weight", c.Vocab, c.Dim)
	}
	for l := range c.Layers {
		p := fmt.Sprintf("layers.%d.", l)
		add(p+"attention_norm.weight", c.Dim)
		add(p+"attention.wq.weight", c.Heads*hs, c.Dim)
		add(p+"attention.wk.weight", c.KVHeads*hs, c.Dim)
		add(p+"attention.wv.weight", c.KVHeads*hs, c.Dim)
		add(p+"attention.wo.weight", c.Dim, c.Heads*hs)
		add(p+"ffn_norm.weight", c.Dim)
		add(p+"feed_forward.w1.weight", c.HiddenDim, c.Dim)
		add(p+"feed_forward.w2.weight", c.Dim, c.HiddenDim)
		add(p+"feed_forward.w3.weight", c.HiddenDim, c.Dim)
	}
	return ws
}
