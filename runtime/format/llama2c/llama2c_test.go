package llama2c

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// modelPath returns the path of a shared test model, skipping when absent.

func TestOpenStories260K(t *testing.T) {
	s, err := Open(testmodels.Path(t, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := s.Config
	if c.Dim != 64 || c.HiddenDim != 172 || c.Layers != 5 || c.Heads != 8 || c.KVHeads != 4 || c.Vocab != 512 || c.MaxSeq != 512 || !c.Tied || c.HeadSize() != 8 {
		t.Fatalf("config = %+v", c)
	}
	// 1 embedding + 9 per layer + final norm, no classifier (tied).
	if got, want := len(s.Tensors), 1+9*5+1; got != want {
		t.Errorf("%d tensors, want %d", got, want)
	}
	for name, shape := range map[string][]int{
		"tok_embeddings.weight":           {512, 64},
		"layers.4.attention.wk.weight":    {32, 64},
		"layers.0.feed_forward.w2.weight": {64, 172},
		"layers.2.feed_forward.w3.weight": {172, 64},
		"norm.weight":                     {64},
		"layers.3.attention_norm.weight":  {64},
		"layers.1.attention.wo.weight":    {64, 64},
	} {
		tt, err := s.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(tt.Shape, shape) || len(tt.Data) != 4*tt.Elements() {
			t.Errorf("%s: shape %v (%d bytes), want %v", name, tt.Shape, len(tt.Data), shape)
		}
	}
	// The embedding starts right after the 28-byte header: its first value
	// must be the file's bytes 28..32.
	raw, _ := os.ReadFile(testmodels.Path(t, "stories260K.bin"))
	emb := s.Tensors["tok_embeddings.weight"]
	if !bytes.Equal(emb.Data[:4], raw[28:32]) {
		t.Error("embedding does not start at byte 28")
	}
	// The final norm sits just before the two rotary tables (2*512*4 floats).
	norm := s.Tensors["norm.weight"]
	end := len(raw) - 2*512*4*4
	if !bytes.Equal(norm.Data, raw[end-64*4:end]) {
		t.Error("final norm is not read from just before the rotary tables")
	}
}

func TestWriteRoundTrip(t *testing.T) {
	path := testmodels.Path(t, "stories260K.bin")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Decode("stories260K.bin", raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, version := range []int{0, 1} {
		var buf bytes.Buffer
		if err := Write(&buf, s, version); err != nil {
			t.Fatal(err)
		}
		if version == 0 && !bytes.Equal(buf.Bytes()[:len(raw)-2*512*4*4], raw[:len(raw)-2*512*4*4]) {
			t.Error("legacy rewrite differs from the original before the rotary tables")
		}
		back, err := Decode("rewritten", buf.Bytes())
		if err != nil {
			t.Fatalf("version %d: %v", version, err)
		}
		if back.Config != s.Config {
			t.Errorf("version %d: config %+v, want %+v", version, back.Config, s.Config)
		}
		for name, want := range s.Tensors {
			got := back.Tensors[name]
			if got == nil || !bytes.Equal(got.Data, want.Data) {
				t.Errorf("version %d: tensor %s differs", version, name)
			}
		}
	}
}

// TestRopeTableMatchesFile checks the legacy rotary tables we write against
// the ones PyTorch wrote, to within float32 rounding.
func TestRopeTableMatchesFile(t *testing.T) {
	raw, err := os.ReadFile(testmodels.Path(t, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := arch.ParseLlama2cHeader(raw)
	n := 512 * 4
	start := len(raw) - 2*n*4
	for k, imag := range []bool{false, true} {
		tab := ropeTable(h.Config, imag)
		for i, v := range tab {
			f := math.Float32frombits(binary.LittleEndian.Uint32(raw[start+4*(k*n+i):]))
			if math.Abs(float64(f-v)) > 1e-5 {
				t.Fatalf("table %d element %d = %v, file has %v", k, i, v, f)
			}
		}
	}
}

// tinySet builds a small random-ish model for writer and version tests.
func tinySet(tied bool) *weights.Set {
	c := arch.Config{Name: "llama2.c", Family: arch.Llama, Dim: 8, HiddenDim: 16, Layers: 2, Heads: 2, KVHeads: 1, Vocab: 10, MaxSeq: 4, RopeTheta: 10000, NormEps: 1e-5, Tied: tied}
	s := &weights.Set{Config: c, Tensors: map[string]*weights.Tensor{}}
	k := 0
	for _, spec := range append(versionedNorms(c), versionedMatrices(c)...) {
		n := int(spec.elements())
		b := make([]byte, 4*n)
		for i := 0; i < n; i++ {
			k++
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(k%17-8)/8))
		}
		s.Tensors[spec.name] = &weights.Tensor{Name: spec.name, Shape: spec.shape, DType: weights.F32, Data: b}
	}
	return s
}

func TestUntiedAndVersion1(t *testing.T) {
	for _, tied := range []bool{true, false} {
		s := tinySet(tied)
		for _, v := range []int{0, 1} {
			var buf bytes.Buffer
			if err := Write(&buf, s, v); err != nil {
				t.Fatal(err)
			}
			back, err := Decode("tiny", buf.Bytes())
			if err != nil {
				t.Fatalf("tied=%v v%d: %v", tied, v, err)
			}
			if back.Config.Tied != tied || len(back.Tensors) != len(s.Tensors) {
				t.Errorf("tied=%v v%d: tied %v, %d tensors", tied, v, back.Config.Tied, len(back.Tensors))
			}
			_, hasOut := back.Tensors["output.weight"]
			if hasOut == tied {
				t.Errorf("tied=%v v%d: output.weight present=%v", tied, v, hasOut)
			}
		}
	}
}

// writeV2 writes s in llama2.c's version 2 (Q8_0 groups) layout the way
// export.py does: int8 values, then one float32 scale per group.
func writeV2(s *weights.Set, gs int) []byte {
	c := s.Config
	le := binary.LittleEndian
	head := make([]byte, 256)
	le.PutUint32(head, arch.Llama2cMagic)
	le.PutUint32(head[4:], 2)
	for i, v := range []int{c.Dim, c.HiddenDim, c.Layers, c.Heads, c.KVHeads, c.Vocab, c.MaxSeq} {
		le.PutUint32(head[8+4*i:], uint32(v))
	}
	if c.Tied {
		head[36] = 1
	}
	le.PutUint32(head[37:], uint32(gs))
	out := head
	for _, spec := range versionedNorms(c) {
		out = append(out, s.Tensors[spec.name].Data...)
	}
	for _, spec := range versionedMatrices(c) {
		d := s.Tensors[spec.name].Data
		n := len(d) / 4
		var q, sc []byte
		for g := 0; g < n/gs; g++ {
			var amax float32
			for i := g * gs; i < (g+1)*gs; i++ {
				amax = max(amax, float32(math.Abs(float64(math.Float32frombits(le.Uint32(d[4*i:]))))))
			}
			scale := amax / 127
			for i := g * gs; i < (g+1)*gs; i++ {
				v := math.Float32frombits(le.Uint32(d[4*i:]))
				q = append(q, byte(int8(math.Round(float64(v/scale)))))
			}
			sc = le.AppendUint32(sc, math.Float32bits(scale))
		}
		out = append(append(out, q...), sc...)
	}
	return out
}

func TestVersion2(t *testing.T) {
	s := tinySet(false)
	back, err := Decode("v2", writeV2(s, 4))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range s.Tensors {
		got := back.Tensors[name]
		for i := 0; i < len(want.Data)/4; i++ {
			w := math.Float32frombits(binary.LittleEndian.Uint32(want.Data[4*i:]))
			g := math.Float32frombits(binary.LittleEndian.Uint32(got.Data[4*i:]))
			if math.Abs(float64(w-g)) > 1.0/127 {
				t.Fatalf("%s[%d] = %v, want %v", name, i, g, w)
			}
		}
	}
}

func TestBadFiles(t *testing.T) {
	var good bytes.Buffer
	if err := Write(&good, tinySet(true), 0); err != nil {
		t.Fatal(err)
	}
	g := good.Bytes()
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), g...)) }
	put := func(i int, v int32) func([]byte) []byte {
		return func(b []byte) []byte { binary.LittleEndian.PutUint32(b[4*i:], uint32(v)); return b }
	}
	nan := mut(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[28+4*3:], 0x7FC00000); return b })
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "header needs 28"},
		{"short header", g[:20], "header needs 28"},
		{"truncated", g[:len(g)-1], "the file has"},
		{"extra", append(append([]byte(nil), g...), 0, 0, 0, 0), "the file has"},
		{"dim 2^31-1", mut(put(0, math.MaxInt32)), "dim is 2147483647"},
		{"negative layers", mut(put(2, -3)), "n_layers is -3"},
		{"zero heads", mut(put(3, 0)), "n_heads is 0"},
		{"kv heads above heads", mut(put(4, 4)), "n_kv_heads is 4"},
		{"dim not multiple of heads", mut(put(0, 9)), "not a multiple"},
		{"huge vocab", mut(put(5, 1<<30)), "vocab_size"},
		{"nan weight", nan, `"tok_embeddings.weight" holds NaN at element 3`},
		{"bad version", mut(func(b []byte) []byte {
			return append(append(binary.LittleEndian.AppendUint32(nil, arch.Llama2cMagic), 9, 0, 0, 0), make([]byte, 300)...)
		}), "version 9"},
	} {
		_, err := Decode("bad.bin", c.data)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.bin") {
			t.Errorf("%s: error %q does not name the file and say %q", c.name, err, c.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	var good bytes.Buffer
	if err := Write(&good, tinySet(true), 0); err == nil {
		f.Add(good.Bytes())
	}
	f.Add(writeV2(tinySet(false), 4))
	// The real model's first bytes: its header over weights cut short.
	if raw, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "shared", "models", "stories260K.bin")); err == nil {
		f.Add(raw[:4096])
	}
	var v1 bytes.Buffer
	if err := Write(&v1, tinySet(false), 1); err == nil {
		f.Add(v1.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode("fuzz.bin", data)
		if err != nil {
			return
		}
		for name, tt := range s.Tensors {
			if len(tt.Data) != 4*tt.Elements() {
				t.Fatalf("%s: %d bytes for shape %v", name, len(tt.Data), tt.Shape)
			}
		}
	})
}

func BenchmarkOpenStories260K(b *testing.B) {
	p := testmodels.Path(b, "stories260K.bin")
	for b.Loop() {
		s, err := Open(p)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
