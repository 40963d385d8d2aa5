package kernels

import "fmt"

// parallelStacked is parallelRows over several products stacked one above
// the other, product i having rows[i] rows of rowWork multiply-adds: the
// threads share all their rows as one range, so that the products cost
// one hand-off to the pool's workers and the shares are balanced over all
// of them. fn(i, lo, hi) computes rows [lo, hi) of product i. Every
// rows[i] must be a multiple of align, so that ranges start aligned within
// each product too.
func (e Exec) parallelStacked(rows []int, align, rowWork int, fn func(i, lo, hi int)) {
	total := 0
	for _, r := range rows {
		total += r
	}
	e.parallelRows(total, align, rowWork, func(lo, hi int) {
		base := 0
		for i, r := range rows {
			if lo < base+r && hi > base {
				fn(i, max(lo-base, 0), min(hi-base, r))
			}
			base += r
		}
	})
}

// QMatVecs sets outs[i] = qs[i]·x for quantised matrices that share their
// input x (a layer's query, key and value projections, or its gate and up
// projections), as one parallel product: x is quantised once for the
// integer-dot kernels, and the threads share the rows of all the matrices
// (parallelStacked). Each element is the one QMatVec gives: the same
// kernels on the same rows. Matrices that differ in format or width, or
// whose format has no integer-dot kernel here, are multiplied one after
// another by QMatVec.
func (e Exec) QMatVecs(outs [][]float32, qs []*QMatrix, x []float32) error {
	if len(outs) != len(qs) {
		return fmt.Errorf("kernels: QMatVecs: %d outputs for %d matrices", len(outs), len(qs))
	}
	if len(qs) == 0 {
		return nil
	}
	together := e.vnni()
	for i, q := range qs {
		if err := q.Validate(); err != nil {
			return err
		}
		if err := checkLen("QMatVecs", "out", len(outs[i]), q.Rows); err != nil {
			return err
		}
		if err := checkLen("QMatVecs", "x", len(x), q.Cols); err != nil {
			return err
		}
		q0 := qs[0]
		together = together && intDotMethod(q) && q.Method == q0.Method && q.DoubleQuant == q0.DoubleQuant && q.Cols == q0.Cols
	}
	if !together {
		for i, q := range qs {
			if err := e.QMatVec(outs[i], q, x); err != nil {
				return err
			}
		}
		return nil
	}
	a := intQuant1(qs[0], x)
	defer actPool.Put(a)
	var buf [8]int
	rows := buf[:0]
	for _, q := range qs {
		rows = append(rows, q.Rows)
	}
	if e.threads() <= 1 {
		for i, q := range qs {
			intRows1(q, a, outs[i], 0, q.Rows)
		}
		return nil
	}
	e.parallelStacked(rows, 1, intWork(qs[0]), func(i, lo, hi int) {
		intRows1(qs[i], a, outs[i], lo, hi)
	})
	return nil
}

// MatVecs sets outs[i] = W_i·x for fp32 matrices ws[i] of rows[i] × cols
// that share their input x, as one parallel product (parallelStacked).
// Each element is the one MatVec gives, in llama2.c's summation order.
// Matrices with a number of rows that is not a multiple of four (the
// kernel's row unroll) are multiplied one after another by MatVec.
func (e Exec) MatVecs(outs, ws [][]float32, rows []int, x []float32, cols int) error {
	if len(outs) != len(ws) || len(rows) != len(ws) {
		return fmt.Errorf("kernels: MatVecs: %d outputs, %d matrices and %d row counts", len(outs), len(ws), len(rows))
	}
	together := true
	for i := range ws {
		if err := checkDims("MatVecs", rows[i], cols); err != nil {
			return err
		}
		if err := checkLen("MatVecs", "out", len(outs[i]), rows[i]); err != nil {
			return err
		}
		if err := checkLen("MatVecs", "W", len(ws[i]), rows[i]*cols); err != nil {
			return err
		}
		together = together && rows[i]%4 == 0
	}
	if err := checkLen("MatVecs", "x", len(x), cols); err != nil {
		return err
	}
	if !together {
		for i := range ws {
			if err := e.MatVec(outs[i], ws[i], x, rows[i], cols); err != nil {
				return err
			}
		}
		return nil
	}
	asm, avx512 := useAsm && !e.NoAsm, e.avx512()
	e.parallelStacked(rows, 4, cols, func(i, lo, hi int) {
		matVecRange(asm, avx512, outs[i], ws[i], x, cols, lo, hi)
	})
	return nil
}
