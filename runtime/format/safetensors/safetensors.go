// Package safetensors reads and writes Hugging Face safetensors files and
// loads Hugging Face Llama checkpoints (config.json plus one
// model.safetensors or shards listed in model.safetensors.index.json) into
// canonical tensors.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON mapping tensor names to {"dtype", "shape", "data_offsets": [begin,
// end]} (offsets relative to the byte after the header) plus an optional
// "__metadata__" string map, then the tensor bytes, which must be indexed
// entirely and without overlap.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/modelwhisperer/whisperc/runtime/format/internal/mapped"
	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// MaxHeader is the largest JSON header accepted (the safetensors reference
// implementation's limit, 100 MB).
const MaxHeader = 100 << 20

// dtypes maps safetensors dtype names to the ones whisperc reads.
var dtypes = map[string]weights.DType{"F32": weights.F32, "F16": weights.F16, "BF16": weights.BF16}

func dtypeName(d weights.DType) (string, bool) {
	for n, x := range dtypes {
		if x == d {
			return n, true
		}
	}
	return "", false
}

// File is a parsed safetensors file. Tensors alias Data.
type File struct {
	Name     string
	Tensors  []*weights.Tensor // in file order
	Metadata map[string]string
	data     *mapped.File
}

// Close releases the file's mapping.
func (f *File) Close() error { return f.data.Close() }

// OpenFile maps and parses the safetensors file at path.
func OpenFile(path string) (*File, error) {
	m, err := mapped.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := parse(path, m.Data, m)
	if err != nil {
		m.Close()
		return nil, err
	}
	f.data = m
	return f, nil
}

type entry struct {
	DType       string   `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets []uint64 `json:"data_offsets"`
}

// Parse parses a safetensors file held in data; name is used in messages.
// It checks the header length, every dtype, shape and offset, that each
// tensor's byte range matches its shape and that the ranges tile the data
// exactly, and that float tensors hold no NaN or infinity.
func Parse(name string, data []byte) (*File, error) {
	return parse(name, data, mapped.FromBytes(name, data))
}

// parse is Parse of data held by m: the finite-value check reads each
// tensor a slab at a time and releases the slabs it has read from m.
func parse(name string, data []byte, m *mapped.File) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("%s: %d bytes is too short for a safetensors header", name, len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeader || n > uint64(len(data)-8) {
		return nil, fmt.Errorf("%s: header length %d exceeds the %d bytes after it (or the %d-byte limit)", name, n, len(data)-8, MaxHeader)
	}
	hdr := data[8 : 8+n]
	body := data[8+n:]
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: header JSON: %w", name, err)
	}
	f := &File{Name: name, data: m}
	type span struct {
		lo, hi uint64
		name   string
		t      *weights.Tensor
	}
	var spans []span
	for key, msg := range raw {
		if key == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, fmt.Errorf("%s: __metadata__ must map strings to strings: %w", name, err)
			}
			continue
		}
		var e entry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", name, key, err)
		}
		dt, ok := dtypes[e.DType]
		if !ok {
			return nil, fmt.Errorf("%s: tensor %q has dtype %q; whisperc reads F32, F16 and BF16", name, key, e.DType)
		}
		if len(e.DataOffsets) != 2 || e.DataOffsets[0] > e.DataOffsets[1] || e.DataOffsets[1] > uint64(len(body)) {
			return nil, fmt.Errorf("%s: tensor %q has data_offsets %v, outside the %d bytes of tensor data", name, key, e.DataOffsets, len(body))
		}
		if len(e.Shape) > 8 {
			return nil, fmt.Errorf("%s: tensor %q has %d dimensions", name, key, len(e.Shape))
		}
		shape := make([]int, len(e.Shape))
		for i, d := range e.Shape {
			if d < 0 || d > math.MaxInt32 {
				return nil, fmt.Errorf("%s: tensor %q has dimension %d", name, key, d)
			}
			shape[i] = int(d)
		}
		size, err := quant.ByteSize(dt, shape)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", name, key, err)
		}
		lo, hi := e.DataOffsets[0], e.DataOffsets[1]
		if uint64(size) != hi-lo {
			return nil, fmt.Errorf("%s: tensor %q (%s, shape %v) needs %d bytes but data_offsets %v span %d", name, key, e.DType, shape, size, e.DataOffsets, hi-lo)
		}
		t := &weights.Tensor{Name: key, Shape: shape, DType: dt, Data: body[lo:hi:hi]}
		if err := checkFinite(t, m.Release); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		m.Release(t.Data)
		spans = append(spans, span{lo, hi, key, t})
	}
	slices.SortFunc(spans, func(a, b span) int {
		if a.lo != b.lo {
			return cmpU64(a.lo, b.lo)
		}
		return cmpU64(a.hi, b.hi)
	})
	var at uint64
	for _, s := range spans {
		if s.lo != at {
			if s.lo < at {
				return nil, fmt.Errorf("%s: tensor %q (bytes %d..%d) overlaps the tensor before it", name, s.name, s.lo, s.hi)
			}
			return nil, fmt.Errorf("%s: bytes %d..%d of tensor data belong to no tensor", name, at, s.lo)
		}
		at = s.hi
		f.Tensors = append(f.Tensors, s.t)
	}
	if at != uint64(len(body)) {
		return nil, fmt.Errorf("%s: bytes %d..%d of tensor data belong to no tensor", name, at, len(body))
	}
	return f, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// checkFinite reports the first NaN or infinity of a float tensor, naming
// the tensor and the element. It reads the tensor in slabs of at most 8 MiB
// and hands each to release (when not nil) once read, so that checking a
// large mapped tensor never makes all of it resident.
func checkFinite(t *weights.Tensor, release func([]byte)) error {
	switch t.DType {
	case weights.F32:
		return mapped.CheckFiniteF32Releasing(t.Name, t.Data, release)
	case weights.F16, weights.BF16:
		return mapped.CheckFiniteHalf(t.Name, t.Data, t.DType == weights.BF16, release)
	}
	return nil
}

// Write writes tensors (F32, F16 or BF16) as a safetensors file, in the
// order given, with optional metadata.
func Write(w interface{ Write([]byte) (int, error) }, tensors []*weights.Tensor, metadata map[string]string) error {
	hdr := map[string]any{}
	if len(metadata) > 0 {
		hdr["__metadata__"] = metadata
	}
	var off uint64
	for _, t := range tensors {
		dn, ok := dtypeName(t.DType)
		if !ok {
			return fmt.Errorf("safetensors: tensor %q: dtype %v cannot be written", t.Name, t.DType)
		}
		if _, dup := hdr[t.Name]; dup || t.Name == "__metadata__" {
			return fmt.Errorf("safetensors: tensor name %q is used twice or reserved", t.Name)
		}
		size, err := quant.ByteSize(t.DType, t.Shape)
		if err != nil || size != int64(len(t.Data)) {
			return fmt.Errorf("safetensors: tensor %q: %d bytes do not hold shape %v of %v", t.Name, len(t.Data), t.Shape, t.DType)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		hdr[t.Name] = map[string]any{"dtype": dn, "shape": shape, "data_offsets": []uint64{off, off + uint64(size)}}
		off += uint64(size)
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	// Pad the header with spaces to a multiple of 8, as the reference
	// writer does, so that tensor data is aligned.
	if pad := (8 - len(js)%8) % 8; pad > 0 {
		js = append(js, strings.Repeat(" ", pad)...)
	}
	if _, err := w.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(js)))); err != nil {
		return err
	}
	if _, err := w.Write(js); err != nil {
		return err
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}
