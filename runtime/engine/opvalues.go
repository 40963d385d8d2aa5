package engine

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// matrixType is the Gorgonia type of a float32 matrix.
var matrixType = gorgonia.TensorType{Dims: 2, Of: tensor.Float32}

// fnType returns the type of an op taking n matrices to one of result.
func fnType(n int, result hm.Type) hm.Type {
	ts := make([]hm.Type, 0, n+1)
	for i := 0; i < n; i++ {
		ts = append(ts, matrixType)
	}
	ts = append(ts, result)
	return hm.NewFnType(ts...)
}

// matrixData returns the backing data of a float32 matrix value and its
// dimensions; op names the op in errors (a Stringer, formatted only then:
// a decode step calls this a hundred times).
func matrixData(op fmt.Stringer, i int, v gorgonia.Value) ([]float32, int, int, error) {
	t, ok := v.(tensor.Tensor)
	if !ok {
		return nil, 0, 0, fmt.Errorf("%s: input %d is a %T, want a float32 matrix", op, i, v)
	}
	// A transposed or sliced view shares its parent's data in another
	// order; copy it out so the kernels see row-major rows.
	if view, ok := t.(tensor.View); ok && view.IsMaterializable() {
		t = view.Materialize()
	}
	data, ok := float32s(t)
	if !ok {
		return nil, 0, 0, fmt.Errorf("%s: input %d has dtype %v, want float32", op, i, t.Dtype())
	}
	sh := t.Shape()
	if len(sh) != 2 {
		return nil, 0, 0, fmt.Errorf("%s: input %d has shape %v, want a matrix", op, i, sh)
	}
	if !t.IsNativelyAccessible() || len(data) != sh[0]*sh[1] {
		return nil, 0, 0, fmt.Errorf("%s: input %d is not a contiguous %v matrix", op, i, sh)
	}
	return data, sh[0], sh[1], nil
}

// float32s returns t's data when it holds float32s. A dense tensor's are
// read without Data, which boxes the slice in an interface: two
// allocations, and matrixData and outputMatrix run about a hundred times
// a decode step, whose garbage sets how often the collector runs.
func float32s(t tensor.Tensor) ([]float32, bool) {
	if d, ok := t.(*tensor.Dense); ok {
		if d.Dtype() != tensor.Float32 {
			return nil, false
		}
		return d.Float32s(), true
	}
	data, ok := t.Data().([]float32)
	return data, ok
}

// outputMatrix returns prealloc's data when it is a float32 matrix of the
// given shape, or a new matrix.
func outputMatrix(prealloc gorgonia.Value, rows, cols int) (*tensor.Dense, []float32) {
	if d, ok := prealloc.(*tensor.Dense); ok {
		if data, ok := float32s(d); ok && len(data) == rows*cols && d.Shape().Eq(tensor.Shape{rows, cols}) {
			return d, data
		}
	}
	data := make([]float32, rows*cols)
	return tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(data)), data
}

// matrixShape returns the shape of input i of an op during shape inference.
func matrixShape(op string, i int, ds []gorgonia.DimSizer) (tensor.Shape, error) {
	if i >= len(ds) {
		return nil, fmt.Errorf("%s: missing input %d", op, i)
	}
	s, ok := ds[i].(tensor.Shape)
	if !ok {
		var err error
		dims := make(tensor.Shape, 2)
		for k := range dims {
			if dims[k], err = ds[i].DimSize(k); err != nil {
				return nil, fmt.Errorf("%s: input %d: %w", op, i, err)
			}
		}
		s = dims
	}
	if len(s) != 2 {
		return nil, fmt.Errorf("%s: input %d has shape %v, want a matrix", op, i, s)
	}
	return s, nil
}

// hashOf returns the FNV-32a hash of what w writes.
func hashOf(w interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	w.WriteHash(h)
	return h.Sum32()
}
