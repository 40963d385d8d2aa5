package kernels

import (
	"fmt"
	"math"
	"sync"

	"github.com/modelwhisperer/whisperc/planner/cost"
)

// AttnKernel selects an attention algorithm: the planner's attention
// enum (one enum per concept from the plan to the kernels). The zero value
// is invalid; the kernels run eager and flash2, and refuse sdpa, which on
// the CPU the planner lowers to flash2.
type AttnKernel = cost.Attention

// The attention kernels.
const (
	AttnInvalid = cost.AttentionInvalid
	// AttnEager materialises the causal score matrix of every head
	// (Heads·N·T floats), applies softmax and multiplies by V, as a plain
	// framework implementation does.
	AttnEager = cost.Eager
	// AttnFlash2 is FlashAttention-2 (Dao, arXiv:2307.08691, Algorithms 1
	// and 2) on the CPU: query blocks outer, key/value blocks inner, a
	// running row maximum and sum (online softmax), and only the per-row
	// log-sum-exp kept for the backward pass, so the extra memory is a few
	// blocks per goroutine whatever the sequence length.
	AttnFlash2 = cost.Flash2
)

// Default FlashAttention-2 tile sizes (Br, Bc), used when Exec's are zero.
const (
	DefaultBlockQ = 32
	DefaultBlockK = 64
)

// AttnShape describes one causal grouped-query attention call. The N query
// rows are the positions [Pos, Pos+N); they attend to the keys at positions
// [0, Pos+N), so a decode step with a KV cache is N = 1, Pos = tokens so
// far, and training or prefill is Pos = 0.
//
// Layouts, all row-major: q and out are [N, Heads, HeadDim]; k and v are
// [T', KVHeads, HeadDim] with T' ≥ Pos+N, so a KV cache's buffers can be
// passed whole and only their first Pos+N rows are read. Query head h reads
// key/value head h / (Heads/KVHeads). lse, when not nil, is [Heads, N]: each
// query row's log-sum-exp of its scaled scores, which the backward pass
// needs.
type AttnShape struct {
	N, Pos         int
	Heads, KVHeads int
	HeadDim        int
	// Scores, when set, holds the eager kernel's [Heads, N, Pos+N]
	// probabilities from one call to the next (grown as needed), so that a
	// decode step leaves no garbage that grows with the context: Heads·T
	// floats a layer, 80 KB a token at 512 positions of stories260K, were
	// most of what a step allocated. Nil allocates them per call.
	Scores *[]float32
}

// Keys returns the number of key positions attended, Pos+N.
func (s AttnShape) Keys() int { return s.Pos + s.N }

// Scale returns the softmax temperature 1/√HeadDim.
func (s AttnShape) Scale() float32 { return float32(1 / math.Sqrt(float64(s.HeadDim))) }

// check validates the shape and the lengths of the buffers.
func (s AttnShape) check(kernel string, q, k, v []float32) error {
	if s.N < 0 || s.Pos < 0 || s.Heads <= 0 || s.KVHeads <= 0 || s.HeadDim <= 0 {
		return shapeErr(kernel, "invalid shape %+v", s)
	}
	if s.Heads%s.KVHeads != 0 {
		return shapeErr(kernel, "%d query heads are not a multiple of %d key/value heads", s.Heads, s.KVHeads)
	}
	if err := checkLen(kernel, "q", len(q), s.N*s.Heads*s.HeadDim); err != nil {
		return err
	}
	kv := s.Keys() * s.KVHeads * s.HeadDim
	if len(k) < kv || len(v) < kv {
		return shapeErr(kernel, "k and v have %d and %d elements, need at least %d for %d positions", len(k), len(v), kv, s.Keys())
	}
	return nil
}

// blocks returns FlashAttention-2's tile sizes.
func (e Exec) blocks() (br, bc int) {
	br, bc = e.BlockQ, e.BlockK
	if br <= 0 {
		br = DefaultBlockQ
	}
	if bc <= 0 {
		bc = DefaultBlockK
	}
	return br, bc
}

