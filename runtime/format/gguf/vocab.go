package gguf

import (
	"encoding/binary"
	"fmt"
	"math"

	gguf "github.com/gpustack/gguf-parser-go"

	"github.com/modelwhisperer/whisperc/planner/arch"
)

// Vocab returns the tokenizer embedded in the file. The token list, scores,
// token types and merges are read from the mapped bytes at the offsets the
// header parser recorded, so strings keep their exact bytes.
func (f *File) Vocab() (*Vocab, error) {
	kvs := f.Header.Header.MetadataKV
	v := &Vocab{BOS: -1, EOS: -1, UNK: -1, PAD: -1, AddBOS: true}
	model, ok, err := arch.GGUFString(kvs, "tokenizer.ggml.model")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	if !ok {
		return nil, fmt.Errorf("%s: the file embeds no tokenizer (no tokenizer.ggml.model); pass a tokenizer file", f.Name)
	}
	v.Model = model
	r := arrayReader{name: f.Name, data: f.data.Data, v1: f.Header.Header.Version <= gguf.GGUFVersionV1}
	if v.Tokens, err = r.strings(kvs, "tokenizer.ggml.tokens", true); err != nil {
		return nil, err
	}
	if v.Scores, err = r.float32s(kvs, "tokenizer.ggml.scores", len(v.Tokens)); err != nil {
		return nil, err
	}
	if v.Types, err = r.int32s(kvs, "tokenizer.ggml.token_type", len(v.Tokens)); err != nil {
		return nil, err
	}
	if v.Merges, err = r.strings(kvs, "tokenizer.ggml.merges", false); err != nil {
		return nil, err
	}
	for _, id := range []struct {
		key string
		dst *int
	}{{"bos_token_id", &v.BOS}, {"eos_token_id", &v.EOS}, {"unknown_token_id", &v.UNK}, {"padding_token_id", &v.PAD}} {
		x, ok, err := arch.GGUFNumber(kvs, "tokenizer.ggml."+id.key)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		if !ok {
			continue
		}
		if x != math.Trunc(x) || x < 0 || x >= float64(len(v.Tokens)) {
			return nil, fmt.Errorf("%s: tokenizer.ggml.%s is %v, outside the vocabulary of %d tokens", f.Name, id.key, x, len(v.Tokens))
		}
		*id.dst = int(x)
	}
	if v.ChatTemplate, _, err = arch.GGUFString(kvs, "tokenizer.chat_template"); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	if kv, ok := kvs.Get("tokenizer.ggml.add_bos_token"); ok {
		b, isBool := kv.Value.(bool)
		if !isBool {
			return nil, fmt.Errorf("%s: tokenizer.ggml.add_bos_token holds a %v, want a bool", f.Name, kv.ValueType)
		}
		v.AddBOS = b
	}
	return v, nil
}

// arrayReader reads metadata arrays from the file's bytes.
type arrayReader struct {
	name string
	data []byte
	v1   bool // GGUF v1 uses 32-bit lengths
}

// array locates the array under key and checks its element type. It
// returns the offset of the first item and the item count.
func (r arrayReader) array(kvs gguf.GGUFMetadataKVs, key string, want gguf.GGUFMetadataValueType) (off, n uint64, ok bool, err error) {
	kv, found := kvs.Get(key)
	if !found {
		return 0, 0, false, nil
	}
	av, isArr := kv.Value.(gguf.GGUFMetadataKVArrayValue)
	if !isArr {
		return 0, 0, false, fmt.Errorf("%s: metadata %s holds a %v, want an array", r.name, key, kv.ValueType)
	}
	if av.Type != want {
		return 0, 0, false, fmt.Errorf("%s: metadata %s is an array of %v, want %v", r.name, key, av.Type, want)
	}
	off = uint64(av.StartOffset)
	hdr := uint64(12)
	if r.v1 {
		hdr = 8
	}
	if av.StartOffset < 0 || off > uint64(len(r.data)) || uint64(len(r.data))-off < hdr {
		return 0, 0, false, fmt.Errorf("%s: metadata %s: array header at byte %d is outside the file", r.name, key, av.StartOffset)
	}
	if gguf.GGUFMetadataValueType(binary.LittleEndian.Uint32(r.data[off:])) != want {
		return 0, 0, false, fmt.Errorf("%s: metadata %s: array at byte %d does not hold %v", r.name, key, off, want)
	}
	if r.v1 {
		n = uint64(binary.LittleEndian.Uint32(r.data[off+4:]))
	} else {
		n = binary.LittleEndian.Uint64(r.data[off+4:])
	}
	return off + hdr, n, true, nil
}

func (r arrayReader) strings(kvs gguf.GGUFMetadataKVs, key string, required bool) ([]string, error) {
	off, n, ok, err := r.array(kvs, key, gguf.GGUFMetadataValueTypeString)
	if err != nil {
		return nil, err
	}
	if !ok {
		if required {
			return nil, fmt.Errorf("%s: metadata %s is missing", r.name, key)
		}
		return nil, nil
	}
	lenSize := uint64(8)
	if r.v1 {
		lenSize = 4
	}
	// Every string takes at least its length field.
	if n > (uint64(len(r.data))-off)/lenSize {
		return nil, fmt.Errorf("%s: metadata %s claims %d strings, more than the file can hold", r.name, key, n)
	}
	out := make([]string, 0, n)
	for i := uint64(0); i < n; i++ {
		if uint64(len(r.data))-off < lenSize {
			return nil, fmt.Errorf("%s: metadata %s: string %d at byte %d runs past the end of the file", r.name, key, i, off)
		}
		var l uint64
		if r.v1 {
			l = uint64(binary.LittleEndian.Uint32(r.data[off:]))
		} else {
			l = binary.LittleEndian.Uint64(r.data[off:])
		}
		off += lenSize
		if l > uint64(len(r.data))-off {
			return nil, fmt.Errorf("%s: metadata %s: string %d at byte %d has length %d, past the end of the file", r.name, key, i, off-lenSize, l)
		}
		out = append(out, string(r.data[off:off+l]))
		off += l
	}
	return out, nil
}

// fixed reads an array of 4-byte items that must have count items when
// present.
func (r arrayReader) fixed(kvs gguf.GGUFMetadataKVs, key string, t gguf.GGUFMetadataValueType, count int) ([]byte, error) {
	off, n, ok, err := r.array(kvs, key, t)
	if err != nil || !ok {
		return nil, err
	}
	if n != uint64(count) {
		return nil, fmt.Errorf("%s: metadata %s has %d entries for %d tokens", r.name, key, n, count)
	}
	if n > (uint64(len(r.data))-off)/4 {
		return nil, fmt.Errorf("%s: metadata %s runs past the end of the file", r.name, key)
	}
	return r.data[off : off+4*n], nil
}

func (r arrayReader) float32s(kvs gguf.GGUFMetadataKVs, key string, count int) ([]float32, error) {
	b, err := r.fixed(kvs, key, gguf.GGUFMetadataValueTypeFloat32, count)
	if b == nil {
		return nil, err
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		if math.IsNaN(float64(out[i])) {
			return nil, fmt.Errorf("%s: metadata %s: score of token %d is NaN", r.name, key, i)
		}
	}
	return out, nil
}

func (r arrayReader) int32s(kvs gguf.GGUFMetadataKVs, key string, count int) ([]int32, error) {
	b, err := r.fixed(kvs, key, gguf.GGUFMetadataValueTypeInt32, count)
	if b == nil {
		return nil, err
	}
	out := make([]int32, len(b)/4)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}
