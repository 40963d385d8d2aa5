// Package llama2c reads and writes the checkpoint files of Andrej Karpathy's
// llama2.c: the legacy format (seven int32s, then float32 weights) and the
// versioned exports ("ak42" magic, 256-byte header; version 1 holds float32
// weights, version 2 holds int8 groups with float32 scales).
//
// Loaded float32 tensors alias the memory-mapped file. Version 2 weights are
// dequantised to float32 on load, exactly as llama2.c's runq does.
package llama2c

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/format/internal/mapped"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// Open memory-maps the llama2.c checkpoint at path and returns its tensors
// under their canonical names. The caller must call the Set's Close.
func Open(path string) (*weights.Set, error) {
	f, err := mapped.Open(path)
	if err != nil {
		return nil, fmt.Errorf("llama2c: %w", err)
	}
	s, err := decode(f.Name, f.Data, f.Release)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.Close = f.Close
	s.Release = f.Release
	return s, nil
}

// Decode reads a llama2.c checkpoint held in data; name is used in messages.
// Float32 tensors alias data.
func Decode(name string, data []byte) (*weights.Set, error) {
	return decode(name, data, nil)
}

// tensorSpec is one tensor in file order.
type tensorSpec struct {
	name  string
	shape []int
}

func (t tensorSpec) elements() int64 {
	n := int64(1)
	for _, d := range t.shape {
		n *= int64(d)
	}
	return n
}

func perLayer(c arch.Config, format string, shape ...int) []tensorSpec {
	out := make([]tensorSpec, c.Layers)
	for l := range out {
		out[l] = tensorSpec{fmt.Sprintf(format, l), shape}
	}
	return out
}

// legacyOrder lists the tensors of a legacy file in file order, with the
// rotary tables llama2.c's legacy files carry named "" (skipped).
func legacyOrder(c arch.Config) []tensorSpec {
	kvDim := c.KVHeads * c.HeadSize()
	var ts []tensorSpec
	ts = append(ts, tensorSpec{"tok_embeddings.weight", []int{c.Vocab, c.Dim}})
	ts = append(ts, perLayer(c, "layers.%d.attention_norm.weight", c.Dim)...)
	ts = append(ts, perLayer(c, "layers.%d.attention.wq.weight", c.Dim, c.Dim)...)
	ts = append(ts, perLayer(c, "layers.%d.attention.wk.weight", kvDim, c.Dim)...)
	ts = append(ts, perLayer(c, "layers.%d.attention.wv.weight", kvDim, c.Dim)...)
	ts = append(ts, perLayer(c, "layers.%d.attention.wo.weight", c.Dim, c.Dim)...)
	ts = append(ts, perLayer(c, "layers.%d.ffn_norm.weight", c.Dim)...)
	ts = append(ts, perLayer(c, "layers.%d.feed_forward.w1.weight", c.HiddenDim, c.Dim)...)
	ts = append(ts, perLayer(c, "layers.%d.feed_forward.w2.weight", c.Dim, c.HiddenDim)...)
	ts = append(ts, perLayer(c, "layers.%d.feed_forward.w3.weight", c.HiddenDim, c.Dim)...)
	ts = append(ts, tensorSpec{"norm.weight", []int{c.Dim}})
	ts = append(ts, tensorSpec{"", []int{c.MaxSeq, c.HeadSize() / 2}}, tensorSpec{"", []int{c.MaxSeq, c.HeadSize() / 2}})
	if !c.Tied {
		ts = append(ts, tensorSpec{"output.weight", []int{c.Vocab, c.Dim}})
	}
	return ts
}

// versionedNorms lists the float32 norm weights that open versioned files.
func versionedNorms(c arch.Config) []tensorSpec {
	var ts []tensorSpec
	ts = append(ts, perLayer(c, "layers.%d.attention_norm.weight", c.Dim)...)
	ts = append(ts, perLayer(c, "layers.%d.ffn_norm.weight", c.Dim)...)
	return append(ts, tensorSpec{"norm.weight", []int{c.Dim}})
}