// AttentionForward computes causal attention out = softmax(q·kᵀ/√d)·v with
// the chosen kernel, and the per-row log-sum-exp into lse when lse is not
// nil. Heads are spread over e.Threads goroutines.
func (e Exec) AttentionForward(kind AttnKernel, out, lse, q, k, v []float32, s AttnShape) error {
	if err := s.check("AttentionForward", q, k, v); err != nil {
		return err
	}
	if err := checkLen("AttentionForward", "out", len(out), len(q)); err != nil {
		return err
	}
	if lse != nil {
		if err := checkLen("AttentionForward", "lse", len(lse), s.Heads*s.N); err != nil {
			return err
		}
	}
	switch kind {
	case AttnEager:
		e.eagerForward(out, lse, q, k, v, s)
	case AttnFlash2:
		e.flash2Forward(out, lse, q, k, v, s)
	default:
		return fmt.Errorf("kernels.AttentionForward: invalid kernel %v", kind)
	}
	return nil
}

// AttentionBackward computes the gradients dq, dk and dv of a loss with
// respect to the inputs of AttentionForward, given dout, its gradient with
// respect to out. out and lse must be what the forward pass produced. dk and
// dv have k's layout and only their first Pos+N rows are written (they are
// overwritten, not accumulated).
func (e Exec) AttentionBackward(kind AttnKernel, dq, dk, dv, q, k, v, out, lse, dout []float32, s AttnShape) error {
	if err := s.check("AttentionBackward", q, k, v); err != nil {
		return err
	}
	for _, b := range []struct {
		name string
		buf  []float32
		want int
	}{{"dq", dq, len(q)}, {"out", out, len(q)}, {"dout", dout, len(q)}, {"lse", lse, s.Heads * s.N}} {
		if err := checkLen("AttentionBackward", b.name, len(b.buf), b.want); err != nil {
			return err
		}
	}
	kv := s.Keys() * s.KVHeads * s.HeadDim
	if len(dk) < kv || len(dv) < kv {
		return shapeErr("AttentionBackward", "dk and dv have %d and %d elements, need at least %d", len(dk), len(dv), kv)
	}
	clear(dk[:kv])
	clear(dv[:kv])
	switch kind {
	case AttnEager:
		e.eagerBackward(dq, dk, dv, q, k, v, dout, s)
	case AttnFlash2:
		e.flash2Backward(dq, dk, dv, q, k, v, out, lse, dout, s)
	default:
		return fmt.Errorf("kernels.AttentionBackward: invalid kernel %v", kind)
	}
	return nil
}

var negInf = float32(math.Inf(-1))

// scratchPool holds FlashAttention-2's per-goroutine tiles, so that a call
// allocates nothing once the pool is warm.
var scratchPool sync.Pool

// getScratch returns a scratch buffer of at least n floats from the pool;
// Put it back when done.
func getScratch(n int) *[]float32 {
	if p, ok := scratchPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]float32, n)
	return &b
}

// accumulateValues adds Σ_c p[c]·v_c to y for the count value rows
// v_c = v[base+c·stride : base+c·stride+len(y)], four rows at a time with
// the strided AVX2 kernel when it applies. Zero weights are skipped.
func accumulateValues(y, p, v []float32, base, stride, count int) {
	d := len(y)
	c := 0
	if useAsm && d >= 8 && d%8 == 0 {
		var w [4]float32
		for ; c+4 <= count; c += 4 {
			off := base + c*stride
			_ = v[off+3*stride+d-1]
			copy(w[:], p[c:c+4])
			axpy4AVX2(&y[0], &w, &v[off], stride, d)
		}
	}
	for ; c < count; c++ {
		if p[c] != 0 {
			off := base + c*stride
			Axpy(y, p[c], v[off:off+d])
		}
	}
}

// keyScores sets dst[c] = scale·(q·k_c) for the count key rows
// k_c = k[base+c·stride : base+c·stride+len(q)], four rows at a time with
// the strided AVX2 kernel when it applies.
func keyScores(dst, q, k []float32, base, stride, count int, scale float32) {
	d := len(q)
	c := 0
	if useAsm && d >= 8 && d%8 == 0 {
		var acc [4]float32
		for ; c+4 <= count; c += 4 {
			off := base + c*stride
			_ = k[off+3*stride+d-1]
			dot4AVX2(&k[off], stride, &q[0], d, &acc)
			dst[c] = scale * acc[0]
			dst[c+1] = scale * acc[1]
			dst[c+2] = scale * acc[2]
			dst[c+3] = scale * acc[3]
		}
	}
	for ; c < count; c++ {
		off := base + c*stride
		dst[c] = scale * Dot(q, k[off:off+d])
	}
}

