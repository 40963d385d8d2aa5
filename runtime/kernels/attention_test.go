package kernels

import (
	"fmt"
	"math"
	"runtime"
	"testing"
)

// refAttention is a float64 reference of causal grouped-query attention.
func refAttention(q, k, v []float64, s AttnShape) []float64 {
	T, d, H, KV, G := s.Keys(), s.HeadDim, s.Heads, s.KVHeads, s.Heads/s.KVHeads
	out := make([]float64, s.N*H*d)
	scale := 1 / math.Sqrt(float64(d))
	for h := 0; h < H; h++ {
		g := h / G
		for i := 0; i < s.N; i++ {
			sc := make([]float64, T)
			m := math.Inf(-1)
			for j := 0; j <= s.Pos+i; j++ {
				var dot float64
				for t := 0; t < d; t++ {
					dot += q[(i*H+h)*d+t] * k[(j*KV+g)*d+t]
				}
				sc[j] = dot * scale
				m = math.Max(m, sc[j])
			}
			var sum float64
			for j := 0; j <= s.Pos+i; j++ {
				sc[j] = math.Exp(sc[j] - m)
				sum += sc[j]
			}
			for j := 0; j <= s.Pos+i; j++ {
				for t := 0; t < d; t++ {
					out[(i*H+h)*d+t] += sc[j] / sum * v[(j*KV+g)*d+t]
				}
			}
		}
	}
	return out
}

// refLSE is each query row's log-sum-exp of its scaled visible scores,
// [Heads, N], in float64.
func refLSE(q, k []float64, s AttnShape) []float64 {
	d, H, KV, G := s.HeadDim, s.Heads, s.KVHeads, s.Heads/s.KVHeads
	scale := 1 / math.Sqrt(float64(d))
	lse := make([]float64, H*s.N)
	for h := 0; h < H; h++ {
		for i := 0; i < s.N; i++ {
			var sum float64
			for j := 0; j <= s.Pos+i; j++ {
				var dot float64
				for t := 0; t < d; t++ {
					dot += q[(i*H+h)*d+t] * k[(j*KV+h/G)*d+t]
				}
				sum += math.Exp(dot * scale)
			}
			lse[h*s.N+i] = math.Log(sum)
		}
	}
	return lse
}

var attnShapes = []AttnShape{
	{N: 1, Pos: 0, Heads: 1, KVHeads: 1, HeadDim: 8},
	{N: 7, Pos: 0, Heads: 4, KVHeads: 2, HeadDim: 16},
	{N: 70, Pos: 0, Heads: 2, KVHeads: 1, HeadDim: 8},   // several query and key blocks
	{N: 1, Pos: 100, Heads: 8, KVHeads: 4, HeadDim: 8},  // decode against a cache
	{N: 5, Pos: 130, Heads: 6, KVHeads: 3, HeadDim: 12}, // chunked prefill
	// Four query rows at a time (HeadDim a multiple of 16): rows left
	// over, and a chunk whose rows see keys past a multiple of four.
	{N: 11, Pos: 0, Heads: 2, KVHeads: 1, HeadDim: 48},
	{N: 9, Pos: 6, Heads: 4, KVHeads: 2, HeadDim: 64},
}

func TestAttentionKernelsAgree(t *testing.T) {
	for _, s := range attnShapes {
		q := randVec(1, s.N*s.Heads*s.HeadDim, 1)
		// Cache buffers longer than Pos+N: the tail must be ignored.
		kvLen := (s.Keys() + 3) * s.KVHeads * s.HeadDim
		k := randVec(2, kvLen, 1)
		v := randVec(3, kvLen, 1)
		want := refAttention(f64s(q), f64s(k), f64s(v), s)
		wantLSE := refLSE(f64s(q), f64s(k), s)
		outs := map[string][]float32{}
		for _, c := range []struct {
			name string
			kind AttnKernel
			e    Exec
		}{
			{"eager", AttnEager, Exec{}},
			{"flash2", AttnFlash2, Exec{}},
			{"flash2-small-tiles", AttnFlash2, Exec{BlockQ: 3, BlockK: 5, Threads: 2}},
			{"eager-go", AttnEager, Exec{NoAsm: true, Threads: 3}},
		} {
			out := make([]float32, len(q))
			lse := make([]float32, s.Heads*s.N)
			if err := c.e.AttentionForward(c.kind, out, lse, q, k, v, s); err != nil {
				t.Fatal(err)
			}
			assertClose(t, fmt.Sprintf("%+v %s", s, c.name), out, want, 1e-5, 1)
			assertClose(t, fmt.Sprintf("%+v %s lse", s, c.name), lse, wantLSE, 1e-5, 1)
			outs[c.name] = out
		}
		// eager and flash2 agree with each other within 1e-5 relative.
		assertClose(t, fmt.Sprintf("%+v flash2 vs eager", s), outs["flash2"], f64s(outs["eager"]), 1e-5, 1)
	}
}

