package engine

import (
	"fmt"
	"sort"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// AttachAdapters makes every later forward pass add the given LoRA
// adapters to their weights, on the fly: the base weights, quantised or
// not, stay as they are. Adapters' dropout does not apply to inference.
// It drops the compiled graphs.
func (e *Engine) AttachAdapters(adapters map[string]*Adapter) error {
	m := map[string]*Adapter{}
	for name, ad := range adapters {
		rows, cols, ok := e.linearShape(name)
		if !ok {
			return fmt.Errorf("engine: an adapter on %q, which is not a linear weight of the model", name)
		}
		if ad.A.Shape()[1] != cols || ad.B.Shape()[0] != rows || ad.B.Shape()[1] != ad.A.Shape()[0] {
			return fmt.Errorf("engine: the adapter on %s does not fit its weight [%d, %d]", name, rows, cols)
		}
		c := *ad
		c.Dropout = false
		m[name] = &c
	}
	e.adapters = m
	for k, c := range e.graphs {
		c.vm.Close()
		delete(e.graphs, k)
	}
	return nil
}

// inferenceTrain returns the builder's view of the attached adapters, or
// nil.
func (e *Engine) inferenceTrain() *trainBuild {
	if len(e.adapters) == 0 {
		return nil
	}
	return &trainBuild{adapters: e.adapters, trained: map[string]bool{}, masks: map[string]*gorgonia.Node{}, loraNodes: map[string][2]*gorgonia.Node{}}
}

// MergeAdapters adds Scale·B·A into each adapted fp32 weight: the engine
// holds a merged copy, and the weights.Set it was built from keeps the
// base values.
// Quantised weights cannot be merged (attach the adapters instead).
func (e *Engine) MergeAdapters(adapters map[string]*Adapter) error {
	names := make([]string, 0, len(adapters))
	for n := range adapters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, q := e.quant[name]; q {
			return fmt.Errorf("engine: %s is quantised; merging adapters into it would re-quantise it, so attach them instead", name)
		}
	}
	for _, name := range names {
		ad := adapters[name]
		w, ok := e.tensors[name]
		rows, cols, lin := e.linearShape(name)
		if !ok || !lin || ad.A.Shape()[1] != cols || ad.B.Shape()[0] != rows {
			return fmt.Errorf("engine: the adapter on %q does not fit the model", name)
		}
		r := ad.A.Shape()[0]
		// The engine may alias the loaded model's data, which later
		// stages use as the base: merge into a copy.
		wv := append([]float32(nil), w.Float32s()...)
		e.tensors[name] = tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(wv))
		a, b := ad.A.Float32s(), ad.B.Float32s()
		for i := range rows {
			for j := range cols {
				var s float32
				for k := range r {
					s += b[i*r+k] * a[k*cols+j]
				}
				wv[i*cols+j] += ad.Scale * s
			}
		}
	}
	for k, c := range e.graphs {
		c.vm.Close()
		delete(e.graphs, k)
	}
	return nil
}

// WeightNames returns the names of the model's weights, in order; a tied
// classifier is not listed apart from the embeddings.
func (e *Engine) WeightNames() []string {
	var names []string
	for n := range e.tensors {
		if n == "output.weight" && e.cfg.Tied {
			continue
		}
		names = append(names, n)
	}
	for n := range e.quant {
		if _, ok := e.tensors[n]; !ok && !(n == "output.weight" && e.cfg.Tied) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Snapshot returns the model's current fp32 weights as a set that aliases
// them (no copy: a fine-tune's result is a model's worth), for later
// stages to load once training is done. Training the engine further
// changes the set too. Weights stored in bf16 (a bf16 fine-tune's) are BF16
// tensors aliasing their bytes; other quantised weights are refused.
func (e *Engine) Snapshot() (*weights.Set, error) {
	s := &weights.Set{Config: e.cfg, Tensors: map[string]*weights.Tensor{}, Source: "snapshot"}
	for _, n := range e.WeightNames() {
		t, ok := e.tensors[n]
		if q, isQ := e.quant[n]; !ok && isQ && q.Method == kernels.BF16 {
			s.Tensors[n] = &weights.Tensor{Name: n, Shape: []int{q.Rows, q.Cols}, DType: weights.BF16, Data: q.Data}
			continue
		}
		if !ok {
			return nil, fmt.Errorf("engine: %s is quantised and has no fp32 snapshot", n)
		}
		s.Tensors[n] = weights.FromFloat32s(n, t.Shape(), t.Float32s())
	}
	return s, nil
}

// Quantized reports whether any linear weight is stored quantised.
func (e *Engine) Quantized() bool { return len(e.quant) > 0 }
