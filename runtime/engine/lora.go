package engine

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Adapter is a LoRA adapter on one linear weight W [out, in]: the layer
// computes x·Wᵀ + Scale·(drop(x)·Aᵀ)·Bᵀ with A [rank, in] and B [out,
// rank]. A and B are the caller's tensors; the graph reads them on every
// run, so updating their values in place trains the adapter.
type Adapter struct {
	A, B *tensor.Dense
	// Scale is alpha/rank (or alpha/√rank for rsLoRA).
	Scale float32
	// Dropout gives the adapter a dropout mask input, [T, in], which the
	// caller fills before each run (TrainStep.Mask).
	Dropout bool
}

// Rank returns the adapter's rank.
func (a *Adapter) Rank() int { return a.A.Shape()[0] }

// adapted adds the base linear layer and its adapter.
func (b *builder) adapted(x *gorgonia.Node, weight, name string, residual *gorgonia.Node, ad *Adapter) *gorgonia.Node {
	y := b.plainLinear(x, weight, name, nil)
	if b.err != nil {
		return nil
	}
	in := x
	if ad.Dropout {
		s := x.Shape()
		mask := gorgonia.NewMatrix(b.g, tensor.Float32, gorgonia.WithShape(s...), gorgonia.WithName(name+".lora_dropout"),
			gorgonia.WithValue(tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(s...))))
		b.train.masks[weight] = mask
		in = b.hadamard(name+".lora_dropout.apply", x, mask)
	}
	an := gorgonia.NewMatrix(b.g, tensor.Float32, gorgonia.WithShape(ad.A.Shape()...), gorgonia.WithName(name+".lora_A"), gorgonia.WithValue(ad.A))
	bn := gorgonia.NewMatrix(b.g, tensor.Float32, gorgonia.WithShape(ad.B.Shape()...), gorgonia.WithName(name+".lora_B"), gorgonia.WithValue(ad.B))
	b.train.loraNodes[weight] = [2]*gorgonia.Node{an, bn}
	exec := b.e.exec
	mulA, mulB := newLinear(name+".lora_A.mul", exec, false, false), newLinear(name+".lora_B.mul", exec, false, false)
	mulA.train, mulB.train = b.training(), b.training()
	h := b.apply(mulA, name+".lora_A.mul", in, an)
	z := b.apply(mulB, name+".lora_B.mul", h, bn)
	y = b.apply(&scaledAddOp{opBase: opBase{name: name + ".lora_add", dims: []int{2, 2, 2}}, scale: ad.Scale}, name+".lora_add", y, z)
	if residual == nil {
		return y
	}
	return b.add(name+".add", residual, y)
}

// scaledAddOp computes Y + s·Z for two matrices of one shape.
type scaledAddOp struct {
	opBase
	scale float32
}

func (o *scaledAddOp) InferShape(ns ...gorgonia.DimSizer) (tensor.Shape, error) {
	a, err := shapeOf(ns, 0)
	if err != nil {
		return nil, err
	}
	return a.Clone(), nil
}

func (o *scaledAddOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	y, s, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	z, _, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	if len(z) != len(y) {
		return nil, fmt.Errorf("engine: %s: %d and %d values", o.name, len(y), len(z))
	}
	out := o.output(s...)
	d := out.Float32s()
	for i := range d {
		d[i] = y[i] + o.scale*z[i]
	}
	return out, nil
}

// DiffWRT reports that the sum is differentiable in both terms.
func (o *scaledAddOp) DiffWRT(n int) []bool { return allTrue(n) }

// SymDiff returns dY = G and dZ = s·G.
func (o *scaledAddOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	scale := o.scale
	dz, err := gorgonia.ApplyOp(newGrad(o.name+".dz", []int{2, 2}, 0, func(dst []float32, v [][]float32, _ []tensor.Shape) error {
		for i, g := range v[0] {
			dst[i] = scale * g
		}
		return nil
	}), grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{grad, dz}, nil
}