// eagerForward materialises the [Heads, N, T] probabilities (in
// *s.Scores when set). Each row's masked keys have probability exactly 0,
// so they are neither computed nor summed: a row is its visible prefix.
func (e Exec) eagerForward(out, lse, q, k, v []float32, s AttnShape) {
	T, d, H, G := s.Keys(), s.HeadDim, s.Heads, s.Heads/s.KVHeads
	scale := s.Scale()
	var p []float32
	if s.Scores == nil {
		p = make([]float32, H*s.N*T)
	} else {
		if cap(*s.Scores) < H*s.N*T {
			*s.Scores = make([]float32, H*s.N*T, max(H*s.N*T, 2*cap(*s.Scores)))
		}
		p = (*s.Scores)[:H*s.N*T]
	}
	// A head's work is its scores and its weighted sum of values, each
	// a multiply-add per key and dimension: counting only the first kept
	// a decode step's attention on one thread below 171 positions (110M).
	e.parallelRows(H, 1, 2*s.N*T*d, func(h0, h1 int) {
		for h := h0; h < h1; h++ {
			g := h / G
			// Four query rows at a time score the keys all four see four
			// at a time (dot4x4AVX512, each key and query row loaded once
			// per tile, not once per pair) and sum those keys' values
			// sixteen columns at a time with the four output rows in
			// registers (axpy4x16AVX512); each row's last keys and the
			// rows left over take keyScores and accumulateValues.
			tiled := 0
			if tile4 && s.N >= 4 && d%16 == 0 && e.avx512() {
				tiled = s.N / 4 * 4
			}
			for i := 0; i < s.N; i++ {
				lim := s.Pos + i // last visible key
				row := p[(h*s.N+i)*T : (h*s.N+i)*T+lim+1]
				qi := q[(i*H+h)*d : (i*H+h+1)*d]
				done := 0 // keys already scored
				if i < tiled {
					done = (s.Pos + i/4*4 + 1) / 4 * 4 // seen by rows i/4*4 .. +3
					if i%4 == 0 && done > 0 {
						for c := 0; c < done; c += 4 {
							dot4x4AVX512(&k[(c*s.KVHeads+g)*d], s.KVHeads*d, &qi[0], H*d, d, &row[c], T, nil)
						}
					}
					if done > 0 {
						// Sixteen at a time, the same products (the
						// scalar loop was 2% of a 15M prefill).
						scaleAVX512(&row[0], done, scale)
					}
				}
				keyScores(row[done:], qi, k, (done*s.KVHeads+g)*d, s.KVHeads*d, lim+1-done, scale)
				var l float32
				if i < tiled && !noSoftmaxAVX512 {
					// The tiled rows' scores are not summed in llama2.c's
					// order (dot4x4AVX512), and llama2.c has no prefill:
					// their exponentials need not be either, and the
					// in-order sum, three cycles a key, was half of a
					// prefill's softmax.
					l = softmaxVec(row, false, lse != nil)
				} else {
					l = softmaxInPlace(row)
				}
				if lse != nil {
					lse[h*s.N+i] = l
				}
				oi := out[(i*H+h)*d : (i*H+h+1)*d]
				if i >= tiled {
					clear(oi)
					accumulateValues(oi, row, v, g*d, s.KVHeads*d, lim+1)
					continue
				}
				if i%4 != 3 {
					continue // the tile's values wait for its four rows
				}
				i0 := i - 3
				for b := i0; b <= i; b++ {
					clear(out[(b*H+h)*d : (b*H+h+1)*d])
				}
				if done > 0 {
					for c := 0; c < d; c += 16 {
						axpy4x16AVX512(&out[(i0*H+h)*d+c], H*d, &p[(h*s.N+i0)*T], T, &v[g*d+c], s.KVHeads*d, done)
					}
				}
				for b := i0; b <= i; b++ {
					ob := out[(b*H+h)*d : (b*H+h+1)*d]
					rb := p[(h*s.N+b)*T+done : (h*s.N+b)*T+s.Pos+b+1]
					accumulateValues(ob, rb, v, (done*s.KVHeads+g)*d, s.KVHeads*d, len(rb))
				}
			}
		}
	})
}

// tile4 lets eagerForward score four query rows at a time, for tests
// that compare it with the row-at-a-time form.
var tile4 = true

