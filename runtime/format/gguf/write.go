package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	gguf "github.com/gpustack/gguf-parser-go"

	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// Alignment is the data alignment the writer uses, GGUF's default.
const Alignment = 32

// KV is one metadata entry to write. Value must be one of uint8, int8,
// uint16, int16, uint32, int32, uint64, int64, float32, float64, bool,
// string, or a slice of one of those.
type KV struct {
	Key   string
	Value any
}

// Write writes a version 3 GGUF file with the given metadata and tensors.
// Tensor names are written as given; shapes are row-major (outermost
// first) and are reversed into GGUF's innermost-first order.
func Write(w io.Writer, kvs []KV, tensors []*weights.Tensor) error {
	bw := bufio.NewWriter(w)
	e := &encoder{w: bw}
	e.u32(uint32(gguf.GGUFMagicGGUFLe))
	e.u32(3)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		if err := e.value(kv.Value, true); err != nil {
			return fmt.Errorf("gguf: metadata %s: %w", kv.Key, err)
		}
	}
	var off uint64
	for _, t := range tensors {
		gt, ok := ggmlType(t.DType)
		if !ok {
			return fmt.Errorf("gguf: tensor %q: dtype %v cannot be written", t.Name, t.DType)
		}
		size, err := quant.ByteSize(t.DType, t.Shape)
		if err != nil || size != int64(len(t.Data)) {
			return fmt.Errorf("gguf: tensor %q: %d bytes do not hold shape %v of %v", t.Name, len(t.Data), t.Shape, t.DType)
		}
		e.str(t.Name)
		e.u32(uint32(len(t.Shape)))
		for i := len(t.Shape) - 1; i >= 0; i-- {
			e.u64(uint64(t.Shape[i]))
		}
		e.u32(uint32(gt))
		e.u64(off)
		off += uint64(size)
		off += pad(off)
	}
	e.zeros(pad(e.n))
	for _, t := range tensors {
		e.bytes(t.Data)
		e.zeros(pad(uint64(len(t.Data))))
	}
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}

func pad(n uint64) uint64 { return (Alignment - n%Alignment) % Alignment }

type encoder struct {
	w   *bufio.Writer
	n   uint64
	err error
	buf [8]byte
}

func (e *encoder) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
		e.n += uint64(len(b))
	}
}

func (e *encoder) zeros(n uint64) {
	for ; n > 0; n-- {
		e.bytes([]byte{0})
	}
}

func (e *encoder) u8(v uint8)   { e.bytes([]byte{v}) }
func (e *encoder) u16(v uint16) { binary.LittleEndian.PutUint16(e.buf[:], v); e.bytes(e.buf[:2]) }
func (e *encoder) u32(v uint32) { binary.LittleEndian.PutUint32(e.buf[:], v); e.bytes(e.buf[:4]) }
func (e *encoder) u64(v uint64) { binary.LittleEndian.PutUint64(e.buf[:], v); e.bytes(e.buf[:8]) }
func (e *encoder) str(s string) { e.u64(uint64(len(s))); e.bytes([]byte(s)) }