// versionedMatrices lists the matrices of versioned files, in file order.
func versionedMatrices(c arch.Config) []tensorSpec {
	kvDim := c.KVHeads * c.HeadSize()
	var ts []tensorSpec
	ts = append(ts, tensorSpec{"tok_embeddings.weight", []int{c.Vocab, c.Dim}})
	ts = append(ts, perLayer(c, "layers.%d.attention.wq.weight", c.Dim, c.Dim)...)
	ts = append(ts, perLayer(c, "layers.%d.attention.wk.weight", kvDim, c.Dim)...)
	ts = append(ts, perLayer(c, "layers.%d.attention.wv.weight", kvDim, c.Dim)...)
	ts = append(ts, perLayer(c, "layers.%d.attention.wo.weight", c.Dim, c.Dim)...)
	ts = append(ts, perLayer(c, "layers.%d.feed_forward.w1.weight", c.HiddenDim, c.Dim)...)
	ts = append(ts, perLayer(c, "layers.%d.feed_forward.w2.weight", c.Dim, c.HiddenDim)...)
	ts = append(ts, perLayer(c, "layers.%d.feed_forward.w3.weight", c.HiddenDim, c.Dim)...)
	if !c.Tied {
		ts = append(ts, tensorSpec{"output.weight", []int{c.Vocab, c.Dim}})
	}
	return ts
}

// decode reads the checkpoint in data. release, when not nil, drops the
// mapped pages of each fp32 tensor from memory, a slab at a time, as its
// finite-value check reads them, so that opening a file does not make all of it resident
// at once; consumers fault back in only what they use.
func decode(name string, data []byte, release func([]byte)) (*weights.Set, error) {
	h, err := arch.ParseLlama2cHeader(data[:min(len(data), arch.Llama2cHeaderMax)])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := h.Config
	s := &weights.Set{Config: c, Tensors: map[string]*weights.Tensor{}, Source: "llama2c:" + name}

	// Count the bytes the header promises before touching any of them, so
	// that a lying header is reported instead of sliced past the end.
	var specs []tensorSpec
	var need int64
	switch h.Version {
	case 0, 1:
		if h.Version == 0 {
			specs = legacyOrder(c)
		} else {
			specs = append(versionedNorms(c), versionedMatrices(c)...)
		}
		for _, t := range specs {
			need += 4 * t.elements()
		}
	case 2:
		for _, t := range versionedNorms(c) {
			need += 4 * t.elements()
		}
		for _, t := range versionedMatrices(c) {
			n := t.elements()
			if n%int64(h.GroupSize) != 0 {
				return nil, fmt.Errorf("%s: tensor %q has %d elements, not a multiple of group size %d", name, t.name, n, h.GroupSize)
			}
			need += n + 4*(n/int64(h.GroupSize))
		}
	}
	have := int64(len(data) - h.Size)
	if need != have {
		return nil, fmt.Errorf("%s: llama2.c header (dim %d, hidden %d, %d layers, %d heads, %d kv heads, vocab %d, seq %d) needs %d bytes of weights, the file has %d",
			name, c.Dim, c.HiddenDim, c.Layers, c.Heads, c.KVHeads, c.Vocab, c.MaxSeq, need, have)
	}

	off := int64(h.Size)
	take := func(t tensorSpec) error {
		n := 4 * t.elements()
		b := data[off : off+n : off+n]
		off += n
		if t.name == "" {
			return nil
		}
		if err := mapped.CheckFiniteF32Releasing(t.name, b, release); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		s.Tensors[t.name] = &weights.Tensor{Name: t.name, Shape: t.shape, DType: weights.F32, Data: b}
		return nil
	}
	if h.Version != 2 {
		for _, t := range specs {
			if err := take(t); err != nil {
				return nil, err
			}
		}
		return s, nil
	}
	for _, t := range versionedNorms(c) {
		if err := take(t); err != nil {
			return nil, err
		}
	}
	gs := int64(h.GroupSize)
	for _, t := range versionedMatrices(c) {
		n := t.elements()
		q := data[off : off+n]
		sc := data[off+n : off+n+4*(n/gs)]
		off += n + 4*(n/gs)
		out := make([]byte, 4*n)
		for i := int64(0); i < n; i++ {
			scale := math.Float32frombits(binary.LittleEndian.Uint32(sc[4*(i/gs):]))
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(float32(int8(q[i]))*scale))
		}
		if err := mapped.CheckFiniteF32(t.name, out); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		s.Tensors[t.name] = &weights.Tensor{Name: t.name, Shape: t.shape, DType: weights.F32, Data: out}
	}
	return s, nil
}
