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
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/stdlib/dtype"
)

// DType is the element type of a tensor's stored data: the one enum of
// number formats, dtype.DType. The zero value is invalid.
type DType = dtype.DType

// The stored element types, by their GGML-style names.
const (
	DTypeInvalid = dtype.Invalid
	F32          = dtype.FP32
	F16          = dtype.FP16
	BF16         = dtype.BF16
	Q8_0         = dtype.Q8_0 // GGML: blocks of 32 int8 with one f16 scale (34 bytes)
	Q4_0         = dtype.Q4_0 // GGML: blocks of 32 4-bit with one f16 scale (18 bytes)
	Q4_K         = dtype.Q4_K // GGML k-quant, super-blocks of 256 (144 bytes)
	Q6_K         = dtype.Q6_K // GGML k-quant, super-blocks of 256 (210 bytes)
	Q4_1         = dtype.Q4_1 // GGML: blocks of 32 4-bit with an f16 scale and min (20 bytes)
	Q5_0         = dtype.Q5_0 // GGML: blocks of 32 5-bit with one f16 scale (22 bytes)
	Q5_1         = dtype.Q5_1 // GGML: blocks of 32 5-bit with an f16 scale and min (24 bytes)
	Q5_K         = dtype.Q5_K // GGML k-quant, super-blocks of 256 (176 bytes)
)

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
	// Release, when not nil, tells the backing mapping that a tensor's Data
	// is not needed in memory for now (a consumer that converted it keeps
	// its own copy); the data stays readable and is read back from the file
	// if touched again. It lowers the resident set, never the contents.
	Release func(data []byte)
}

// ReleaseData calls s.Release on data when the set has one.
func (s *Set) ReleaseData(data []byte) {
	if s.Release != nil {
		s.Release(data)
	}
}

// Get returns the named tensor or an error naming what is missing.
func (s *Set) Get(name string) (*Tensor, error) {
	t, ok := s.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("%s: tensor %q is missing", s.Source, name)
	}
	return t, nil
}

// Float32s returns an F32 tensor's values as a []float32 that aliases Data,
// without copying, when the machine is little-endian and Data is 4-byte
// aligned (always so for a memory-mapped llama2.c, GGUF or safetensors
// file, whose F32 tensors start at multiples of 4). ok is false otherwise;
// callers then decode a copy.
func (t *Tensor) Float32s() (v []float32, ok bool) {
	if t.DType != F32 || len(t.Data)%4 != 0 || !littleEndian {
		return nil, false
	}
	if len(t.Data) == 0 {
		return []float32{}, true
	}
	p := unsafe.Pointer(unsafe.SliceData(t.Data))
	if uintptr(p)%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*float32)(p), len(t.Data)/4), true
}

// FromFloat32s returns an F32 tensor holding v: its Data aliases v without
// copying on a little-endian machine (the byte order of every model file
// format), and is an encoded copy elsewhere. Writers use it to save
// weights that are in memory as []float32 without a second copy.
func FromFloat32s(name string, shape []int, v []float32) *Tensor {
	t := &Tensor{Name: name, Shape: append([]int(nil), shape...), DType: F32}
	switch {
	case len(v) == 0:
		t.Data = []byte{}
	case littleEndian:
		t.Data = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
	default:
		t.Data = make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(x))
		}
	}
	return t
}

// littleEndian reports whether the machine stores the low byte first, the
// byte order of every model file format.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()