// softmaxInPlace replaces row by its softmax and returns its log-sum-exp.
// Entries of -Inf become 0. The exponentials are computed sixteen at a
// time (Exp32Shift, bit for bit exp32) and summed in order. With AVX-512
// the maximum, the last exponentials and the scaling take vectors too
// (softmaxAVX512), with the same results.
func softmaxInPlace(row []float32) float32 {
	if useAVX512 && len(row) > 0 && !noSoftmaxAVX512 {
		return softmaxAVX512(row)
	}
	m := negInf
	for _, x := range row {
		m = max(m, x)
	}
	Exp32Shift(row, row, m)
	var sum float32
	for _, ex := range row {
		sum += ex
	}
	inv := 1 / sum
	for j := range row {
		row[j] *= inv
	}
	return m + float32(math.Log(float64(sum)))
}

// noSoftmaxAVX512 keeps softmaxInPlace's scalar form, for tests and
// benchmarks that compare the two.
var noSoftmaxAVX512 = false

// softmaxAVX512 is softmaxInPlace for a row of at least one value, bit for
// bit: the maximum does not depend on the order (of +0 and −0 either may
// be taken, and x−m and the log-sum-exp come out the same; a NaN it
// passes over still makes every probability and the log-sum-exp NaN, as
// the scalar form's NaN maximum does), the last
// len(row)%16 exponentials are exp32ShiftAVX512's on a block padded with
// −Inf instead of exp32's one by one, the sum stays in order, and the
// scaling is element by element. Prefill rows are short (64 positions on
// average for a 127-token prompt), so the scalar maximum, the scalar
// exponentials of each row's last values and the scaling cost about as
// much as the vector exponentials.
func softmaxAVX512(row []float32) float32 { return softmaxVec(row, true, true) }

// softmaxVec is softmaxAVX512 (row of at least one value, AVX-512), with
// the exponentials summed in order when ordered is set and sixteen lanes
// at a time otherwise (sumAVX512). Without wantLSE it returns 0, not the
// log-sum-exp: an inference prefill needs none, and its logarithm was 5%
// of a 15M prefill's attention.
func softmaxVec(row []float32, ordered, wantLSE bool) float32 {
	n := len(row)
	m := maxAVX512(&row[0], n)
	n16 := n &^ 15
	if n16 > 0 {
		exp32ShiftAVX512(&row[0], &row[0], n16, m)
	}
	if n16 < n {
		var t [16]float32
		copy(t[:], row[n16:])
		for i := n - n16; i < 16; i++ {
			t[i] = negInf
		}
		exp32ShiftAVX512(&t[0], &t[0], 16, m)
		copy(row[n16:], t[:n-n16])
	}
	var sum float32
	if ordered {
		for _, ex := range row {
			sum += ex
		}
	} else {
		sum = sumAVX512(&row[0], n)
	}
	scaleAVX512(&row[0], n, 1/sum)
	if !wantLSE {
		return 0
	}
	return m + float32(math.Log(float64(sum)))
}

// eagerBackward materialises P and dS, [Heads, N, T] each.
func (e Exec) eagerBackward(dq, dk, dv, q, k, v, dout []float32, s AttnShape) {
	T, d, H, KV, G := s.Keys(), s.HeadDim, s.Heads, s.KVHeads, s.Heads/s.KVHeads
	scale := s.Scale()
	p := make([]float32, H*s.N*T)
	ds := make([]float32, H*s.N*T)
	e.eagerForwardProbs(p, q, k, s)
	// Each goroutine owns one key/value head and the query heads that read it.
	e.parallelRows(KV, 1, G*s.N*T*d, func(g0, g1 int) {
		for g := g0; g < g1; g++ {
			for h := g * G; h < (g+1)*G; h++ {
				for i := 0; i < s.N; i++ {
					prow := p[(h*s.N+i)*T : (h*s.N+i+1)*T]
					dsrow := ds[(h*s.N+i)*T : (h*s.N+i+1)*T]
					doi := dout[(i*H+h)*d : (i*H+h+1)*d]
					lim := s.Pos + i
					// dP = dO·Vᵀ; D = Σ P∘dP; dS = scale·P∘(dP − D).
					keyScores(dsrow[:lim+1], doi, v, g*d, KV*d, lim+1, 1)
					var D float32
					for j := 0; j <= lim; j++ {
						D += prow[j] * dsrow[j]
						Axpy(dv[(j*KV+g)*d:(j*KV+g+1)*d], prow[j], doi)
					}
					for j := 0; j <= lim; j++ {
						dsrow[j] = scale * prow[j] * (dsrow[j] - D)
					}
					dqi := dq[(i*H+h)*d : (i*H+h+1)*d]
					clear(dqi)
					accumulateValues(dqi, dsrow, k, g*d, KV*d, lim+1)
					qi := q[(i*H+h)*d : (i*H+h+1)*d]
					for j := 0; j <= lim; j++ {
						Axpy(dk[(j*KV+g)*d:(j*KV+g+1)*d], dsrow[j], qi)
					}
				}
			}
		}
	})
}