// TestAttentionGradientsFiniteDifferences checks both backward passes
// against central differences of the float64 reference forward pass, for
// the loss Σ out∘R.
func TestAttentionGradientsFiniteDifferences(t *testing.T) {
	for _, s := range []AttnShape{
		{N: 6, Pos: 0, Heads: 4, KVHeads: 2, HeadDim: 4},
		{N: 3, Pos: 4, Heads: 2, KVHeads: 1, HeadDim: 5},
		{N: 9, Pos: 1, Heads: 2, KVHeads: 1, HeadDim: 16}, // the AVX2 paths (d multiple of 8)
	} {
		q := randVec(11, s.N*s.Heads*s.HeadDim, 1)
		kv := s.Keys() * s.KVHeads * s.HeadDim
		k := randVec(12, kv, 1)
		v := randVec(13, kv, 1)
		R := randVec(14, len(q), 1)
		loss := func(q, k, v []float64) float64 {
			out := refAttention(q, k, v, s)
			var l float64
			for i, o := range out {
				l += o * float64(R[i])
			}
			return l
		}
		numGrad := func(which int) []float64 {
			in := [][]float64{f64s(q), f64s(k), f64s(v)}
			x := in[which]
			g := make([]float64, len(x))
			const eps = 1e-6
			for i := range x {
				old := x[i]
				x[i] = old + eps
				lp := loss(in[0], in[1], in[2])
				x[i] = old - eps
				lm := loss(in[0], in[1], in[2])
				x[i] = old
				g[i] = (lp - lm) / (2 * eps)
			}
			return g
		}
		wantQ, wantK, wantV := numGrad(0), numGrad(1), numGrad(2)
		for _, c := range []struct {
			kind AttnKernel
			e    Exec
		}{{AttnEager, Exec{}}, {AttnFlash2, Exec{}}, {AttnFlash2, Exec{BlockQ: 2, BlockK: 3, Threads: 2}}} {
			out := make([]float32, len(q))
			lse := make([]float32, s.Heads*s.N)
			if err := c.e.AttentionForward(c.kind, out, lse, q, k, v, s); err != nil {
				t.Fatal(err)
			}
			dq := make([]float32, len(q))
			dk := make([]float32, kv)
			dv := make([]float32, kv)
			if err := c.e.AttentionBackward(c.kind, dq, dk, dv, q, k, v, out, lse, R, s); err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("%+v %v %+v", s, c.kind, c.e)
			assertClose(t, name+" dq", dq, wantQ, 1e-3, 1e-2)
			assertClose(t, name+" dk", dk, wantK, 1e-3, 1e-2)
			assertClose(t, name+" dv", dv, wantV, 1e-3, 1e-2)
		}
	}
}

