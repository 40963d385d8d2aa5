// Package weights holds a model's tensors as loaded from a file, in one
// canonical naming and layout, whatever the file format was.
//
// Names follow Meta's Llama checkpoint layout, which llama2.c uses too:
//
//	tok_embeddings.weight                 [vocab, dim]
//	layers.N.attention_norm.weight        [dim]
//	layers.N.attention.wq.weight          [heads*head_dim, dim]
//	layers.N.attention.wk.weight          [kv_heads*head_dim, dim]
//	layers.N.attention.wv.weight          [kv_heads*head_dim, dim]
//	layers.N.attention.wo.weight          [dim, heads*head_dim]
//	layers.N.ffn_norm.weight              [dim]
//	layers.N.feed_forward.w1.weight       [hidden, dim]   (gate)
//	layers.N.feed_forward.w2.weight       [dim, hidden]   (down)
//	layers.N.feed_forward.w3.weight       [hidden, dim]   (up)
//	norm.weight                           [dim]
//	output.weight                         [vocab, dim]    (absent when tied)
//
// Shapes are row-major [out, in], so y = W·x. Rotary embeddings use Meta's
// interleaved pair convention (x[2i], x[2i+1]); loaders of Hugging Face
// checkpoints undo HF's q/k permutation so that every loader yields the same
// layout.
package weights

import (
	"fmt"

	"github.com/modelwhisperer/whisperc/planner/arch"
)

// DType is the element type of a tensor's stored data. The zero value is
// invalid.
type DType int

// The stored element types.
const (
	DTypeInvalid DType = iota
	F32
	F16
	BF16
	Q8_0 // GGML: blocks of 32 int8 with one f16 scale (34 bytes)
	Q4_0 // GGML: blocks of 32 4-bit with one f16 scale (18 bytes)
	Q4_K // GGML k-quant, super-blocks of 256 (144 bytes)
	Q6_K // GGML k-quant, super-blocks of 256 (210 bytes)
)

// String returns the dtype's conventional name.
func (d DType) String() string {
	switch d {
	case F32:
		return "f32"
	case F16:
		return "f16"
	case BF16:
		return "bf16"
	case Q8_0:
		return "q8_0"
	case Q4_0:
		return "q4_0"
	case Q4_K:
		return "q4_k"
	case Q6_K:
		return "q6_k"
	}
	return "invalid"
}

// Tensor is one named tensor. Data holds the stored bytes in DType's
// encoding, little-endian; it may alias a memory-mapped file and must be
// treated as read-only.
type Tensor struct {
	Name  string
	Shape []int
	DType DType
	Data  []byte
}

// Elements returns the number of elements of the tensor.
func (t *Tensor) Elements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Set is a loaded model: its architecture and its tensors by canonical name.
type Set struct {
	Config  arch.Config
	Tensors map[string]*Tensor
	// Source describes where the set came from ("llama2c:path" etc.), for
	// messages.
	Source string
	// Close releases the backing memory (an mmap), if any. It may be nil.
	Close func() error
}

// Get returns the named tensor or an error naming what is missing.
func (s *Set) Get(name string) (*Tensor, error) {
	t, ok := s.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("%s: tensor %q is missing", s.Source, name)
	}
	return t, nil
}