// eagerForwardProbs fills p [Heads, N, T] with the attention probabilities.
func (e Exec) eagerForwardProbs(p, q, k []float32, s AttnShape) {
	T, d, H, G := s.Keys(), s.HeadDim, s.Heads, s.Heads/s.KVHeads
	scale := s.Scale()
	e.parallelRows(H, 1, s.N*T*d, func(h0, h1 int) {
		for h := h0; h < h1; h++ {
			g := h / G
			for i := 0; i < s.N; i++ {
				row := p[(h*s.N+i)*T : (h*s.N+i+1)*T]
				qi := q[(i*H+h)*d : (i*H+h+1)*d]
				keyScores(row, qi, k, g*d, s.KVHeads*d, s.Pos+i+1, scale)
				for j := s.Pos + i + 1; j < len(row); j++ {
					row[j] = negInf
				}
				softmaxInPlace(row)
			}
		}
	})
}

// flash2Forward is FlashAttention-2 Algorithm 1 for each head: for each
// query block Qᵢ, stream the key/value blocks Kⱼ, Vⱼ it can see, keeping the
// running row maximum m, running sum ℓ and unnormalised output O; rescale O
// once at the end and store L = m + log ℓ.
func (e Exec) flash2Forward(out, lse, q, k, v []float32, s AttnShape) {
	d, H, KV, G := s.HeadDim, s.Heads, s.KVHeads, s.Heads/s.KVHeads
	br, bc := e.blocks()
	scale := s.Scale()
	nq := (s.N + br - 1) / br
	// Work items are (head, query block) pairs.
	e.parallelRows(H*nq, 1, 2*br*s.Keys()*d, func(w0, w1 int) { // Sᵢⱼ and P̃ᵢⱼVⱼ
		buf := getScratch(br*bc + 2*br)
		defer scratchPool.Put(buf)
		sb := (*buf)[:br*bc] // Sᵢⱼ, then P̃ᵢⱼ
		m := (*buf)[br*bc : br*bc+br]
		l := (*buf)[br*bc+br : br*bc+2*br]
		for w := w0; w < w1; w++ {
			h, qb := w/nq, w%nq
			g := h / G
			i0, i1 := qb*br, min((qb+1)*br, s.N)
			nr := i1 - i0
			for r := 0; r < nr; r++ {
				m[r], l[r] = negInf, 0
				clear(out[((i0+r)*H+h)*d : ((i0+r)*H+h+1)*d])
			}
			lastKey := s.Pos + i1 - 1
			for j0 := 0; j0 <= lastKey; j0 += bc {
				j1 := min(j0+bc, lastKey+1)
				nc := j1 - j0
				for r := 0; r < nr; r++ {
					lim := s.Pos + i0 + r
					qi := q[((i0+r)*H+h)*d : ((i0+r)*H+h+1)*d]
					srow := sb[r*bc : r*bc+nc]
					visible := max(0, min(nc, lim-j0+1))
					keyScores(srow, qi, k, (j0*KV+g)*d, KV*d, visible, scale)
					mnew := m[r]
					for _, x := range srow[:visible] {
						mnew = max(mnew, x)
					}
					for c := visible; c < nc; c++ {
						srow[c] = negInf
					}
					if mnew == negInf {
						continue // every key of this block is in row r's future
					}
					oi := out[((i0+r)*H+h)*d : ((i0+r)*H+h+1)*d]
					if m[r] != mnew {
						alpha := exp32(m[r] - mnew)
						l[r] *= alpha
						for t := range oi {
							oi[t] *= alpha
						}
						m[r] = mnew
					}
					Exp32Shift(srow[:visible], srow[:visible], mnew)
					var rs float32
					for _, pv := range srow[:visible] {
						rs += pv
					}
					accumulateValues(oi, srow, v, (j0*KV+g)*d, KV*d, visible)
					l[r] += rs
				}
			}
			for r := 0; r < nr; r++ {
				oi := out[((i0+r)*H+h)*d : ((i0+r)*H+h+1)*d]
				inv := 1 / l[r]
				for t := range oi {
					oi[t] *= inv
				}
				if lse != nil {
					lse[h*s.N+i0+r] = m[r] + float32(math.Log(float64(l[r])))
				}
			}
		}
	})
}

