package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"

	st "github.com/nlpodyssey/safetensors"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

func stories(t *testing.T) *weights.Set {
	s, err := llama2c.Open(testmodels.Path(t, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestHFRoundTrip writes stories260K as a Hugging Face checkpoint (single
// file and three shards), reads it back and expects bit-identical canonical
// tensors: the q/k permutation on write and its inverse on read cancel.
func TestHFRoundTrip(t *testing.T) {
	src := stories(t)
	for _, shards := range []int{1, 3} {
		dir := t.TempDir()
		if err := WriteHF(dir, src, shards); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{dir, filepath.Join(dir, map[bool]string{true: SingleName, false: IndexName}[shards == 1])} {
			back, err := OpenHF(path)
			if err != nil {
				t.Fatalf("shards=%d %s: %v", shards, path, err)
			}
			want := src.Config
			want.Name = back.Config.Name
			if back.Config != want {
				t.Errorf("config %+v\nwant %+v", back.Config, want)
			}
			if len(back.Tensors) != len(src.Tensors) {
				t.Errorf("%d tensors, want %d", len(back.Tensors), len(src.Tensors))
			}
			for name, w := range src.Tensors {
				g := back.Tensors[name]
				if g == nil || !bytes.Equal(g.Data, w.Data) {
					t.Errorf("shards=%d: %s differs", shards, name)
				}
			}
			if err := back.Close(); err != nil {
				t.Error(err)
			}
		}
	}
}

// TestIndependentReader reads our file with github.com/nlpodyssey/safetensors
// and checks names, dtypes, shapes and bytes, including the permuted q.
func TestIndependentReader(t *testing.T) {
	src := stories(t)
	dir := t.TempDir()
	if err := WriteHF(dir, src, 1); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, SingleName))
	if err != nil {
		t.Fatal(err)
	}
	f, err := st.Deserialize(raw)
	if err != nil {
		t.Fatalf("independent reader rejects our file: %v", err)
	}
	if f.Len() != len(src.Tensors) {
		t.Errorf("independent reader sees %d tensors, want %d", f.Len(), len(src.Tensors))
	}
	emb, ok := f.Tensor("model.embed_tokens.weight")
	if !ok || emb.DType() != st.F32 || len(emb.Shape()) != 2 || emb.Shape()[0] != 512 || emb.Shape()[1] != 64 ||
		!bytes.Equal(emb.Data(), src.Tensors["tok_embeddings.weight"].Data) {
		t.Error("model.embed_tokens.weight differs")
	}
	k, ok := f.Tensor("model.layers.3.self_attn.k_proj.weight")
	want, _ := PermuteHF(src.Tensors["layers.3.attention.wk.weight"], 4)
	if !ok || !bytes.Equal(k.Data(), want.Data) || bytes.Equal(k.Data(), src.Tensors["layers.3.attention.wk.weight"].Data) {
		t.Error("k_proj is not the permuted wk")
	}
}

// TestPermutationMatchesRotaryConventions checks that PermuteHF is the
// permutation under which Meta's interleaved rotary embedding of W·x equals
// Hugging Face's rotate_half embedding of PermuteHF(W)·x, head by head.
func TestPermutationMatchesRotaryConventions(t *testing.T) {
	const heads, hd, dim = 2, 8, 6
	rows := heads * hd
	w := make([]float32, rows*dim)
	for i := range w {
		w[i] = float32(math.Sin(float64(3*i + 1)))
	}
	x := []float64{0.3, -1.2, 0.5, 2.0, -0.7, 1.1}
	tw := &weights.Tensor{Name: "wq", Shape: []int{rows, dim}, DType: weights.F32, Data: f32bytes(w)}
	hfw, err := PermuteHF(tw, heads)
	if err != nil {
		t.Fatal(err)
	}
	mv := matvec(t, tw, x)
	hv := matvec(t, hfw, x)
	const pos, theta = 7, 10000.0
	freq := func(i int) float64 { return float64(pos) * math.Pow(theta, -float64(2*i)/hd) }
	for h := 0; h < heads; h++ {
		m := mv[h*hd : (h+1)*hd]
		q := hv[h*hd : (h+1)*hd]
		meta := make([]float64, hd)
		for i := 0; i < hd/2; i++ { // interleaved pairs (2i, 2i+1)
			c, s := math.Cos(freq(i)), math.Sin(freq(i))
			meta[2*i] = m[2*i]*c - m[2*i+1]*s
			meta[2*i+1] = m[2*i]*s + m[2*i+1]*c
		}
		hf := make([]float64, hd)
		for i := 0; i < hd/2; i++ { // rotate_half pairs (i, i+hd/2)
			c, s := math.Cos(freq(i)), math.Sin(freq(i))
			hf[i] = q[i]*c - q[i+hd/2]*s
			hf[i+hd/2] = q[i+hd/2]*c + q[i]*s
		}
		for i := 0; i < hd/2; i++ {
			for j := 0; j < 2; j++ {
				if d := math.Abs(meta[2*i+j] - hf[j*hd/2+i]); d > 1e-9 {
					t.Fatalf("head %d: Meta rotary element %d = %v, HF element %d = %v", h, 2*i+j, meta[2*i+j], j*hd/2+i, hf[j*hd/2+i])
				}
			}
		}
	}
	back, _ := UnpermuteHF(hfw, heads)
	if !bytes.Equal(back.Data, tw.Data) {
		t.Error("UnpermuteHF does not invert PermuteHF")
	}
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func matvec(t *testing.T, w *weights.Tensor, x []float64) []float64 {
	vals, err := quant.Dequantize(w)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, w.Shape[0])
	for r := range out {
		for c, xv := range x {
			out[r] += float64(vals[r*len(x)+c]) * xv
		}
	}
	return out
}

func TestDTypes(t *testing.T) {
	vals := []float32{1, -2.5, 0.15625, 3}
	var f16, bf16 []byte
	for _, v := range vals {
		f16 = binary.LittleEndian.AppendUint16(f16, quant.F32ToF16(v))
		bf16 = binary.LittleEndian.AppendUint16(bf16, quant.F32ToBF16(v))
	}
	ts := []*weights.Tensor{
		{Name: "a", Shape: []int{2, 2}, DType: weights.F16, Data: f16},
		{Name: "b", Shape: []int{4}, DType: weights.BF16, Data: bf16},
		{Name: "c", Shape: []int{}, DType: weights.F32, Data: f32bytes([]float32{7})},
	}
	var buf bytes.Buffer
	if err := Write(&buf, ts, nil); err != nil {
		t.Fatal(err)
	}
	if n := binary.LittleEndian.Uint64(buf.Bytes()); n%8 != 0 {
		t.Errorf("header length %d is not padded to 8", n)
	}
	f, err := Parse("d.safetensors", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range f.Tensors {
		if tt.Name != ts[i].Name || tt.DType != ts[i].DType || !bytes.Equal(tt.Data, ts[i].Data) {
			t.Errorf("tensor %d: %+v", i, tt)
		}
	}
	got, _ := quant.Dequantize(f.Tensors[1])
	for i := range vals {
		if got[i] != vals[i] {
			t.Errorf("bf16[%d] = %v, want %v", i, got[i], vals[i])
		}
	}
	ind, err := st.Deserialize(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := ind.Tensor("a"); a.DType() != st.F16 {
		t.Errorf("independent reader: a is %v", a.DType())
	}
}

// header builds a file from a raw JSON header and a body.
func header(js string, body []byte) []byte {
	return append(append(binary.LittleEndian.AppendUint64(nil, uint64(len(js))), js...), body...)
}

func TestBadFiles(t *testing.T) {
	nanBF16 := binary.LittleEndian.AppendUint16(make([]byte, 2), 0x7FC0)
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"huge header length", binary.LittleEndian.AppendUint64(nil, 1<<62), "header length 4611686018427387904 exceeds"},
		{"header past end", binary.LittleEndian.AppendUint64(nil, 10), "exceeds the 0 bytes"},
		{"bad json", header(`{"a":`, nil), "header JSON"},
		{"unknown dtype", header(`{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)), `dtype "I64"`},
		{"offsets past end", header(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 8)), "outside the 8 bytes"},
		{"reversed offsets", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, make([]byte, 8)), "data_offsets [4 0]"},
		{"size mismatch", header(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "needs 12 bytes"},
		{"negative dim", header(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, make([]byte, 8)), "dimension -2"},
		{"absurd dims", header(`{"a":{"dtype":"F32","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,8]}}`, make([]byte, 8)), "overflows"},
		{"overlap", header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "overlaps"},
		{"hole", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "belong to no tensor"},
		{"nan", header(`{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, nanBF16), `"w" holds NaN at element 1`},
		{"bad metadata", header(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
	} {
		_, err := Parse("bad.safetensors", c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.safetensors") {
			t.Errorf("%s: error %v, want the file name and %q", c.name, err, c.want)
		}
	}
}

func TestBadCheckpoints(t *testing.T) {
	src := stories(t)
	for _, c := range []struct {
		name string
		edit func(dir string)
		want string
	}{
		{"no config", func(dir string) { os.Remove(filepath.Join(dir, ConfigName)) }, "needs"},
		{"shard escapes directory", func(dir string) {
			os.WriteFile(filepath.Join(dir, IndexName), []byte(`{"weight_map":{"lm_head.weight":"../x.safetensors"}}`), 0o644)
		}, "not a file name"},
		{"untied without head", func(dir string) {
			cfg, _ := os.ReadFile(filepath.Join(dir, ConfigName))
			var m map[string]any
			json.Unmarshal(cfg, &m)
			m["tie_word_embeddings"] = false
			cfg, _ = json.Marshal(m)
			os.WriteFile(filepath.Join(dir, ConfigName), cfg, 0o644)
		}, "lm_head.weight is missing"},
		{"wrong hidden size", func(dir string) {
			cfg, _ := os.ReadFile(filepath.Join(dir, ConfigName))
			os.WriteFile(filepath.Join(dir, ConfigName), bytes.Replace(cfg, []byte(`"intermediate_size": 172`), []byte(`"intermediate_size": 170`), 1), 0o644)
		}, "hyperparameters imply"},
		{"qwen2", func(dir string) {
			cfg, _ := os.ReadFile(filepath.Join(dir, ConfigName))
			os.WriteFile(filepath.Join(dir, ConfigName), bytes.Replace(cfg, []byte(`"model_type": "llama"`), []byte(`"model_type": "qwen2"`), 1), 0o644)
		}, "biases"},
	} {
		dir := t.TempDir()
		if err := WriteHF(dir, src, 1); err != nil {
			t.Fatal(err)
		}
		c.edit(dir)
		s, err := OpenHF(dir)
		if err == nil {
			s.Close()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, []*weights.Tensor{{Name: "a", Shape: []int{2}, DType: weights.F32, Data: f32bytes([]float32{1, 2})}, {Name: "b", Shape: []int{1}, DType: weights.F16, Data: []byte{0, 0x3C}}}, map[string]string{"format": "pt"})
	f.Add(buf.Bytes())
	f.Add(header(`{"a":{"dtype":"BF16","shape":[1,1],"data_offsets":[0,2]}}`, []byte{0x80, 0x3F}))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		for _, tt := range file.Tensors {
			if _, err := quant.Dequantize(tt); err != nil {
				t.Fatalf("accepted tensor %s does not decode: %v", tt.Name, err)
			}
		}
	})
}

// TestIndexListsMissingTensor checks that an index naming a tensor its
// shard lacks is reported.
func TestIndexListsMissingTensor(t *testing.T) {
	dir := t.TempDir()
	if err := WriteHF(dir, stories(t), 2); err != nil {
		t.Fatal(err)
	}
	ix, _ := os.ReadFile(filepath.Join(dir, IndexName))
	var m map[string]map[string]string
	json.Unmarshal(ix, &m)
	m["weight_map"]["lm_head.weight"] = "model-00001-of-00002.safetensors"
	ix, _ = json.Marshal(m)
	os.WriteFile(filepath.Join(dir, IndexName), ix, 0o644)
	s, err := OpenHF(dir)
	if err == nil {
		s.Close()
	}
	if err == nil || !strings.Contains(err.Error(), `lists tensor "lm_head.weight"`) {
		t.Errorf("error %v", err)
	}
}

// TestLargeTensorFiniteCheckBounded opens a file whose one 96 MiB F32
// tensor holds +Inf near its end: the error names the tensor and the
// element, the check allocates next to nothing (the file is mapped) and
// the process's peak resident set grows by a few 8 MiB slabs, not by the
// tensor (reset through /proc/self/clear_refs, then read from VmHWM).
func TestLargeTensorFiniteCheckBounded(t *testing.T) {
	const n = 24 << 20 // elements
	bad := n - 1000
	path := filepath.Join(t.TempDir(), "big.safetensors")
	hdr := []byte(`{"w":{"dtype":"F32","shape":[` + strconv.Itoa(n) + `],"data_offsets":[0,` + strconv.Itoa(4*n) + `]}}`)
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(hdr)))
	b.Write(hdr)
	body := make([]byte, 4*n)
	binary.LittleEndian.PutUint32(body[4*bad:], math.Float32bits(float32(math.Inf(1))))
	b.Write(body)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	body, b = nil, bytes.Buffer{}
	goruntime.GC()
	var m0, m1 goruntime.MemStats
	goruntime.ReadMemStats(&m0)
	rss := procStatus(t, "VmRSS")
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("cannot reset the peak resident set: %v", err)
	}
	_, err := OpenFile(path)
	goruntime.ReadMemStats(&m1)
	peak := procStatus(t, "VmHWM")
	if err == nil || !strings.Contains(err.Error(), `tensor "w" holds +Inf at element `+strconv.Itoa(bad)) {
		t.Fatalf("got %v, want +Inf at element %d of tensor \"w\"", err, bad)
	}
	if a := m1.TotalAlloc - m0.TotalAlloc; a > 1<<20 {
		t.Errorf("the check allocated %d bytes", a)
	}
	if grew := peak - rss; grew > 32<<20 {
		t.Errorf("the peak resident set grew by %d MiB checking a %d MiB tensor", grew>>20, 4*n>>20)
	}
}

// procStatus returns a size field of /proc/self/status in bytes.
func procStatus(t *testing.T, field string) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == field+":" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
