// Package gguf reads and writes llama.cpp's GGUF model files.
//
// Metadata and tensor infos are parsed by github.com/gpustack/gguf-parser-go
// (with its panics on malformed input turned into errors); tensor data and
// the tokenizer's large arrays are read here from the memory-mapped file,
// with every offset and size checked against the file's length before use.
// Tensors of type F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K
// and Q6_K alias the mapping; package quant dequantises them and package
// kernels multiplies with the block formats directly.
//
// Rotary layout: llama.cpp's converter (convert_hf_to_gguf.py) applies the
// inverse of Hugging Face's q/k permutation when it writes llama-architecture
// files, because llama.cpp rotates adjacent pairs (its "normal" RoPE mode).
// The attn_q and attn_k tensors of such files are therefore already in Meta's
// interleaved layout, the canonical one, and are neither permuted on load nor
// on write.
package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"

	gguf "github.com/gpustack/gguf-parser-go"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/format/internal/canon"
	"github.com/modelwhisperer/whisperc/runtime/format/internal/mapped"
	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// File is an opened GGUF file: its parsed header and its mapped bytes.
type File struct {
	Name   string
	Header *gguf.GGUFFile
	data   *mapped.File
}

// OpenFile parses the header of the GGUF file at path and maps the file.
// The caller must Close it (or hand the mapping to a Set from Weights).
func OpenFile(path string) (*File, error) {
	gf, err := arch.ParseGGUFHeader(path)
	if err != nil {
		return nil, err
	}
	if gf.Header.Magic != gguf.GGUFMagicGGUFLe {
		return nil, fmt.Errorf("%s: big-endian GGUF files are not supported", path)
	}
	if len(gf.SplitPaddings) > 1 {
		return nil, fmt.Errorf("%s: split GGUF files (%d parts) are not supported; merge them with llama-gguf-split --merge", path, len(gf.SplitPaddings))
	}
	m, err := mapped.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	return &File{Name: path, Header: gf, data: m}, nil
}

// NewFile wraps a parsed header and the whole file's bytes, for callers that
// already hold them (tests, fuzzing).
func NewFile(name string, gf *gguf.GGUFFile, data []byte) *File {
	return &File{Name: name, Header: gf, data: mapped.FromBytes(name, data)}
}

// Close releases the mapping.
func (f *File) Close() error { return f.data.Close() }

// release drops the mapped pages of data from memory (see mapped.Release).
func (f *File) release(data []byte) { f.data.Release(data) }

// Open reads the llama-architecture GGUF file at path and returns its
// tensors under canonical names. The Set's Close unmaps the file.
func Open(path string) (*weights.Set, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	s, err := f.Weights()
	if err != nil {
		f.Close()
		return nil, err
	}
	s.Close = f.Close
	s.Release = f.release
	return s, nil
}

// ReadVocab reads the tokenizer embedded in the GGUF file at path.
func ReadVocab(path string) (*Vocab, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Vocab()
}

