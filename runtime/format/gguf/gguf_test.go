package gguf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gguf "github.com/gpustack/gguf-parser-go"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/format/safetensors"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

func smallVocab() *Vocab {
	return &Vocab{Model: "llama", Tokens: []string{"<unk>", "<s>", "</s>", "▁a", " spaced "}, Scores: []float32{0, 0, 0, -1, -2},
		Types: []int32{TokenUnknown, TokenControl, TokenControl, TokenNormal, TokenNormal}, BOS: 1, EOS: 2, UNK: 0, PAD: -1, AddBOS: true}
}

// writeTemp writes b to a file in a test directory and returns its path.
func writeTemp(t testing.TB, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.gguf")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStories260KRoundTrip converts the llama2.c model to GGUF and checks
// the file with gguf-parser-go (an independent reader) and with Open, whose
// tensors must be bit-identical to the llama2.c ones.
func TestStories260KRoundTrip(t *testing.T) {
	src, err := llama2c.Open(testmodels.Path(t, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var buf bytes.Buffer
	if err := WriteSet(&buf, src, smallVocab()); err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, buf.Bytes())

	gf, err := gguf.ParseGGUFFile(path)
	if err != nil {
		t.Fatalf("gguf-parser-go rejects our file: %v", err)
	}
	if got := len(gf.TensorInfos); got != len(src.Tensors) {
		t.Errorf("gguf-parser-go sees %d tensors, want %d", got, len(src.Tensors))
	}
	q, ok := gf.TensorInfos.Get("blk.2.attn_k.weight")
	if !ok || len(q.Dimensions) != 2 || q.Dimensions[0] != 64 || q.Dimensions[1] != 32 || q.Type != gguf.GGMLTypeF32 {
		t.Errorf("blk.2.attn_k.weight = %+v, want dims [64 32] f32", q)
	}
	if kv, ok := gf.Header.MetadataKV.Get("llama.attention.head_count_kv"); !ok || kv.ValueUint32() != 4 {
		t.Errorf("head_count_kv = %v", kv.Value)
	}
	tk, _ := gf.Header.MetadataKV.Get("tokenizer.ggml.tokens")
	if a := tk.ValueArray(); a.Len != 5 || a.ValuesString()[3] != "▁a" {
		t.Errorf("tokens = %+v", a)
	}
	// The independent reader's idea of where tensor data starts and how big
	// it is must agree with the bytes we wrote.
	if int64(gf.Size) != int64(buf.Len()) || gf.TensorDataStartOffset%Alignment != 0 {
		t.Errorf("size %d, data at %d", gf.Size, gf.TensorDataStartOffset)
	}
	ti, _ := gf.TensorInfos.Get("token_embd.weight")
	emb := buf.Bytes()[gf.TensorDataStartOffset+int64(ti.Offset):][:512*64*4]
	if !bytes.Equal(emb, src.Tensors["tok_embeddings.weight"].Data) {
		t.Error("token_embd.weight bytes at gguf-parser-go's offset differ from the llama2.c embedding")
	}

	back, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	wantCfg := src.Config
	wantCfg.Name = back.Config.Name
	if back.Config != wantCfg {
		t.Errorf("config %+v\nwant %+v", back.Config, wantCfg)
	}
	if len(back.Tensors) != len(src.Tensors) {
		t.Errorf("%d tensors, want %d", len(back.Tensors), len(src.Tensors))
	}
	for name, want := range src.Tensors {
		got := back.Tensors[name]
		if got == nil || !bytes.Equal(got.Data, want.Data) || got.DType != want.DType || !equalInts(got.Shape, want.Shape) {
			t.Errorf("tensor %s differs after the round trip", name)
		}
	}
	c, err := arch.FromGGUF(path)
	if err != nil || c != back.Config {
		t.Errorf("arch.FromGGUF = %+v, %v", c, err)
	}

	v, err := ReadVocab(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := smallVocab(); !equalStrings(v.Tokens, want.Tokens) || v.BOS != 1 || v.EOS != 2 || v.Scores[4] != -2 || v.Types[3] != TokenNormal {
		t.Errorf("vocab %+v", v)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// tiny returns a small llama model with F32 tensors.
func tiny() *weights.Set {
	c := arch.Config{Name: "tiny", Family: arch.Llama, Dim: 32, HiddenDim: 64, Layers: 1, Heads: 2, KVHeads: 1, Vocab: 5, MaxSeq: 16, RopeTheta: 10000, NormEps: 1e-5, Tied: false}
	s := &weights.Set{Config: c, Tensors: map[string]*weights.Tensor{}}
	names := []string{"tok_embeddings.weight", "norm.weight", "output.weight"}
	for _, suf := range []string{"attention_norm.weight", "attention.wq.weight", "attention.wk.weight", "attention.wv.weight", "attention.wo.weight", "ffn_norm.weight", "feed_forward.w1.weight", "feed_forward.w2.weight", "feed_forward.w3.weight"} {
		names = append(names, "layers.0."+suf)
	}
	k := 0
	for _, n := range names {
		shape := ExpectedShape(c, n)
		cnt := 1
		for _, d := range shape {
			cnt *= d
		}
		b := make([]byte, 4*cnt)
		for i := 0; i < cnt; i++ {
			k++
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(math.Sin(float64(k)))))
		}
		s.Tensors[n] = &weights.Tensor{Name: n, Shape: shape, DType: weights.F32, Data: b}
	}
	return s
}

// TestQuantisedTensors writes tensors as F16, BF16, Q8_0 and Q4_0 and
// checks that Open returns the same bytes and that they dequantise close
// to the originals.
func TestQuantisedTensors(t *testing.T) {
	s := tiny()
	orig := map[string][]float32{}
	i := 0
	for name, tt := range s.Tensors {
		x, _ := quant.Dequantize(tt)
		orig[name] = x
		if len(tt.Shape) != 2 {
			continue
		}
		var data []byte
		var dt weights.DType
		switch i % 4 {
		case 0:
			dt, data = weights.Q8_0, must(quant.QuantizeQ8_0(x))
		case 1:
			dt, data = weights.Q4_0, must(quant.QuantizeQ4_0(x))
		case 2:
			dt = weights.F16
			for _, v := range x {
				data = binary.LittleEndian.AppendUint16(data, quant.F32ToF16(v))
			}
		case 3:
			dt = weights.BF16
			for _, v := range x {
				data = binary.LittleEndian.AppendUint16(data, quant.F32ToBF16(v))
			}
		}
		i++
		s.Tensors[name] = &weights.Tensor{Name: name, Shape: tt.Shape, DType: dt, Data: data}
	}
	var buf bytes.Buffer
	if err := WriteSet(&buf, s, nil); err != nil {
		t.Fatal(err)
	}
	back, err := Open(writeTemp(t, buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	tol := map[weights.DType]float64{weights.F32: 0, weights.F16: 1e-3, weights.BF16: 8e-3, weights.Q8_0: 1.0 / 127, weights.Q4_0: 1.0 / 7}
	for name, want := range s.Tensors {
		got := back.Tensors[name]
		if got == nil || got.DType != want.DType || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("%s: dtype or bytes differ", name)
		}
		y, err := quant.Dequantize(got)
		if err != nil {
			t.Fatal(err)
		}
		for j, v := range y {
			if d := math.Abs(float64(v - orig[name][j])); d > tol[got.DType] {
				t.Fatalf("%s (%v) [%d] = %v, want %v", name, got.DType, j, v, orig[name][j])
			}
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// build writes s with WriteSet after letting edit change metadata and
// tensors.
func build(t testing.TB, edit func(kvs []KV, ts []*weights.Tensor) ([]KV, []*weights.Tensor)) []byte {
	s := tiny()
	var buf bytes.Buffer
	if err := WriteSet(&buf, s, smallVocab()); err != nil {
		t.Fatal(err)
	}
	if edit == nil {
		return buf.Bytes()
	}
	f, err := ParseBytes("x", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var kvs []KV
	for _, kv := range f.Header.Header.MetadataKV {
		v := kv.Value
		if av, ok := v.(gguf.GGUFMetadataKVArrayValue); ok {
			switch kv.Key {
			case "tokenizer.ggml.tokens":
				v = smallVocab().Tokens
			case "tokenizer.ggml.scores":
				v = smallVocab().Scores
			case "tokenizer.ggml.token_type":
				v = smallVocab().Types
			default:
				t.Fatalf("unexpected array %s %v", kv.Key, av.Type)
			}
		}
		kvs = append(kvs, KV{kv.Key, v})
	}
	ws, err := f.Weights()
	if err != nil {
		t.Fatal(err)
	}
	var ts []*weights.Tensor
	for _, ti := range f.Header.TensorInfos {
		c, _ := CanonicalName(ti.Name, 1)
		tt := *ws.Tensors[c]
		tt.Name = ti.Name
		ts = append(ts, &tt)
	}
	kvs, ts = edit(kvs, ts)
	buf.Reset()
	if err := Write(&buf, kvs, ts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func setKV(key string, v any) func([]KV, []*weights.Tensor) ([]KV, []*weights.Tensor) {
	return func(kvs []KV, ts []*weights.Tensor) ([]KV, []*weights.Tensor) {
		for i := range kvs {
			if kvs[i].Key == key {
				kvs[i].Value = v
			}
		}
		return kvs, ts
	}
}

func editTensor(name string, f func(t *weights.Tensor)) func([]KV, []*weights.Tensor) ([]KV, []*weights.Tensor) {
	return func(kvs []KV, ts []*weights.Tensor) ([]KV, []*weights.Tensor) {
		for _, t := range ts {
			if t.Name == name {
				f(t)
			}
		}
		return kvs, ts
	}
}

func TestBadFiles(t *testing.T) {
	good := build(t, nil)
	if _, err := ParseBytes("good", good); err != nil {
		t.Fatal(err)
	}
	corrupt := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	nan := editTensor("blk.0.ffn_up.weight", func(t *weights.Tensor) {
		d := append([]byte(nil), t.Data...)
		binary.LittleEndian.PutUint32(d[4*7:], math.Float32bits(float32(math.Inf(-1))))
		t.Data = d
	})
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "bad.gguf"},
		{"wrong magic", corrupt(func(b []byte) []byte { copy(b, "GGUX"); return b }), "invalid GGUF format"},
		{"truncated header", good[:100], "bad.gguf"},
		{"truncated data", good[:len(good)-100], "tensor data needs"},
		{"absurd dim", build(t, setKV("llama.embedding_length", uint32(1<<31))), "embedding_length is 2.147483648e+09"},
		{"negative-looking count", build(t, setKV("llama.block_count", int32(-1))), "block_count is -1"},
		{"string hyperparameter", build(t, setKV("llama.block_count", "one")), "want a number"},
		{"wrong architecture", build(t, setKV("general.architecture", "bert")), `architecture "bert" is not supported`},
		{"shape mismatch", build(t, setKV("llama.feed_forward_length", uint32(32))), "hyperparameters imply"},
		{"non-finite weight", build(t, nan), `"layers.0.feed_forward.w3.weight" holds -Inf at element 7`},
		{"alignment zero", build(t, setKV("general.alignment", uint32(0))), "bad.gguf"},
		{"alignment wrong type", build(t, setKV("general.alignment", "x")), "bad.gguf"},
		{"unknown tensor", build(t, editTensor("output.weight", func(t *weights.Tensor) { t.Name = "output.bias" })), `"output.bias" has no canonical name`},
		{"block out of range", build(t, editTensor("blk.0.ffn_up.weight", func(t *weights.Tensor) { t.Name = "blk.7.ffn_up.weight" })), "the model has 1 blocks"},
	} {
		f, err := ParseBytes("bad.gguf", c.data)
		if err == nil {
			_, err = f.Weights()
		}
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.gguf") {
			t.Errorf("%s: error %q does not name the file and say %q", c.name, err, c.want)
		}
	}
}

// TestOffsetPastEnd rewrites one tensor info's offset to lie beyond the file.
func TestOffsetPastEnd(t *testing.T) {
	good := build(t, nil)
	f, err := ParseBytes("x", good)
	if err != nil {
		t.Fatal(err)
	}
	ti := f.Header.TensorInfos[len(f.Header.TensorInfos)-1]
	// The offset is the last 8 bytes of the tensor info.
	at := int(ti.StartOffset) + 8 + len(ti.Name) + 4 + 8*len(ti.Dimensions) + 4
	bad := append([]byte(nil), good...)
	binary.LittleEndian.PutUint64(bad[at:], 1<<40)
	f, err = ParseBytes("far.gguf", bad)
	if err == nil {
		_, err = f.Weights()
	}
	if err == nil || !strings.Contains(err.Error(), "far.gguf") {
		t.Errorf("offset past the end: %v", err)
	}
}

func TestBadVocab(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func([]KV, []*weights.Tensor) ([]KV, []*weights.Tensor)
		want string
	}{
		{"bos outside", setKV("tokenizer.ggml.bos_token_id", uint32(99)), "outside the vocabulary"},
		{"scores short", setKV("tokenizer.ggml.scores", []float32{1, 2}), "has 2 entries for 5 tokens"},
		{"tokens not strings", setKV("tokenizer.ggml.tokens", []int32{1, 2}), "want String"},
		{"no tokenizer", setKV("tokenizer.ggml.model", uint32(1)), "want a string"},
	} {
		f, err := ParseBytes("v.gguf", build(t, c.edit))
		if err == nil {
			_, err = f.Vocab()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestCanonicalNames(t *testing.T) {
	for g, c := range map[string]string{
		"token_embd.weight":         "tok_embeddings.weight",
		"blk.11.attn_output.weight": "layers.11.attention.wo.weight",
		"blk.0.ffn_gate.weight":     "layers.0.feed_forward.w1.weight",
		"blk.3.ffn_down.weight":     "layers.3.feed_forward.w2.weight",
		"blk.3.ffn_up.weight":       "layers.3.feed_forward.w3.weight",
		"output_norm.weight":        "norm.weight",
	} {
		got, err := CanonicalName(g, 12)
		if err != nil || got != c {
			t.Errorf("CanonicalName(%s) = %s, %v; want %s", g, got, err, c)
		}
		back, err := GGUFName(c)
		if err != nil || back != g {
			t.Errorf("GGUFName(%s) = %s, %v; want %s", c, back, err, g)
		}
	}
	for _, bad := range []string{"blk.01.attn_q.weight", "blk.-1.attn_q.weight", "blk.x.attn_q.weight", "blk.12.attn_q.weight", "blk.0.attn_q.bias"} {
		if _, err := CanonicalName(bad, 12); err == nil {
			t.Errorf("CanonicalName(%s): no error", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(build(f, nil))
	var buf bytes.Buffer
	if err := Write(&buf, []KV{{"general.architecture", "llama"}, {"tokenizer.ggml.tokens", []string{"a", "b"}}}, nil); err == nil {
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseBytes("fuzz.gguf", data)
		if err != nil {
			return
		}
		if s, err := file.Weights(); err == nil {
			for _, tt := range s.Tensors {
				if _, err := quant.Dequantize(tt); err != nil {
					t.Fatalf("loaded tensor %s does not dequantise: %v", tt.Name, err)
				}
			}
		}
		_, _ = file.Vocab()
	})
}

// TestKQuantTensors loads a model whose matrices use every GGML block type
// llama.cpp's Q4_K_M, Q5_K_M and Q6_K files contain (rows of 256) and
// checks bytes, dequantisation sizes and non-finite scale detection.
func TestKQuantTensors(t *testing.T) {
	c := arch.Config{Name: "k", Family: arch.Llama, Dim: 256, HiddenDim: 256, Layers: 1, Heads: 2, KVHeads: 2, Vocab: 3, MaxSeq: 8, RopeTheta: 10000, NormEps: 1e-5, Tied: true}
	s := &weights.Set{Config: c, Tensors: map[string]*weights.Tensor{}}
	names := []string{"tok_embeddings.weight", "norm.weight"}
	for _, suf := range []string{"attention_norm.weight", "attention.wq.weight", "attention.wk.weight", "attention.wv.weight", "attention.wo.weight", "ffn_norm.weight", "feed_forward.w1.weight", "feed_forward.w2.weight", "feed_forward.w3.weight"} {
		names = append(names, "layers.0."+suf)
	}
	seed := uint32(1)
	for i, n := range names {
		shape := ExpectedShape(c, n)
		dt := weights.F32
		if len(shape) == 2 {
			dt = []weights.DType{weights.Q4_K, weights.Q6_K, weights.Q5_0, weights.Q5_1, weights.Q4_1, weights.Q5_K, weights.Q8_0, weights.Q4_0}[i%8]
		}
		size, _ := quant.ByteSize(dt, shape)
		data := make([]byte, size)
		for j := range data {
			seed = seed*1664525 + 1013904223
			data[j] = byte(seed >> 24)
		}
		_, bs, _ := quant.BlockSize(dt)
		for b := 0; b < len(data)/bs; b++ {
			switch dt {
			case weights.F32:
				binary.LittleEndian.PutUint32(data[4*b:], math.Float32bits(1))
			case weights.Q4_K, weights.Q5_K, weights.Q4_1, weights.Q5_1:
				binary.LittleEndian.PutUint16(data[b*bs:], 0x2C00)   // d
				binary.LittleEndian.PutUint16(data[b*bs+2:], 0x2000) // dmin or m
			case weights.Q5_0, weights.Q8_0, weights.Q4_0:
				binary.LittleEndian.PutUint16(data[b*bs:], 0x2C00)
			case weights.Q6_K:
				binary.LittleEndian.PutUint16(data[b*bs+208:], 0x2C00)
			}
		}
		s.Tensors[n] = &weights.Tensor{Name: n, Shape: shape, DType: dt, Data: data}
	}
	var buf bytes.Buffer
	if err := WriteSet(&buf, s, nil); err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, buf.Bytes())
	back, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	// Q4_K holds the most matrix elements and Q6_K is there too: llama.cpp
	// calls that mix Q4_K_M (llama_ftype 15).
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ft, ok, _ := arch.GGUFNumber(f.Header.Header.MetadataKV, "general.file_type")
	f.Close()
	if !ok || ft != 15 {
		t.Errorf("general.file_type = %v (present %v), want 15 (Q4_K_M)", ft, ok)
	}
	for n, want := range s.Tensors {
		got := back.Tensors[n]
		if got == nil || got.DType != want.DType || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("%s differs", n)
		}
		y, err := quant.Dequantize(got)
		if err != nil || len(y) != got.Elements() {
			t.Fatalf("%s: %v", n, err)
		}
	}
	// A NaN super-block scale in a Q6_K tensor is reported by name.
	var wk *weights.Tensor
	for _, tt := range s.Tensors {
		if tt.DType == weights.Q6_K {
			wk = tt
		}
	}
	bad := append([]byte(nil), wk.Data...)
	binary.LittleEndian.PutUint16(bad[210+208:], 0x7E00)
	wk.Data = bad
	buf.Reset()
	if err := WriteSet(&buf, s, nil); err != nil {
		t.Fatal(err)
	}
	_, err = Open(writeTemp(t, buf.Bytes()))
	if err == nil || !strings.Contains(err.Error(), `"`+wk.Name+`" has a non-finite scale in the block of elements 256..511`) {
		t.Errorf("NaN scale: %v", err)
	}
}

// TestSplitFilesRefused checks that a file named like a shard of a split
// model, whose siblings gguf-parser-go would read too, is refused instead
// of being read with the wrong offsets.
func TestSplitFilesRefused(t *testing.T) {
	dir := t.TempDir()
	good := build(t, nil)
	for i := 1; i <= 2; i++ {
		if err := os.WriteFile(filepath.Join(dir, "m-0000"+string(rune('0'+i))+"-of-00002.gguf"), good, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Open(filepath.Join(dir, "m-00001-of-00002.gguf"))
	if err == nil || !strings.Contains(err.Error(), "split GGUF files (2 parts)") {
		t.Errorf("split file: %v", err)
	}
}

// llamaCppPermute reorders rows the way llama.cpp's convert_hf_to_gguf.py
// permutes attn_q/attn_k of llama models: reshape the rows to
// (n_head, 2, head_dim/2), swap the last two axes, flatten.
func llamaCppPermute(t *weights.Tensor, nHead int) *weights.Tensor {
	rows := t.Shape[0]
	rb := len(t.Data) / rows
	hd := rows / nHead
	out := make([]byte, len(t.Data))
	for h := 0; h < nHead; h++ {
		for i := 0; i < hd/2; i++ {
			for j := 0; j < 2; j++ {
				dst := h*hd + i*2 + j    // index (h, i, j) after swapaxes
				src := h*hd + j*hd/2 + i // index (h, j, i) before
				copy(out[dst*rb:(dst+1)*rb], t.Data[src*rb:(src+1)*rb])
			}
		}
	}
	return &weights.Tensor{Name: t.Name, Shape: t.Shape, DType: t.DType, Data: out}
}

// TestLlamaCppConverterYieldsMetaLayout checks the claim in the package
// comment: a Hugging Face q/k projection (Meta's rows permuted by
// transformers' converter) permuted again by llama.cpp's converter is
// Meta's original, so GGUF llama tensors need no permutation.
func TestLlamaCppConverterYieldsMetaLayout(t *testing.T) {
	s := tiny()
	for _, c := range []struct {
		name  string
		heads int
	}{{"layers.0.attention.wq.weight", s.Config.Heads}, {"layers.0.attention.wk.weight", s.Config.KVHeads}} {
		meta := s.Tensors[c.name]
		hf, err := safetensors.PermuteHF(meta, c.heads)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(hf.Data, meta.Data) {
			t.Fatalf("%s: the HF permutation is the identity here; the test proves nothing", c.name)
		}
		if got := llamaCppPermute(hf, c.heads); !bytes.Equal(got.Data, meta.Data) {
			t.Errorf("%s: llama.cpp's permutation of the HF tensor is not Meta's layout", c.name)
		}
	}
}

// TestVersion2 reads a file whose header says GGUF version 2, which shares
// version 3's little-endian layout.
func TestVersion2(t *testing.T) {
	data := build(t, nil)
	binary.LittleEndian.PutUint32(data[4:], 2)
	f, err := ParseBytes("v2.gguf", data)
	if err != nil {
		t.Fatal(err)
	}
	if f.Header.Header.Version != gguf.GGUFVersionV2 {
		t.Fatalf("version %v", f.Header.Header.Version)
	}
	if _, err := f.Weights(); err != nil {
		t.Fatal(err)
	}
	v, err := f.Vocab()
	if err != nil || v.Tokens[4] != " spaced " {
		t.Errorf("vocab %v, %v", v, err)
	}
}

// TestPlannableButNotLoadable checks that a qwen2 file, which the planner
// reads, is refused by the loader with a message saying so.
func TestPlannableButNotLoadable(t *testing.T) {
	data := build(t, func(kvs []KV, ts []*weights.Tensor) ([]KV, []*weights.Tensor) {
		for i := range kvs {
			if rest, ok := strings.CutPrefix(kvs[i].Key, "llama."); ok {
				kvs[i].Key = "qwen2." + rest
			}
			if kvs[i].Key == "general.architecture" {
				kvs[i].Value = "qwen2"
			}
		}
		return kvs, ts
	})
	f, err := ParseBytes("q.gguf", data)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := arch.FromGGUFFile(f.Header); err != nil || !c.QKVBias {
		t.Fatalf("planner view: %+v %v", c, err)
	}
	if _, err := f.Weights(); err == nil || !strings.Contains(err.Error(), `architecture "qwen2" can be planned but not loaded`) {
		t.Errorf("loader: %v", err)
	}
}

// TestFileType checks "general.file_type" for uniform files.
func TestFileType(t *testing.T) {
	for d, want := range map[weights.DType]uint32{weights.F32: 0, weights.F16: 1, weights.Q8_0: 7, weights.Q4_0: 2, weights.Q6_K: 18} {
		s := &weights.Set{Tensors: map[string]*weights.Tensor{
			"a": {Shape: []int{4, 256}, DType: d}, "b": {Shape: []int{256}, DType: weights.F32},
		}}
		if got := fileType(s); got != want {
			t.Errorf("%v: file type %d, want %d", d, got, want)
		}
	}
}

// TestFiniteCheckInSlabs checks large F16, BF16 and Q8_0 tensors with a
// bad value near their end: the error names the tensor and the element
// (or block), and the check hands the tensor to release in slabs of at
// most 8 MiB, every slab before the bad one, so that a mapped tensor is
// never resident all at once.
func TestFiniteCheckInSlabs(t *testing.T) {
	const blocks = 600_000 // Q8_0: 20 MB; F16/BF16: 19.2M elements, 38 MB
	for _, c := range []struct {
		dt   weights.DType
		size int // bytes per element or block
		put  func(d []byte, i int)
		want string
	}{
		{weights.F16, 2, func(d []byte, i int) { binary.LittleEndian.PutUint16(d[2*i:], 0x7E00) }, "holds NaN at element %d"},
		{weights.BF16, 2, func(d []byte, i int) { binary.LittleEndian.PutUint16(d[2*i:], 0xFF80) }, "holds -Inf at element %d"},
		{weights.Q8_0, 34, func(d []byte, i int) { binary.LittleEndian.PutUint16(d[34*(i/32):], 0x7C00) }, "non-finite scale in the block of elements %d"},
	} {
		n := blocks * 32
		data := make([]byte, n/32*34)
		if c.dt != weights.Q8_0 {
			data = make([]byte, 2*n)
		}
		bad := n - 33*32 // in the last slab, at a block's start
		c.put(data, bad)
		released, biggest := 0, 0
		release := func(b []byte) {
			if &b[0] != &data[released] {
				t.Errorf("%v: release out of order at offset %d", c.dt, released)
			}
			released += len(b)
			biggest = max(biggest, len(b))
		}
		err := checkFinite(&weights.Tensor{Name: "w", Shape: []int{n}, DType: c.dt, Data: data}, release)
		if want := fmt.Sprintf(c.want, bad); err == nil || !strings.Contains(err.Error(), `"w" `) || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: got %v, want %q", c.dt, err, want)
		}
		if biggest > 8<<20 || released < len(data)-(8<<20) || released == 0 {
			t.Errorf("%v: released %d of %d bytes before the bad value, in slabs up to %d bytes", c.dt, released, len(data), biggest)
		}
	}
}