// flash2Backward is FlashAttention-2 Algorithm 2: with D = rowsum(dO∘O),
// for each key/value block Kⱼ, Vⱼ and each query block Qᵢ that sees it,
// recompute P = exp(QᵢKⱼᵀ·scale − Lᵢ) tile by tile, and accumulate
// dVⱼ += Pᵀ·dOᵢ, dS = P∘(dOᵢVⱼᵀ − Dᵢ), dQᵢ += scale·dS·Kⱼ and
// dKⱼ += scale·dSᵀ·Qᵢ. The paper puts the key/value loop outermost so that
// dKⱼ and dVⱼ stay in on-chip memory; here a goroutine owns each key/value
// head (and so its dK, dV and its query heads' dQ), the accumulations never
// race, and the query loop is outermost so that Dᵢ is computed once.
func (e Exec) flash2Backward(dq, dk, dv, q, k, v, out, lse, dout []float32, s AttnShape) {
	d, H, KV, G := s.HeadDim, s.Heads, s.KVHeads, s.Heads/s.KVHeads
	br, bc := e.blocks()
	scale := s.Scale()
	T := s.Keys()
	clear(dq)
	e.parallelRows(KV, 1, G*s.N*T*d, func(g0, g1 int) {
		pb := make([]float32, br*bc)
		dsb := make([]float32, br*bc)
		dd := make([]float32, br)
		vis := make([]int, br)
		for g := g0; g < g1; g++ {
			for h := g * G; h < (g+1)*G; h++ {
				for i0 := 0; i0 < s.N; i0 += br {
					i1 := min(i0+br, s.N)
					nr := i1 - i0
					for r := 0; r < nr; r++ {
						o := ((i0+r)*H + h) * d
						dd[r] = Dot(dout[o:o+d], out[o:o+d])
					}
					lastKey := s.Pos + i1 - 1
					for j0 := 0; j0 <= lastKey; j0 += bc {
						j1 := min(j0+bc, lastKey+1)
						nc := j1 - j0
						for r := 0; r < nr; r++ {
							o := ((i0+r)*H + h) * d
							qi, doi := q[o:o+d], dout[o:o+d]
							L := lse[h*s.N+i0+r]
							lim := s.Pos + i0 + r
							visible := max(0, min(nc, lim-j0+1))
							prow := pb[r*bc : r*bc+visible]
							dsrow := dsb[r*bc : r*bc+visible]
							base := (j0*KV + g) * d
							keyScores(prow, qi, k, base, KV*d, visible, scale)
							keyScores(dsrow, doi, v, base, KV*d, visible, 1)
							Exp32Shift(prow, prow, L) // exp32(x−L), sixteen at a time
							for c, pv := range prow {
								dsrow[c] = scale * pv * (dsrow[c] - dd[r])
							}
							accumulateValues(dq[o:o+d], dsrow, k, base, KV*d, visible)
							vis[r] = visible
						}
						// dV += Pᵀ·dO and dK += dSᵀ·Q, key by key: each key's
						// rows in order (the rows that see key c are those
						// from the first whose visible count passes c: the
						// counts grow with r), so every element is summed
						// in the order of one Axpy per row and key.
						r0 := 0
						for c := range nc {
							for r0 < nr && vis[r0] <= c {
								r0++
							}
							if r0 == nr {
								break
							}
							kv := (j0+c)*KV*d + g*d
							o := ((i0+r0)*H + h) * d
							axpyRows(dv[kv:kv+d], pb[r0*bc+c:], bc, dout[o:], H*d, nr-r0)
							axpyRows(dk[kv:kv+d], dsb[r0*bc+c:], bc, q[o:], H*d, nr-r0)
						}
					}
				}
			}
		}
	})
}