// value writes v, preceded by its type id when typed is set (array items
// carry no type of their own).
func (e *encoder) value(v any, typed bool) error {
	tag := func(t gguf.GGUFMetadataValueType) {
		if typed {
			e.u32(uint32(t))
		}
	}
	switch v := v.(type) {
	case uint8:
		tag(gguf.GGUFMetadataValueTypeUint8)
		e.u8(v)
	case int8:
		tag(gguf.GGUFMetadataValueTypeInt8)
		e.u8(uint8(v))
	case uint16:
		tag(gguf.GGUFMetadataValueTypeUint16)
		e.u16(v)
	case int16:
		tag(gguf.GGUFMetadataValueTypeInt16)
		e.u16(uint16(v))
	case uint32:
		tag(gguf.GGUFMetadataValueTypeUint32)
		e.u32(v)
	case int32:
		tag(gguf.GGUFMetadataValueTypeInt32)
		e.u32(uint32(v))
	case uint64:
		tag(gguf.GGUFMetadataValueTypeUint64)
		e.u64(v)
	case int64:
		tag(gguf.GGUFMetadataValueTypeInt64)
		e.u64(uint64(v))
	case float32:
		tag(gguf.GGUFMetadataValueTypeFloat32)
		e.u32(math.Float32bits(v))
	case float64:
		tag(gguf.GGUFMetadataValueTypeFloat64)
		e.u64(math.Float64bits(v))
	case bool:
		tag(gguf.GGUFMetadataValueTypeBool)
		if v {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case string:
		tag(gguf.GGUFMetadataValueTypeString)
		e.str(v)
	case []string:
		return writeArray(e, gguf.GGUFMetadataValueTypeString, v, typed)
	case []float32:
		return writeArray(e, gguf.GGUFMetadataValueTypeFloat32, v, typed)
	case []int32:
		return writeArray(e, gguf.GGUFMetadataValueTypeInt32, v, typed)
	case []uint32:
		return writeArray(e, gguf.GGUFMetadataValueTypeUint32, v, typed)
	default:
		return fmt.Errorf("cannot write a %T", v)
	}
	return nil
}

func writeArray[T any](e *encoder, t gguf.GGUFMetadataValueType, vs []T, typed bool) error {
	if typed {
		e.u32(uint32(gguf.GGUFMetadataValueTypeArray))
	}
	e.u32(uint32(t))
	e.u64(uint64(len(vs)))
	for _, v := range vs {
		if err := e.value(any(v), false); err != nil {
			return err
		}
	}
	return nil
}

// WriteSet writes a model as a llama-architecture GGUF file with llama.cpp's
// tensor names and hyperparameter keys, and the vocabulary v when it is not
// nil. Tensors keep their dtype and bytes; canonical layout is already
// llama.cpp's (see Open), so nothing is permuted. "general.file_type" is
// the dtype holding the most matrix elements (see fileType).
func WriteSet(w io.Writer, s *weights.Set, v *Vocab) error {
	return WriteSetFileType(w, s, v, fileType(s))
}

// FileTypeQ4_K_M is llama.cpp's llama_ftype of its Q4_K_M mix.
const FileTypeQ4_K_M = 15

// WriteSetFileType is WriteSet with "general.file_type" given: the ftype a
// mix was asked for, which llama.cpp records even when rows too short for
// super-blocks made most matrices a fallback type.
func WriteSetFileType(w io.Writer, s *weights.Set, v *Vocab, ft uint32) error {
	c := s.Config
	name := c.Name
	if name == "" {
		name = "whisperc"
	}
	kvs := []KV{
		{"general.architecture", "llama"},
		{"general.name", name},
		{"general.alignment", uint32(Alignment)},
		{"llama.context_length", uint32(c.MaxSeq)},
		{"llama.embedding_length", uint32(c.Dim)},
		{"llama.block_count", uint32(c.Layers)},
		{"llama.feed_forward_length", uint32(c.HiddenDim)},
		{"llama.attention.head_count", uint32(c.Heads)},
		{"llama.attention.head_count_kv", uint32(c.KVHeads)},
		{"llama.rope.dimension_count", uint32(c.HeadSize())},
		{"llama.rope.freq_base", float32(c.RopeTheta)},
		{"llama.attention.layer_norm_rms_epsilon", float32(c.NormEps)},
		{"llama.vocab_size", uint32(c.Vocab)},
	}
	if c.HeadDim != 0 && c.HeadDim*c.Heads != c.Dim {
		kvs = append(kvs, KV{"llama.attention.key_length", uint32(c.HeadDim)}, KV{"llama.attention.value_length", uint32(c.HeadDim)})
	}
	kvs = append(kvs, KV{"general.file_type", ft})
	if v != nil {
		kvs = append(kvs, vocabKVs(v)...)
	}
	names := make([]string, 0, len(s.Tensors))
	for n := range s.Tensors {
		names = append(names, n)
	}
	slices.SortFunc(names, compareCanonical)
	ts := make([]*weights.Tensor, 0, len(names))
	for _, n := range names {
		g, err := GGUFName(n)
		if err != nil {
			return fmt.Errorf("gguf: %w", err)
		}
		t := *s.Tensors[n]
		t.Name = g
		ts = append(ts, &t)
	}
	return Write(w, kvs, ts)
}

// compareCanonical orders canonical names the way llama.cpp files list
// tensors: the embedding, then blocks in numeric order, then the rest.
func compareCanonical(a, b string) int {
	rank := func(n string) (int, int, string) {
		if n == "tok_embeddings.weight" {
			return 0, 0, n
		}
		if rest, ok := strings.CutPrefix(n, "layers."); ok {
			num, suffix, _ := strings.Cut(rest, ".")
			k := 0
			for _, ch := range num {
				k = k*10 + int(ch-'0')
			}
			return 1, k, suffix
		}
		return 2, 0, n
	}
	ga, ka, sa := rank(a)
	gb, kb, sb := rank(b)
	if ga != gb {
		return ga - gb
	}
	if ka != kb {
		return ka - kb
	}
	return strings.Compare(sa, sb)
}

// llama.cpp's llama_ftype values for "general.file_type": the type most
// of a file's matrices have.
var fileTypes = map[weights.DType]uint32{
	weights.F32: 0, weights.F16: 1, weights.Q4_0: 2, weights.Q4_1: 3, weights.Q8_0: 7,
	weights.Q5_0: 8, weights.Q5_1: 9, weights.Q4_K: 14, weights.Q5_K: 16, weights.Q6_K: 18, weights.BF16: 32,
}

// fileType returns "general.file_type" for s: the llama_ftype of the
// dtype holding the most matrix elements; a K-quant file with Q6_K
// matrices besides is the "_M" mix (Q4_K_M = 15, Q5_K_M = 17), as
// llama-quantize names them.
func fileType(s *weights.Set) uint32 {
	count := map[weights.DType]int{}
	for _, t := range s.Tensors {
		if len(t.Shape) == 2 {
			count[t.DType] += t.Elements()
		}
	}
	best := weights.F32
	for d, n := range count {
		if n > count[best] || n == count[best] && d < best {
			best = d
		}
	}
	ft := fileTypes[best]
	if (best == weights.Q4_K || best == weights.Q5_K) && count[weights.Q6_K] > 0 {
		ft++
	}
	return ft
}

func vocabKVs(v *Vocab) []KV {
	model := v.Model
	if model == "" {
		model = "llama"
	}
	kvs := []KV{{"tokenizer.ggml.model", model}, {"tokenizer.ggml.tokens", v.Tokens}}
	if len(v.Scores) > 0 {
		kvs = append(kvs, KV{"tokenizer.ggml.scores", v.Scores})
	}
	if len(v.Types) > 0 {
		kvs = append(kvs, KV{"tokenizer.ggml.token_type", v.Types})
	}
	if len(v.Merges) > 0 {
		kvs = append(kvs, KV{"tokenizer.ggml.merges", v.Merges})
	}
	for _, id := range []struct {
		key string
		id  int
	}{{"bos_token_id", v.BOS}, {"eos_token_id", v.EOS}, {"unknown_token_id", v.UNK}, {"padding_token_id", v.PAD}} {
		if id.id >= 0 {
			kvs = append(kvs, KV{"tokenizer.ggml." + id.key, uint32(id.id)})
		}
	}
	kvs = append(kvs, KV{"tokenizer.ggml.add_bos_token", v.AddBOS})
	if v.ChatTemplate != "" {
		kvs = append(kvs, KV{"tokenizer.chat_template", v.ChatTemplate})
	}
	return kvs
}
