package kernels

import (
	"fmt"
	"math"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// actValues returns the activation as the integer kernels see it, in x's
// order: each code times its block's scale.
func actValues(x []float32, block int) []float64 {
	var a *act8
	if block == 256 {
		a = act256(x)
	} else {
		a = act32(x, 0, false)
	}
	v := make([]float64, len(x))
	for i := range v {
		v[i] = float64(a.q[i]) * float64(a.d[i/block])
	}
	return v
}

// intDotCase is one matrix for the integer-dot tests: its dequantised
// weights as the integer kernels use them and the activation block.
type intDotCase struct {
	name  string
	q     *QMatrix
	w     []float32 // the weights the integer kernel multiplies
	block int
}

// intDotCases returns matrices of every integer-dot format. NF4/FP4 rows
// of 96 values start mid-block every other row; Q8_0/Q4_0/Q5_0 rows of 96
// values are not multiples of 256, as in the fallback tensors of a Q4_K_M
// file.
func intDotCases(t *testing.T, rows int) []intDotCase {
	t.Helper()
	var cs []intDotCase
	for i, d := range []weights.DType{weights.Q8_0, weights.Q4_0, weights.Q5_0, weights.Q4_K, weights.Q6_K} {
		for _, cols := range []int{64, 96, 224, 288, 320, 512, 768} {
			if (d == weights.Q4_K || d == weights.Q6_K) && cols%256 != 0 {
				continue
			}
			data := randGGML(t, uint64(10*i+cols), d, rows, cols)
			q, err := FromGGML(d, rows, cols, data)
			if err != nil {
				t.Fatal(err)
			}
			w, err := quant.Dequantize(&weights.Tensor{Name: "w", Shape: []int{rows, cols}, DType: d, Data: data})
			if err != nil {
				t.Fatal(err)
			}
			block := 32
			if d == weights.Q4_K || d == weights.Q6_K {
				block = 256
			}
			cs = append(cs, intDotCase{fmt.Sprintf("%v/%d", d, cols), q, w, block})
		}
	}
	for _, m := range []Method{NF4, FP4} {
		for _, dq := range []bool{false, true} {
			for _, cols := range []int{96, 224, 320, 512, 64 * 300, 32 * 601} {
				q, err := QuantizeConfig(randVec(uint64(cols), rows*cols, 0.02), rows, cols, QuantConfig{Method: m, DoubleQuant: dq})
				if err != nil {
					t.Fatal(err)
				}
				tab := &nf4Int8
				if m == FP4 {
					tab = &fp4Int8
				}
				w := make([]float32, rows*cols)
				for i := range w {
					c := q.Data[i/2]
					if i%2 == 0 {
						c >>= 4
					}
					w[i] = float32(tab.vals[c&15]) * tab.scale * q.blockScale(i/Block4Bit)
				}
				cs = append(cs, intDotCase{fmt.Sprintf("%v/dq=%v/%d", m, dq, cols), q, w, 32})
			}
		}
	}
	return cs
}

// TestIntDotKernels checks every integer-dot kernel against the fp64
// product of the matrix with the activation as the kernel quantised it:
// the two differ only by float rounding, so the tolerance is 1e-5 of
// Σ|w·x̂|. It also checks that the result is within the activation's
// rounding bound, Σ|w|·|x − x̂|, of the float product, with 1, 2 and 3
// threads.
func TestIntDotKernels(t *testing.T) {
	if !useVNNI {
		t.Skip("no AVX-512 VNNI on this CPU: the float kernels run instead (tested by TestGGMLKernels)")
	}
	testIntDotKernels(t)
}

// TestIntDotKernelsNoVBMI is TestIntDotKernels with the VNNI-only forms of
// the kernels that have a VBMI one, as on a CPU without VBMI.
func TestIntDotKernelsNoVBMI(t *testing.T) {
	if !useVBMI {
		t.Skip("no AVX-512 VBMI on this CPU: TestIntDotKernels runs the VNNI-only kernels")
	}
	noVBMI = true
	defer func() { noVBMI = false }()
	testIntDotKernels(t)
}

func testIntDotKernels(t *testing.T) {
	const rows = 37
	for _, c := range intDotCases(t, rows) {
		cols := c.q.Cols
		for _, scale := range []float64{1, 1e-6, 1e4} {
			x := randVec(uint64(cols)+7, cols, scale)
			// Scale extremes: a block of zeros and a block with one huge
			// value among small ones.
			clear(x[:32])
			x[40] = float32(1000 * scale)
			xh := actValues(x, c.block)
			for _, e := range []Exec{{}, {Threads: 2}, {Threads: 3}} {
				out := make([]float32, rows)
				if err := e.QMatVec(out, c.q, x); err != nil {
					t.Fatal(err)
				}
				// The same vector as row 1 and row 5 of a batch of six
				// (the four-activation kernels take rows 0-3, the
				// one-activation ones rows 4-5).
				var xn []float32
				for b := 0; b < 6; b++ {
					if b == 1 || b == 5 {
						xn = append(xn, x...)
					} else {
						xn = append(xn, randVec(uint64(5+b), cols, scale)...)
					}
				}
				outN := make([]float32, 6*rows)
				if err := e.QMatMul(outN, xn, c.q, 6); err != nil {
					t.Fatal(err)
				}
				for r := 0; r < rows; r++ {
					var want, mag, fl, bound float64
					for i := 0; i < cols; i++ {
						w := float64(c.w[r*cols+i])
						want += w * xh[i]
						mag += math.Abs(w * xh[i])
						fl += w * float64(x[i])
						bound += math.Abs(w) * math.Abs(float64(x[i])-xh[i])
					}
					got := float64(out[r])
					// Rows 1 and 5 of the batch: the same sums in another order.
					for _, g := range []float32{outN[rows+r], outN[5*rows+r]} {
						if math.Abs(float64(g)-got) > 1e-5*mag+1e-30 {
							t.Fatalf("%s scale %g %+v row %d: QMatMul gives %g, QMatVec %g", c.name, scale, e, r, g, got)
						}
					}
					if math.Abs(got-want) > 1e-5*mag+1e-30 {
						t.Fatalf("%s scale %g %+v row %d: %g, want %g (|w·x̂| %g)", c.name, scale, e, r, got, want, mag)
					}
					if math.Abs(got-fl) > bound*(1+1e-4)+1e-5*mag+1e-30 {
						t.Fatalf("%s scale %g row %d: %g is %g from the float product %g, over the rounding bound %g", c.name, scale, r, got, math.Abs(got-fl), fl, bound)
					}
				}
			}
		}
	}
}

// TestInt8Tables checks the int8 forms of the NF4/FP4 tables: each value
// is within half a step (max|table|/254) of the float table.
func TestInt8Tables(t *testing.T) {
	for _, c := range []struct {
		name string
		tab  *[16]float32
		it   *int8Table
	}{{"nf4", &nf4Code, &nf4Int8}, {"fp4", &fp4Code, &fp4Int8}} {
		for i, v := range c.tab {
			got := float32(c.it.vals[i]) * c.it.scale
			if d := math.Abs(float64(got - v)); d > float64(c.it.scale)/2*(1+1e-6) {
				t.Errorf("%s[%d] = %g as int8, want %g (step %g)", c.name, i, got, v, c.it.scale)
			}
			for l := 0; l < 4; l++ {
				if int(c.it.codes[16*l+i]) != int(c.it.vals[i])+128 {
					t.Errorf("%s[%d]: code %d in lane %d for value %d", c.name, i, c.it.codes[16*l+i], l, c.it.vals[i])
				}
			}
		}
	}
}

// TestActQuant checks the activation quantisation: codes within ±127,
// each value within half a step of its block's scale, and the sums.
func TestActQuant(t *testing.T) {
	x := randVec(3, 512, 2)
	x[5] = 0
	clear(x[256:288])
	for _, block := range []int{32, 256} {
		xh := actValues(x, block)
		for i, v := range x {
			var d float32
			if block == 32 {
				d = act32(x, 0, false).d[i/32]
			} else {
				d = act256(x).d[i/256]
			}
			if math.Abs(float64(v)-xh[i]) > float64(d)/2*(1+1e-5) {
				t.Fatalf("block %d: x[%d] = %g quantised to %g (step %g)", block, i, v, xh[i], d)
			}
		}
	}
	a := act32(x, 8, true)
	for l := 0; l < len(x)/4; l++ {
		var s int32
		for _, v := range a.q[4*l : 4*l+4] {
			s += int32(v)
		}
		if a.bias[l] != -8*s {
			t.Fatalf("bias of lane %d is %d, want %d", l, a.bias[l], -8*s)
		}
	}
	k := act256(x)
	for i := range k.s16 {
		var s int16
		for _, v := range k.q[16*i : 16*i+16] {
			s += int16(v)
		}
		if k.s16[i] != s {
			t.Fatalf("sum of 16-value group %d is %d, want %d", i, k.s16[i], s)
		}
	}
	for i := range k.s32 {
		var s int16
		for _, v := range k.q[32*i : 32*i+32] {
			s += int16(v)
		}
		if k.s32[i] != s || k.s16[2*i]+k.s16[2*i+1] != s {
			t.Fatalf("sums of sub-block %d wrong", i)
		}
	}
}

// quantBlock is the reference of quantBlocksAVX512 for one block: it
// quantises x symmetrically to q with the scale amax/127, rounding to
// nearest even, and returns the scale.
func quantBlock(q []int8, x []float32) float32 {
	var amax float32
	nan := false
	for _, v := range x {
		a := math.Float32frombits(math.Float32bits(v) &^ 0x80000000)
		if a > amax { // rarely taken, unlike a sign test; max() is slower
			amax = a
		}
		nan = nan || a != a
	}
	if nan {
		amax = float32(math.NaN())
	}
	if amax == 0 || amax != amax || amax > math.MaxFloat32 {
		// Zeros, or a NaN or infinity that the float kernels would spread
		// through the product: zero codes and a NaN scale do the same.
		clear(q)
		if amax == 0 {
			return 0
		}
		return float32(math.NaN())
	}
	d := amax / 127
	id := 127 / amax
	for i, v := range x {
		q[i] = int8(math.RoundToEven(float64(v * id)))
	}
	return d
}

// TestQuantBlocks checks quantBlocksAVX512 against quantBlock, with a block
// of zeros, one holding a NaN and one with an extreme value.
func TestQuantBlocks(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512: the integer-dot path, the only user, does not run")
	}
	for _, bs := range []int{32, 256} {
		x := randVec(9, 6*bs, 3)
		clear(x[bs : 2*bs])
		x[2*bs+5] = float32(math.NaN())
		x[3*bs+7] = 1e30
		x[4*bs+1] = -1e-30
		nb := len(x) / bs
		q := make([]int8, len(x))
		d := make([]float32, nb)
		quantBlocksAVX512(&x[0], nb, bs/16, &q[0], &d[0])
		for b := 0; b < nb; b++ {
			wq := make([]int8, bs)
			wd := quantBlock(wq, x[b*bs:(b+1)*bs])
			if math.Float32bits(wd) != math.Float32bits(d[b]) && !(wd != wd && d[b] != d[b]) {
				t.Fatalf("block %d of %d: scale %g, want %g", b, bs, d[b], wd)
			}
			for i := range wq {
				if q[b*bs+i] != wq[i] {
					t.Fatalf("block %d of %d: code %d = %d, want %d (x %g)", b, bs, i, q[b*bs+i], wq[i], x[b*bs+i])
				}
			}
		}
	}
}

// TestSums16 checks sums16 against the byte-by-byte sum on codes at the
// extremes of int8 (every byte of a word -128 or 127, which fill its
// 16-bit lanes the most) and on random ones.
func TestSums16(t *testing.T) {
	var q []int8
	for _, c := range []int8{-128, 127, -127, 0, -1, 1} {
		for range 16 {
			q = append(q, c)
		}
	}
	for i := 0; i < 16; i++ { // alternating extremes
		q = append(q, int8(-128+255*(i%2)))
	}
	for i, v := range randVec(9, 16*40, 300) {
		q = append(q, int8(max(-128, min(127, int(v)+i%3))))
	}
	s := make([]int16, len(q)/16)
	sums16(q, s)
	for i := range s {
		var want int16
		for _, v := range q[16*i : 16*i+16] {
			want += int16(v)
		}
		if s[i] != want {
			t.Errorf("group %d (%v): sum %d, want %d", i, q[16*i:16*i+16], s[i], want)
		}
	}
}
