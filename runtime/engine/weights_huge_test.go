package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// hugeTestModel is a Llama with random fp32 weights whose linears come to
// 8.9M parameters: 4.5 MB in NF4, 9.4 MB in Q8_0, past the 4 MiB below
// which a kernels.HugeArena holds nothing.
func hugeTestModel(t *testing.T) *weights.Set {
	t.Helper()
	c := arch.Config{Name: "huge", Family: arch.Llama, Dim: 512, HiddenDim: 1536, Layers: 2, Heads: 8, KVHeads: 8, Vocab: 4096, MaxSeq: 64, RopeTheta: 10000, NormEps: 1e-5, Tied: true}
	r := rand.New(rand.NewPCG(8, 2))
	s := &weights.Set{Config: c, Tensors: map[string]*weights.Tensor{}, Source: "random"}
	add := func(name string, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		b := make([]byte, 4*n)
		for i := range n {
			v := float32(1)
			if len(shape) > 1 {
				v = (r.Float32() - 0.5) / 16
			}
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		s.Tensors[name] = &weights.Tensor{Name: name, Shape: shape, DType: weights.F32, Data: b}
	}
	add("tok_embeddings.weight", c.Vocab, c.Dim)
	add("norm.weight", c.Dim)
	for l := range c.Layers {
		p := fmt.Sprintf("layers.%d.", l)
		add(p+"attention_norm.weight", c.Dim)
		add(p+"ffn_norm.weight", c.Dim)
		for _, m := range []string{"attention.wq", "attention.wk", "attention.wv", "attention.wo"} {
			add(p+m+".weight", c.Dim, c.Dim)
		}
		add(p+"feed_forward.w1.weight", c.HiddenDim, c.Dim)
		add(p+"feed_forward.w2.weight", c.Dim, c.HiddenDim)
		add(p+"feed_forward.w3.weight", c.HiddenDim, c.Dim)
	}
	return s
}

// hugeArenaOn reports whether this system gives a kernels.HugeArena huge
// pages (transparent huge pages not "never", Linux).
func hugeArenaOn() bool { return kernels.NewHugeArena(8 << 20).OnHugePages() }

// quantBuffers returns the buffers of e's quantised matrices (each
// counted once) that a HugeArena holds: codes and first-level scales.
func quantBuffers(e *Engine) [][]byte {
	seen := map[*kernels.QMatrix]bool{}
	var bufs [][]byte
	qs := []*kernels.QMatrix{e.embQ}
	for _, q := range e.quant {
		qs = append(qs, q)
	}
	for _, q := range qs {
		if q == nil || seen[q] {
			continue
		}
		seen[q] = true
		bufs = append(bufs, q.Data)
		if len(q.QAbsmax) > 0 {
			bufs = append(bufs, q.QAbsmax)
		}
		if len(q.Absmax) > 0 {
			bufs = append(bufs, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(q.Absmax))), 4*len(q.Absmax)))
		}
	}
	return bufs
}

