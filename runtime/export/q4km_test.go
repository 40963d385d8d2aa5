package export

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

func TestQ4KMType(t *testing.T) {
	// 32 layers: Q6_K value/down projections in layers 0-3, 28-31 and
	// every third from 4 (6, 9, ...), as llama.cpp's Q4_K_M.
	for _, c := range []struct {
		name  string
		shape []int
		want  weights.DType
		tied  bool
	}{
		{"tok_embeddings.weight", []int{32000, 4096}, weights.Q6_K, true},
		{"output.weight", []int{32000, 4096}, weights.Q6_K, false},
		{"tok_embeddings.weight", []int{32000, 4096}, weights.Q4_K, false},
		{"norm.weight", []int{4096}, weights.F32, false},
		{"layers.0.attention.wv.weight", []int{4096, 4096}, weights.Q6_K, false},
		{"layers.4.attention.wv.weight", []int{4096, 4096}, weights.Q4_K, false},
		{"layers.6.feed_forward.w2.weight", []int{4096, 11008}, weights.Q6_K, false},
		{"layers.7.feed_forward.w2.weight", []int{4096, 11008}, weights.Q4_K, false},
		{"layers.28.feed_forward.w2.weight", []int{4096, 11008}, weights.Q6_K, false},
		{"layers.6.attention.wq.weight", []int{4096, 4096}, weights.Q4_K, false},
		// Rows not a whole super-block: the legacy fallbacks.
		{"output.weight", []int{32000, 288}, weights.Q8_0, false},
		{"layers.5.attention.wq.weight", []int{288, 288}, weights.Q5_0, false},
		{"layers.5.attention.wq.weight", []int{288, 100}, weights.F16, false},
	} {
		if got := q4KMType(c.name, c.shape, 32, c.tied); got != c.want {
			t.Errorf("%s %v: %v, want %v", c.name, c.shape, got, c.want)
		}
	}
}

// engineNLL is our engine's mean negative log-likelihood of ids (each after
// the ones before it) for the GGUF file at path.
func engineNLL(t *testing.T, path string, ids []int) float64 {
	t.Helper()
	ws, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	e, err := engine.New(context.Background(), ws, engine.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for i := 0; i < len(ids)-1; i++ {
		l, err := e.Forward(context.Background(), []int{ids[i]})
		if err != nil {
			t.Fatal(err)
		}
		mx := float64(l[0])
		for _, v := range l {
			mx = max(mx, float64(v))
		}
		var z float64
		for _, v := range l {
			z += math.Exp(float64(v) - mx)
		}
		sum += mx + math.Log(z) - float64(l[ids[i+1]])
	}
	return sum / float64(len(ids)-1)
}

// heldOut is text written for this test (not from the training stories).
const heldOut = "The old boat sat by the river for many days. One morning a small bird landed on it and sang a song. " +
	"A boy named Sam heard the song and walked to the river. He saw the bird and smiled. \"Hello, little bird,\" he said. " +
	"The bird looked at him and flew to a tree. Sam sat in the boat and watched the water go by until the sun went down."

// TestExportQ4_K_M exports stories260K (dim 64: every matrix takes
// llama.cpp's legacy fallbacks) and a random model of dim 256 (real Q4_K and
// Q6_K blocks) in the Q4_K_M mix, has llama.cpp load each, and checks that
// the tensor types are the mix's, that llama.cpp's perplexity on held-out
// text is within 5% of its perplexity on our F16 export of the same weights,
// and that llama.cpp's and our engine's perplexities on the Q4_K_M file agree
// (both decode the same blocks), and general.file_type is 15 (Q4_K_M) as in
// llama.cpp's own file.
func TestExportQ4_K_M(t *testing.T) {
	stories, tok := loadStories(t)
	c := arch.Config{Name: "k256", Family: arch.Llama, Dim: 256, HiddenDim: 768, Layers: 8, Heads: 4, KVHeads: 4, Vocab: tok.VocabSize(), MaxSeq: 256, NormEps: 1e-5, RopeTheta: 10000}
	random := weights.Random(c, 7)
	ids := tok.Encode(heldOut, true, false)
	for _, m := range []struct {
		name string
		ws   *weights.Set
		want map[string]weights.DType
	}{
		{"stories260K", stories, map[string]weights.DType{"tok_embeddings.weight": weights.Q8_0, "layers.0.attention.wq.weight": weights.Q5_0,
			"layers.2.attention.wv.weight": weights.Q8_0, "layers.4.feed_forward.w2.weight": weights.F16, "layers.4.feed_forward.w1.weight": weights.Q5_0, "layers.1.attention.wv.weight": weights.Q5_0}},
		{"random256", random, map[string]weights.DType{"output.weight": weights.Q6_K, "tok_embeddings.weight": weights.Q4_K,
			"layers.0.attention.wv.weight": weights.Q6_K, "layers.1.attention.wv.weight": weights.Q4_K, "layers.3.feed_forward.w2.weight": weights.Q6_K,
			"layers.7.feed_forward.w2.weight": weights.Q6_K, "layers.2.feed_forward.w2.weight": weights.Q4_K, "layers.1.feed_forward.w2.weight": weights.Q4_K}},
	} {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			nll := map[weights.DType]float64{}
			var llamaOwn float64
			var types [2]map[string]weights.DType // ours, llama.cpp's
			for _, dt := range []weights.DType{weights.F32, weights.F16, weights.Q4_K} {
				w, err := Export(m.ws, tokenizer.GGUFVocab(tok), Options{Path: filepath.Join(dir, dt.String()+".gguf"), Name: m.name, DType: dt, Template: chatml(t)})
				if err != nil {
					t.Fatal(err)
				}
				if dt == weights.Q4_K {
					got, err := gguf.Open(w.Model)
					if err != nil {
						t.Fatal(err)
					}
					for name, want := range m.want {
						if g := got.Tensors[name]; g == nil || g.DType != want {
							t.Errorf("%s: %v, want %v", name, g, want)
						}
					}
					got.Close()
					types[0] = tensorTypes(t, w.Model)
					if ft := fileTypeOf(t, w.Model); ft != gguf.FileTypeQ4_K_M {
						t.Errorf("general.file_type %d, want %d (Q4_K_M)", ft, gguf.FileTypeQ4_K_M)
					}
				}
				r := llamaCppRequest(t, map[string]any{"model": w.Model, "prompt": ids[:1], "n": 0, "nll": ids})
				if r.NLL == nil {
					t.Fatal("gguf.mjs printed no nll")
				}
				nll[dt] = *r.NLL
				if dt == weights.F32 {
					// llama.cpp's own Q4_K_M of the same weights.
					own := filepath.Join(dir, "llama-q4_k_m.gguf")
					llamaQuantize(t, w.Model, own, 15)
					r := llamaCppRequest(t, map[string]any{"model": own, "prompt": ids[:1], "n": 0, "nll": ids})
					if r.NLL == nil {
						t.Fatal("gguf.mjs printed no nll")
					}
					llamaOwn = *r.NLL
					types[1] = tensorTypes(t, own)
					if ft := fileTypeOf(t, own); ft != gguf.FileTypeQ4_K_M {
						t.Errorf("llama.cpp's Q4_K_M has general.file_type %d", ft)
					}
				}
				if dt == weights.Q4_K {
					if ours := engineNLL(t, w.Model, ids); math.Abs(ours-*r.NLL) > 0.01*ours {
						t.Errorf("on the Q4_K_M file llama.cpp's mean NLL is %.4f, ours %.4f", *r.NLL, ours)
					}
				}
			}
			// The mix is llama.cpp's, tensor by tensor.
			for name, d := range types[1] {
				if types[0][name] != d {
					t.Errorf("%s: ours %v, llama.cpp's Q4_K_M %v", name, types[0][name], d)
				}
			}
			if len(types[0]) != len(types[1]) {
				t.Errorf("%d tensors, llama.cpp's %d", len(types[0]), len(types[1]))
			}
			pf, pq, pl := math.Exp(nll[weights.F16]), math.Exp(nll[weights.Q4_K]), math.Exp(llamaOwn)
			t.Logf("%s: llama.cpp perplexity on %d held-out tokens: our F16 %.4f, our Q4_K_M %.4f, llama.cpp's Q4_K_M %.4f (ours %+.2f%%)",
				m.name, len(ids)-1, pf, pq, pl, 100*(pq/pl-1))
			if math.Abs(pq/pl-1) > 0.05 {
				t.Errorf("our Q4_K_M perplexity %.4f is not within 5%% of llama.cpp's own Q4_K_M's %.4f", pq, pl)
			}
		})
	}
}