// allocatedBytes returns the bytes the heap allocated while f ran.
func allocatedBytes(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestAttentionMemory measures what each kernel allocates beyond its
// outputs: eager holds the Heads·s·s score matrix (O(s²)), flash2 a few
// tiles whatever s is (O(1) extra; O(s·d) counting its output).
func TestAttentionMemory(t *testing.T) {
	measure := func(kind AttnKernel, n int) uint64 {
		s := AttnShape{N: n, Heads: 2, KVHeads: 1, HeadDim: 16}
		q := randVec(1, n*2*16, 1)
		k := randVec(2, n*16, 1)
		v := randVec(3, n*16, 1)
		out := make([]float32, len(q))
		lse := make([]float32, 2*n)
		return allocatedBytes(func() {
			if err := (Exec{}).AttentionForward(kind, out, lse, q, k, v, s); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, n := range []int{256, 1024, 2048} {
		eager, flash := measure(AttnEager, n), measure(AttnFlash2, n)
		t.Logf("s=%d: eager allocated %d bytes, flash2 %d bytes", n, eager, flash)
		if scores := uint64(2 * n * n * 4); eager < scores {
			t.Errorf("s=%d: eager allocated %d bytes, less than its %d-byte score matrix", n, eager, scores)
		}
		if flash > 64<<10 {
			t.Errorf("s=%d: flash2 allocated %d bytes, want a few tiles (< 64 KiB)", n, flash)
		}
	}
}

func TestAttentionRejectsBadShapes(t *testing.T) {
	s := AttnShape{N: 2, Heads: 3, KVHeads: 2, HeadDim: 4}
	if err := (Exec{}).AttentionForward(AttnFlash2, make([]float32, 24), nil, make([]float32, 24), make([]float32, 16), make([]float32, 16), s); err == nil {
		t.Error("3 heads over 2 KV heads accepted")
	}
	s = AttnShape{N: 2, Pos: 3, Heads: 2, KVHeads: 1, HeadDim: 4}
	if err := (Exec{}).AttentionForward(AttnEager, make([]float32, 16), nil, make([]float32, 16), make([]float32, 8), make([]float32, 8), s); err == nil {
		t.Error("cache shorter than Pos+N accepted")
	}
	if err := (Exec{}).AttentionForward(AttnInvalid, make([]float32, 16), nil, make([]float32, 16), make([]float32, 40), make([]float32, 40), s); err == nil {
		t.Error("invalid kernel accepted")
	}
}

// TestSoftmaxAVX512 checks softmaxInPlace's vector form bit for bit
// against its scalar form, on every length up to 70 and around 128, with
// masked (−Inf) entries, zeros of both signs, infinities, NaNs and values
// beyond exp32's range.
func TestSoftmaxAVX512(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512 on this CPU: the scalar form runs")
	}
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	negZero := float32(math.Copysign(0, -1))
	specials := []func(r []float32){
		func(r []float32) {},
		func(r []float32) { r[len(r)-1] = negInf },
		func(r []float32) {
			for i := range r {
				r[i] = negInf
			}
		},
		func(r []float32) { r[0], r[len(r)/2] = negZero, 0 },
		func(r []float32) {
			for i := range r {
				r[i] = negZero
			}
		},
		func(r []float32) { r[len(r)/3] = inf },
		func(r []float32) { r[len(r)-1] = nan },
		func(r []float32) { r[0] = 200 }, // the rest fall below −87 after the shift
	}
	var lens []int
	for n := 1; n <= 70; n++ {
		lens = append(lens, n)
	}
	lens = append(lens, 127, 128, 129, 1000)
	same := func(a, b float32) bool {
		if a != a || b != b {
			return a != a && b != b
		}
		return math.Float32bits(a) == math.Float32bits(b)
	}
	for _, n := range lens {
		for si, sp := range specials {
			for _, scale := range []float64{1, 30} {
				row := randVec(uint64(n*10+si), n, scale)
				sp(row)
				want := append([]float32(nil), row...)
				noSoftmaxAVX512 = true
				wl := softmaxInPlace(want)
				noSoftmaxAVX512 = false
				got := append([]float32(nil), row...)
				gl := softmaxInPlace(got)
				if !same(wl, gl) {
					t.Fatalf("n=%d special %d scale %g: log-sum-exp %g, want %g", n, si, scale, gl, wl)
				}
				for i := range got {
					if !same(got[i], want[i]) {
						t.Fatalf("n=%d special %d scale %g: p[%d] = %g (%#x), want %g (%#x)", n, si, scale, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
					}
				}
			}
		}
	}
}

// TestSumAVX512 checks the unordered vector sum of the tiled prefill rows'
// exponentials against the float64 sum on every length up to 100, with
// each value placed alone so that a lost or doubled lane or tail value
// shows.
func TestSumAVX512(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	for n := 1; n <= 100; n++ {
		x := randVec(uint64(n), n, 1)
		var want float64
		for _, v := range x {
			want += float64(v)
		}
		if got := sumAVX512(&x[0], n); math.Abs(float64(got)-want) > 1e-5*float64(n) {
			t.Fatalf("n=%d: sum %g, want %g", n, got, want)
		}
		for i := range x {
			y := make([]float32, n)
			y[i] = 1 << 20
			if got := sumAVX512(&y[0], n); got != 1<<20 {
				t.Fatalf("n=%d, value %d alone: sum %g", n, i, got)
			}
		}
	}
}