// Weights returns the file's architecture and tensors. Tensors alias the
// file's bytes; the Set's Close is left nil (the File owns the mapping).
func (f *File) Weights() (*weights.Set, error) {
	c, err := arch.FromGGUFFile(f.Header)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	if a, _, _ := arch.GGUFString(f.Header.Header.MetadataKV, "general.architecture"); a != "llama" {
		return nil, fmt.Errorf("%s: architecture %q can be planned but not loaded; the runtime reads llama-architecture GGUF files", f.Name, a)
	}
	data := f.data.Data
	start := f.Header.TensorDataStartOffset
	if start < 0 || start > int64(len(data)) {
		return nil, fmt.Errorf("%s: tensor data would start at byte %d, past the end of the %d-byte file", f.Name, start, len(data))
	}
	align := int64(32)
	if a, ok, _ := arch.GGUFNumber(f.Header.Header.MetadataKV, "general.alignment"); ok && a >= 1 {
		align = int64(a)
	}
	s := &weights.Set{Config: c, Tensors: make(map[string]*weights.Tensor, len(f.Header.TensorInfos)), Source: "gguf:" + f.Name}
	for _, ti := range f.Header.TensorInfos {
		if ignoredNames[ti.Name] {
			continue
		}
		name, err := CanonicalName(ti.Name, c.Layers)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		if _, dup := s.Tensors[name]; dup {
			return nil, fmt.Errorf("%s: tensor %q appears twice", f.Name, ti.Name)
		}
		dt, ok := ggmlTypes[ti.Type]
		if !ok {
			return nil, fmt.Errorf("%s: tensor %q has type %v, which whisperc does not read (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)", f.Name, ti.Name, ti.Type)
		}
		shape := make([]int, len(ti.Dimensions))
		for i, d := range ti.Dimensions {
			if d == 0 || d > math.MaxInt32 {
				return nil, fmt.Errorf("%s: tensor %q has dimension %d", f.Name, ti.Name, d)
			}
			shape[len(shape)-1-i] = int(d)
		}
		size, err := quant.ByteSize(dt, shape)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", f.Name, ti.Name, err)
		}
		if ti.Offset%uint64(align) != 0 {
			return nil, fmt.Errorf("%s: tensor %q starts at data offset %d, not a multiple of the alignment %d", f.Name, ti.Name, ti.Offset, align)
		}
		avail := uint64(int64(len(data)) - start)
		if ti.Offset > avail || uint64(size) > avail-ti.Offset {
			return nil, fmt.Errorf("%s: tensor %q (%v, shape %v, %d bytes at data offset %d) runs past the end of the file (%d bytes of tensor data)", f.Name, ti.Name, dt, shape, size, ti.Offset, avail)
		}
		lo := start + int64(ti.Offset)
		b := data[lo : lo+size : lo+size]
		t := &weights.Tensor{Name: name, Shape: shape, DType: dt, Data: b}
		if err := canon.CheckShape(c, t); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", f.Name, ti.Name, err)
		}
		// The check reads the tensor's pages a slab at a time and lets
		// each go until a consumer needs it, so that opening a file makes
		// neither all of it nor a whole large tensor resident at once (the
		// last release takes the pages the slabs' edges shared).
		if err := checkFinite(t, f.data.Release); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		f.data.Release(b)
		s.Tensors[name] = t
	}
	if err := canon.CheckComplete(s); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	return s, nil
}

// ExpectedShape returns the shape the architecture implies for a canonical
// tensor name, or nil for names it does not know.
func ExpectedShape(c arch.Config, name string) []int { return canon.Shape(c, name) }

// checkFinite reports a NaN or infinity in a tensor, or in a quantised
// tensor's scales, naming the tensor. It reads the tensor in slabs of at
// most 8 MiB and hands each to release (when not nil) once read, so that
// checking a large mapped tensor never makes all of it resident.
func checkFinite(t *weights.Tensor, release func([]byte)) error {
	switch t.DType {
	case weights.F32:
		return mapped.CheckFiniteF32Releasing(t.Name, t.Data, release)
	case weights.F16, weights.BF16:
		return mapped.CheckFiniteHalf(t.Name, t.Data, t.DType == weights.BF16, release)
	}
	// Quantised: the f16 scales are the only place a non-finite value can
	// hide. Check them block by block.
	vals, size, _ := quant.BlockSize(t.DType)
	var scaleAt []int
	switch t.DType {
	case weights.Q8_0, weights.Q4_0, weights.Q5_0:
		scaleAt = []int{0}
	case weights.Q4_1, weights.Q5_1, weights.Q4_K, weights.Q5_K:
		scaleAt = []int{0, 2}
	case weights.Q6_K:
		scaleAt = []int{208}
	}
	return mapped.CheckSlabs(t.Data, size, release, func(slab []byte, first int) error {
		for b := 0; (b+1)*size <= len(slab); b++ {
			for _, at := range scaleAt {
				if binary.LittleEndian.Uint16(slab[b*size+at:])&0x7C00 == 0x7C00 {
					return fmt.Errorf("tensor %q has a non-finite scale in the block of elements %d..%d", t.Name, (first+b)*vals, (first+b+1)*vals-1)
				}
			}
		}
		return nil
	})
}

// ParseBytes parses a GGUF file held in memory (by way of a temporary file,
// since gguf-parser-go reads paths). It is meant for tests and fuzzing.
func ParseBytes(name string, data []byte) (*File, error) {
	tmp, err := os.CreateTemp("", "whisperc-*.gguf")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, werr
	}
	gf, err := arch.ParseGGUFHeader(tmp.Name())
	if err != nil {
		return nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), tmp.Name()+": "))
	}
	if gf.Header.Magic != gguf.GGUFMagicGGUFLe {
		return nil, fmt.Errorf("%s: big-endian GGUF files are not supported", name)
	}
	return NewFile(name, gf, data), nil
}