// llamaQuantize writes llama.cpp's own quantisation (llama_ftype ftype) of
// the GGUF file in to out, with runtime/bench/llamacpp/quantize.c built
// against the libllama that node-llama-cpp ships. It skips without a C
// compiler unless WHISPERC_CI or WHISPERC_INTEROP=require is set.
func llamaQuantize(t *testing.T, in, out string, ftype int) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("cc"); err != nil {
		if os.Getenv("WHISPERC_CI") != "" || os.Getenv("WHISPERC_INTEROP") == "require" {
			t.Fatal("llama.cpp checks are required but cc is not installed")
		}
		t.Skip("cc is not installed; set WHISPERC_INTEROP=require to make this a failure")
	}
	lib := filepath.Join(root, "interop/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64")
	bin := filepath.Join(t.TempDir(), "quantize")
	if b, err := exec.Command("cc", "-O1", filepath.Join(root, "runtime/bench/llamacpp/quantize.c"), "-o", bin,
		"-L"+lib, "-l:libllama.v0.4.0.so", "-Wl,-rpath,"+lib).CombinedOutput(); err != nil {
		t.Fatalf("building quantize.c: %v\n%s", err, b)
	}
	if b, err := exec.Command(bin, in, out, strconv.Itoa(ftype)).CombinedOutput(); err != nil {
		t.Fatalf("llama.cpp quantize: %v\n%s", err, b)
	}
}

// tensorTypes returns the dtype of each tensor in the GGUF file at path.
func tensorTypes(t *testing.T, path string) map[string]weights.DType {
	t.Helper()
	ws, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	m := map[string]weights.DType{}
	for name, x := range ws.Tensors {
		m[name] = x.DType
	}
	return m
}

// fileTypeOf reads "general.file_type" from the GGUF file at path.
func fileTypeOf(t *testing.T, path string) uint32 {
	t.Helper()
	f, err := gguf.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ft, ok, _ := arch.GGUFNumber(f.Header.Header.MetadataKV, "general.file_type")
	if !ok {
		t.Fatal("no general.file_type")
	}
	return uint32(ft)
}
