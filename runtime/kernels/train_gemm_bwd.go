package kernels

// TrainMatMulNN is MatMulNN (out = A·B for A [n, m], B [m, k], out
// [n, k]: a linear layer's input gradient dX = dY·W) on the AVX-512 8×32
// tile, with the same blocks of sums as MatMulNN's AVX2 kernel, so its
// results are bit for bit MatMulNN's; it writes out without clearing it
// first. Without AVX-512 it is MatMulNN.
func (e Exec) TrainMatMulNN(out, a, b []float32, n, m, k int) error {
	if !e.avx512() || k < 32 {
		return e.MatMulNN(out, a, b, n, m, k)
	}
	if err := checkDims("TrainMatMulNN", n, m, k); err != nil {
		return err
	}
	if err := checkLen("TrainMatMulNN", "out", len(out), n*k); err != nil {
		return err
	}
	if err := checkLen("TrainMatMulNN", "A", len(a), n*m); err != nil {
		return err
	}
	if err := checkLen("TrainMatMulNN", "B", len(b), m*k); err != nil {
		return err
	}
	e.parallelRows(n, 8, m*k, func(lo, hi int) {
		s := trainScratchPool.Get().(*trainScratch)
		trainGemmRange(out, a, m, 1, b, k, lo, hi, m, k, false, s)
		trainScratchPool.Put(s)
	})
	return nil
}

// TrainMatMulTransA is MatMulTransA (out = Aᵀ·B for A [n, m], B [n, k],
// out [m, k], added to out when accumulate is set: a linear layer's
// weight gradient dW = dYᵀ·X) on the AVX-512 8×32 tile, bit for bit
// MatMulTransA's; it writes out without clearing it first. Without
// AVX-512 it is MatMulTransA.
func (e Exec) TrainMatMulTransA(out, a, b []float32, n, m, k int, accumulate bool) error {
	if !e.avx512() || k < 32 {
		return e.MatMulTransA(out, a, b, n, m, k, accumulate)
	}
	if err := checkDims("TrainMatMulTransA", n, m, k); err != nil {
		return err
	}
	if err := checkLen("TrainMatMulTransA", "out", len(out), m*k); err != nil {
		return err
	}
	if err := checkLen("TrainMatMulTransA", "A", len(a), n*m); err != nil {
		return err
	}
	if err := checkLen("TrainMatMulTransA", "B", len(b), n*k); err != nil {
		return err
	}
	e.parallelRows(m, 8, n*k, func(lo, hi int) {
		s := trainScratchPool.Get().(*trainScratch)
		trainGemmRange(out, a, 1, m, b, k, lo, hi, n, k, accumulate, s)
		trainScratchPool.Put(s)
	})
	return nil
}

// trainGemmRange is gemmRange on the AVX-512 8×32 tile: it sets rows
// [lo, hi) of out, a row-major [·, n] matrix, to (or, with accumulate,
// adds to them) the product of A and B over kdim: out[i][c] = Σ_p
// A[i·as + p·ak]·B[p·bs + c]. The sums run in gemmRange's blocks of kc,
// each in one FMA chain (in Go, unfused, for the columns past the last
// 32, as gemmTail sums them) and then added in order, so every element
// is bit for bit gemmRange's on a cleared out, whatever lo and hi are.
func trainGemmRange(out, a []float32, as, ak int, b []float32, bs, lo, hi, kdim, n int, accumulate bool, s *trainScratch) {
	kc := min(max(65536/n, 32), 512)
	n32 := n &^ 31
	full := lo + (hi-lo)/8*8
	rem := hi - full
	if ak != 1 {
		s.panel = grow(s.panel, 8*kc)
	}
	if rem > 0 {
		s.a = grow(s.a, 8*kc)
		s.c = grow(s.c, 8*n)
		if accumulate {
			copy(s.c, out[full*n:hi*n])
		}
	}
	for p0 := 0; p0 < kdim; p0 += kc {
		kb := min(kc, kdim-p0)
		add := accumulate || p0 > 0
		if !add && n32 < n {
			for i := lo; i < hi; i++ {
				clear(out[i*n+n32 : (i+1)*n])
			}
		}
		i := lo
		if ak != 1 && as == 1 {
			// dW = Gᵀ·X: A's values for one p lie along a row of G, its
			// rows a whole row of G apart. Thirty-two of them at a time
			// are gathered into [kb][32] with one copy per p, which reads
			// whole cache lines (and each page once) for four tiles of
			// eight rows instead of one; the sums are those of the tiles
			// below.
			s.wide = grow(s.wide, 32*kb)
			pk := s.wide[:32*kb]
			for ; i+32 <= full; i += 32 {
				for p := range kb {
					copy(pk[p*32:p*32+32], a[(p0+p)*ak+i:])
				}
				_ = b[(p0+kb-1)*bs+n32-1]
				for q := 0; q < 32; q += 8 {
					_ = out[(i+q+7)*n+n32-1]
					for j := 0; j < n32; j += 32 {
						trainGemm8x32AVX512(&pk[q], 1, 32, &b[p0*bs+j], bs, kb, &out[(i+q)*n+j], n, kb, add)
					}
					gemmTail(out, a, as, ak, b, bs, i+q, i+q+8, p0, kb, n32, n)
				}
			}
		}
		for ; i < full; i += 8 {
			_ = a[(i+7)*as+(p0+kb-1)*ak]
			_ = out[(i+7)*n+n32-1]
			pa, sa, ka := a[i*as+p0*ak:], as, ak
			if ak != 1 {
				// A's eight values for one p lie a whole row of A apart
				// (dW = Gᵀ·X): gather them once into [kb][8].
				pk := s.panel[:8*kb]
				for p := range kb {
					for r := range 8 {
						pk[p*8+r] = a[(i+r)*as+(p0+p)*ak]
					}
				}
				pa, sa, ka = pk, 1, 8
			}
			_ = b[(p0+kb-1)*bs+n32-1]
			for j := 0; j < n32; j += 32 {
				trainGemm8x32AVX512(&pa[0], sa, ka, &b[p0*bs+j], bs, kb, &out[i*n+j], n, kb, add)
			}
			gemmTail(out, a, as, ak, b, bs, i, i+8, p0, kb, n32, n)
		}
		if rem == 0 {
			continue
		}
		pa := s.a[:8*kb]
		clear(pa)
		for r := range rem {
			for p := range kb {
				pa[r*kb+p] = a[(full+r)*as+(p0+p)*ak]
			}
		}
		_ = b[(p0+kb-1)*bs+n32-1]
		for j := 0; j < n32; j += 32 {
			trainGemm8x32AVX512(&pa[0], kb, 1, &b[p0*bs+j], bs, kb, &s.c[j], n, kb, add)
		}
		gemmTail(out, a, as, ak, b, bs, full, hi, p0, kb, n32, n)
	}
	for r := range rem {
		copy(out[(full+r)*n:(full+r)*n+n32], s.c[r*n:r*n+n32])
	}
}