// checkInOneArena fails unless bufs lie packed in one arena: sorted by
// address, the first starts on a 2 MiB boundary and each next one at the
// previous one's end rounded up to 64 bytes, as HugeArena.Alloc lays
// them out. Separate heap allocations are not laid out so.
func checkInOneArena(t *testing.T, what string, bufs [][]byte) {
	t.Helper()
	addr := func(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
	slices.SortFunc(bufs, func(a, b []byte) int {
		if addr(a) < addr(b) {
			return -1
		}
		return 1
	})
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	if total < 4<<20 {
		t.Fatalf("%s: %d bytes of blocks, under the 4 MiB an arena needs", what, total)
	}
	if p := addr(bufs[0]); p%(2<<20) != 0 {
		t.Fatalf("%s: the first weight buffer is at %#x, not on a huge page boundary: the weights are not in a HugeArena", what, p)
	}
	for i := 1; i < len(bufs); i++ {
		if want := (addr(bufs[i-1]) + uintptr(len(bufs[i-1])) + 63) &^ 63; addr(bufs[i]) != want {
			t.Fatalf("%s: weight buffer %d of %d is at %#x, want %#x right after the previous one: the weights are not packed in one HugeArena", what, i, len(bufs), addr(bufs[i]), want)
		}
	}
}

// TestQuantizedAtLoadOnHugePages loads an fp32 model of 4.5-9.4 MB of
// blocks quantised at load to each format the engine quantises into, and
// checks that every matrix's bytes are exactly what quantising its
// weights gives, that they (codes and first-level scales) lie packed in
// one HugeArena, and that the logits do not change when the same bytes
// are moved back to ordinary heap buffers.
func TestQuantizedAtLoadOnHugePages(t *testing.T) {
	ctx := context.Background()
	ws := hugeTestModel(t)
	on := hugeArenaOn()
	for _, w := range []Weight{{QuantizeNF4, true}, {QuantizeNF4, false}, {QuantizeFP4, true}, {QuantizeQ8_0, false}, {QuantizeBF16, false}} {
		name := fmt.Sprintf("%v/double=%v", w.Format, w.DoubleQuant)
		o := DefaultOptions()
		o.Weights = map[string]Weight{}
		for n, tt := range ws.Tensors {
			if len(tt.Shape) == 2 && n != "tok_embeddings.weight" {
				o.Weights[n] = w
			}
		}
		o.Weights["output.weight"] = w
		e, err := New(ctx, ws, o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(e.quant) != len(o.Weights) {
			t.Fatalf("%s: %d matrices quantised, want %d", name, len(e.quant), len(o.Weights))
		}
		for n, q := range e.quant {
			src := ws.Tensors[n]
			if n == "output.weight" {
				src = ws.Tensors["tok_embeddings.weight"]
			}
			v, _ := src.Float32s()
			want, err := kernels.QuantizeConfig(v, src.Shape[0], src.Shape[1], kernels.QuantConfig{Method: method(w.Format), DoubleQuant: w.DoubleQuant})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(q.Data, want.Data) || !slices.Equal(q.QAbsmax, want.QAbsmax) || !slices.Equal(q.Absmax, want.Absmax) ||
				!slices.Equal(q.Absmax2, want.Absmax2) || q.Offset != want.Offset || q.DoubleQuant != want.DoubleQuant {
				t.Fatalf("%s: %s differs from quantising its weights directly", name, n)
			}
		}
		if on {
			checkInOneArena(t, name, quantBuffers(e))
		}
		if w.Format != QuantizeNF4 && w.Format != QuantizeQ8_0 {
			continue
		}
		prompt := []int{1, 77, 3000, 5}
		l, err := e.Forward(ctx, prompt)
		if err != nil {
			t.Fatal(err)
		}
		got := append([]float32(nil), l...)
		for _, q := range e.quant {
			q.Data = append([]byte(nil), q.Data...)
			q.QAbsmax = append([]uint8(nil), q.QAbsmax...)
			q.Absmax = append([]float32(nil), q.Absmax...)
		}
		e.Reset()
		l, err = e.Forward(ctx, prompt)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, l) {
			t.Fatalf("%s: logits from the arena differ from the same bytes on the heap", name)
		}
	}
	if !on {
		t.Skip("no transparent huge pages here: checked the quantised bytes and logits, not their place in an arena")
	}
}

// TestStoredBlocksOnHugePages loads the same model as GGUF would store it
// in Q8_0 and Q4_0 and checks that the matrices kept as stored, token
// embeddings included, were copied into one HugeArena with their bytes.
func TestStoredBlocksOnHugePages(t *testing.T) {
	if !hugeArenaOn() {
		t.Skip("no transparent huge pages here: the engine keeps stored blocks in the file's pages")
	}
	ctx := context.Background()
	ws := hugeTestModel(t)
	for _, d := range []weights.DType{weights.Q8_0, weights.Q4_0} {
		stored, err := gguf.ConvertSet(ws, d)
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(ctx, stored, DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if e.embQ == nil || len(e.quant) != 1+7*ws.Config.Layers {
			t.Fatalf("%v: %d matrices kept as stored (embeddings %v)", d, len(e.quant), e.embQ != nil)
		}
		for n, q := range e.quant {
			if n == "output.weight" {
				n = "tok_embeddings.weight"
			}
			if !bytes.Equal(q.Data, stored.Tensors[n].Data) {
				t.Fatalf("%v: %s's bytes differ from the file's", d, n)
			}
			if &q.Data[0] == &stored.Tensors[n].Data[0] {
				t.Fatalf("%v: %s still aliases the file", d, n)
			}
		}
		checkInOneArena(t, d.String(), quantBuffers(e))
	}
}
