package engine

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// TestStoredBlockFormatsRunQuantised loads stories260K re-encoded as GGUF
// Q8_0 and Q4_0 would store it and checks that the engine keeps those
// matrices in their block format (weight bytes = the stored bytes, no fp32
// copy) and computes the logits of the dequantised model.
func TestStoredBlockFormatsRunQuantised(t *testing.T) {
	ws, _ := loadStories(t)
	ctx := context.Background()
	prompt := []int{1, 400, 30, 260, 7}
	logits := func(s *weights.Set, o Options) ([]float32, *Engine) {
		t.Helper()
		e, err := New(ctx, s, o)
		if err != nil {
			t.Fatal(err)
		}
		l, err := e.Forward(ctx, prompt)
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), l...), e
	}
	for _, d := range []weights.DType{weights.Q8_0, weights.Q4_0} {
		stored, err := gguf.ConvertSet(ws, d)
		if err != nil {
			t.Fatal(err)
		}
		var storedBytes int64
		blocks := 0
		for _, tt := range stored.Tensors {
			storedBytes += int64(len(tt.Data))
			if tt.DType == d {
				blocks++
			}
		}
		// The same model with every tensor decoded to fp32.
		dense := &weights.Set{Config: stored.Config, Tensors: map[string]*weights.Tensor{}, Source: "dense"}
		for name, tt := range stored.Tensors {
			c, err := quant.Convert(tt, weights.F32)
			if err != nil {
				t.Fatal(err)
			}
			dense.Tensors[name] = c
		}
		o := DefaultOptions()
		o.Compile = CompileReduceOverhead
		want, _ := logits(dense, o)
		got, e := logits(stored, o)
		if len(e.quant) != blocks || e.embQ == nil {
			t.Errorf("%v: %d matrices held quantised (embeddings %v), want all %d stored so", d, len(e.quant), e.embQ != nil, blocks)
		}
		if e.WeightBytes() != storedBytes {
			t.Errorf("%v: engine holds %d weight bytes, the file stores %d", d, e.WeightBytes(), storedBytes)
		}
		var maxd, maxw float64
		for i := range want {
			maxd = max(maxd, math.Abs(float64(got[i]-want[i])))
			maxw = max(maxw, math.Abs(float64(want[i])))
		}
		// The integer-dot kernels round each product's activation to 8 bits
		// per block, as llama.cpp does; on this model that moves logits by
		// up to 0.7% of the largest (the float kernels agree to 1e-3, and
		// runtime/kernels checks both against their exact references).
		if maxd > 0.02*maxw {
			t.Fatalf("%v: logits differ from the dequantised model's by up to %g (max |logit| %g)", d, maxd, maxw)
		}
		// Asking for the stored format keeps it; asking for another one
		// re-quantises from the decoded values.
		o.Quantize, o.QuantizeHead = QuantizeQ8_0, true
		_, e = logits(stored, o)
		const wq = "layers.0.attention.wq.weight"
		aliased := &e.quant[wq].Data[0] == &stored.Tensors[wq].Data[0]
		if aliased != (d == weights.Q8_0) {
			t.Errorf("%v file under q8_0: stored bytes used in place = %v", d, aliased)
		}
	}
}

// TestFP32WeightsAlias checks that fp32 weights from a mapped file are used
// in place rather than copied.
func TestFP32WeightsAlias(t *testing.T) {
	ws, _ := loadStories(t)
	e, err := New(context.Background(), ws, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	src, _ := ws.Tensors["layers.0.attention.wq.weight"].Float32s()
	got := e.tensors["layers.0.attention.wq.weight"].Float32s()
	if &src[0] != &got[0] {
		t.Error("the engine copied an fp32 weight instead of aliasing the file")
	}
}

// TestVectorsDoNotAliasTheFile checks that the norms' scales, which every
// step reads, are copied out of the mapped file: read there after the
// matrices around them were released, each brings back the page-cache
// folio around it (up to 2 MiB of released weights per vector).
func TestVectorsDoNotAliasTheFile(t *testing.T) {
	ws, _ := loadStories(t)
	e, err := New(context.Background(), ws, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"norm.weight", "layers.0.attention_norm.weight", "layers.0.ffn_norm.weight"} {
		src, ok := ws.Tensors[name].Float32s()
		if !ok {
			t.Fatalf("%s: not fp32 in the file", name)
		}
		got := e.tensors[name].Float32s()
		if &src[0] == &got[0] {
			t.Errorf("%s aliases the mapped file", name)
		}
		if !slices.Equal(src, got) {
			t.Errorf("%s: the copy differs from the file", name)
		}
	}
}

// TestRefusesGGMLFormatNotStored checks that a linear weight asked for in
// a GGML block format the engine does not quantise into (Q4_0 here) is
// refused unless the file stores it so, instead of being kept in fp32.
func TestRefusesGGMLFormatNotStored(t *testing.T) {
	ws, _ := loadStories(t)
	opts := DefaultOptions()
	opts.Quantize = cost.Q4_0
	_, err := New(context.Background(), ws, opts)
	if err == nil || !strings.Contains(err.Error(), "runs only as a GGUF file stores it") {
		t.Fatalf("an fp32 model asked for in q4_0: %v", err)
	}
}

// TestSlabQuantizeMatchesWhole quantises a Q8_0 matrix taller than one
// slab both ways: the slab-by-slab result (which releases the source's
// pages as it goes) must be the whole-matrix quantisation byte for byte,
// and a NaN past the first slab must be reported at its own row.
func TestSlabQuantizeMatchesWhole(t *testing.T) {
	cols := 64
	rows := slabBytes/(4*cols)*2 + 5
	v := make([]float32, rows*cols)
	for i := range v {
		v[i] = float32(math.Sin(float64(i) * 0.37))
	}
	src := &weights.Tensor{Name: "w", Shape: []int{rows, cols}, DType: weights.F32, Data: make([]byte, 4*len(v))}
	ws := &weights.Set{Source: "test"}
	e := &Engine{}
	cfg := kernels.QuantConfig{Method: kernels.Q8_0}
	got, err := e.quantize(ws, src, v, rows, cols, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want, err := kernels.QuantizeConfig(v, rows, cols, kernels.QuantConfig{Method: kernels.Q8_0})
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows != rows || got.Cols != cols || got.BlockSize != want.BlockSize || !bytes.Equal(got.Data, want.Data) {
		t.Fatalf("slab quantisation differs from the whole matrix's (%d×%d, %d vs %d bytes)", got.Rows, got.Cols, len(got.Data), len(want.Data))
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := rows - 2
	v[bad*cols+3] = float32(math.NaN())
	_, err = e.quantize(ws, src, v, rows, cols, cfg)
	var nf *kernels.NonFiniteError
	if !errors.As(err, &nf) || nf.Row != bad || nf.Col != 3 {
		t.Errorf("NaN at [%d,3]: got %v", bad, err)
	}
}
