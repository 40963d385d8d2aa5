package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/internal/half"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// blockCodes returns the signed integer codes and the scale of block b of
// a Q8_0, Q4_0 or Q5_0 row as the integer kernels multiply them.
func blockCodes(q *QMatrix, row, b int) ([32]int32, float64) {
	var c [32]int32
	nb := q.Cols / 32
	switch q.Method {
	case Q8_0:
		rec := q.Data[(row*nb+b)*34:]
		for i := range c {
			c[i] = int32(int8(rec[2+i]))
		}
		return c, float64(half.F16ToF32(binary.LittleEndian.Uint16(rec)))
	case Q5_0:
		rec := q.Data[(row*nb+b)*22:]
		qh := binary.LittleEndian.Uint32(rec[2:])
		for i := 0; i < 16; i++ {
			c[i] = int32(rec[6+i]&15|byte(qh>>i&1)<<4) - 16
			c[16+i] = int32(rec[6+i]>>4|byte(qh>>(16+i)&1)<<4) - 16
		}
		return c, float64(half.F16ToF32(binary.LittleEndian.Uint16(rec)))
	default: // Q4_0
		rec := q.Data[(row*nb+b)*18:]
		for i := 0; i < 16; i++ {
			c[i], c[16+i] = int32(rec[2+i]&15)-8, int32(rec[2+i]>>4)-8
		}
		return c, float64(half.F16ToF32(binary.LittleEndian.Uint16(rec)))
	}
}

// TestIntMatMulG8 checks the eight-activation Q8_0, Q4_0 and Q5_0 prefill
// kernels against the exact reference: each block's integer dot product
// of weight and activation codes (computed here in int64), scaled by the
// two block scales and summed in float64. The kernels' integer sums are
// exact, so the only difference is float32 rounding: a float32 epsilon of
// Σ|w·x| (over each four codes) per level of the accumulation and of the
// reduction tree.
// Batches of 8 to 25 activations cover full groups and padded remainders,
// 37 rows every tile remainder, and the column counts every number of
// blocks past a group of eight, up to 43 blocks (42M's down projection); the
// weights include the extreme codes -128 and 127, and the activations a
// zero block, a block with one huge value and codes of ±127.
func TestIntMatMulG8(t *testing.T) {
	if !(Exec{}).vnni() {
		t.Skip("no AVX-512 VNNI on this CPU: the float kernels run instead (tested by TestGGMLKernels)")
	}
	const rows = 37
	for _, d := range []weights.DType{weights.Q8_0, weights.Q4_0, weights.Q5_0} {
		for _, cols := range []int{32, 64, 96, 128, 160, 192, 224, 256, 288, 480, 768, 1376} {
			data := randGGML(t, uint64(cols), d, rows, cols)
			if d == weights.Q8_0 {
				data[2], data[3], data[34+2] = 0x80, 0x7f, 0x80 // codes -128, 127
			}
			q, err := FromGGML(d, rows, cols, data)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{8, 9, 12, 15, 16, 17, 23, 25} {
				x := randVec(uint64(n*cols), n*cols, 1)
				clear(x[cols : cols+32])             // activation 1: a zero block
				x[2*cols+3] = 1e4                    // activation 2: one huge value
				for i := 3 * cols; i < 4*cols; i++ { // activation 3: codes ±127
					x[i] = float32(1 - 2*(i%2))
				}
				// Q4_0's and Q8_0's rows two at a time and one at a time.
				onerow := []bool{false}
				if d == weights.Q4_0 || d == weights.Q8_0 {
					onerow = append(onerow, true)
				}
				for i, e := range []Exec{{Threads: 1}, {Threads: 2}, {Threads: 1}, {Threads: 2}} {
					if i/2 >= len(onerow) {
						break
					}
					name := fmt.Sprintf("%v/%d/n=%d/threads=%d/noX2=%v", d, cols, n, e.Threads, onerow[i/2])
					out := make([]float32, n*rows)
					noX2 = onerow[i/2]
					err := e.QMatMul(out, x, q, n)
					noX2 = false
					if err != nil {
						t.Fatal(err)
					}
					for b := 0; b < n; b++ {
						a := act32(x[b*cols:(b+1)*cols], 0, false)
						for r := 0; r < rows; r++ {
							var want, mag float64
							for k := 0; k < cols/32; k++ {
								w, dw := blockCodes(q, r, k)
								var s int64
								for i := 0; i < 32; i += 4 {
									var l int64 // a quarter of one of the kernel's lanes
									for j := i; j < i+4; j++ {
										l += int64(w[j]) * int64(a.q[32*k+j])
									}
									s += l
									mag += math.Abs(float64(l) * dw * float64(a.d[k]))
								}
								want += float64(s) * dw * float64(a.d[k])
							}
							got := float64(out[b*rows+r])
							if math.Abs(got-want) > 1.2e-7*mag*float64(8+cols/128)+1e-30 {
								t.Fatalf("%s: activation %d row %d: %g, want %g (Σ|term| %g)", name, b, r, got, want, mag)
							}
						}
						actPool.Put(a)
					}
				}
			}
		}
	}
}

// TestIntMatMulG8NaN checks that a NaN in an activation makes every
// product with it NaN, as the float kernels do, and leaves the others of
// its group finite.
func TestIntMatMulG8NaN(t *testing.T) {
	if !(Exec{}).vnni() {
		t.Skip("no AVX-512 VNNI")
	}
	const rows, cols, n = 5, 96, 9
	for _, d := range []weights.DType{weights.Q8_0, weights.Q4_0} {
		q, err := FromGGML(d, rows, cols, randGGML(t, 5, d, rows, cols))
		if err != nil {
			t.Fatal(err)
		}
		x := randVec(6, n*cols, 1)
		x[3*cols+40] = float32(math.NaN())
		out := make([]float32, n*rows)
		if err := (Exec{Threads: 1}).QMatMul(out, x, q, n); err != nil {
			t.Fatal(err)
		}
		for b := 0; b < n; b++ {
			for r := 0; r < rows; r++ {
				if v := out[b*rows+r]; (b == 3) != math.IsNaN(float64(v)) {
					t.Fatalf("%v activation %d row %d: %g", d, b, r, v)
				}
			}
		}
	}
}

// TestAct32g8 checks act32g8's layout against its definition, written out
// code by code: per group of eight blocks, run r = 2h+s holds codes
// 16h+8s..16h+8s+7 of block c, then of block c+4, for c < 4, except a
// last group of one to four blocks, which holds values 0-15 of each block
// and then 16-31; lane l's bias is -k times the codes at bytes 4l..4l+3 of
// the four runs; the scales are spread over their blocks' lanes; the
// padding is zero.
func TestAct32g8(t *testing.T) {
	if !useAVX512 {
		t.Skip("no AVX-512: the integer-dot path, the only user, does not run")
	}
	for _, nb := range []int{1, 4, 5, 7, 8, 9, 12, 13, 16, 43} {
		x := randVec(uint64(nb), 32*nb, 3)
		clear(x[:32])
		ref := act32(x, 0, false)
		for _, k := range []int32{8, 128} {
			a := act32g8(x, k, false)
			ng := (nb + 7) / 8
			if len(a.q) != 256*ng || len(a.bias) != 16*ng || len(a.d) != 8*ng {
				t.Fatalf("%d blocks: %d codes, %d biases, %d scales", nb, len(a.q), len(a.bias), len(a.d))
			}
			for g := 0; g < ng; g++ {
				// code returns block 8g+c's code i, 0 past the end.
				code := func(c, i int) int8 {
					if b := 8*g + c; b < nb {
						return ref.q[32*b+i]
					}
					return 0
				}
				half := g == ng-1 && nb%8 != 0 && nb%8 <= 4
				for l := 0; l < 16; l++ {
					blk := l/4 + 4*(l%4/2)
					if half {
						blk = l / 4
					}
					if got, want := a.dxv[16*g+l], ref.d[min(8*g+blk, nb-1)]; 8*g+blk < nb && got != want || 8*g+blk >= nb && got != 0 {
						t.Fatalf("%d blocks: group %d lane %d scale %g, want block %d's %g", nb, g, l, got, 8*g+blk, want)
					}
				}
				for p := 0; p < 256; p++ {
					var want int8
					switch r, c, i := p/64, p%64/16, p%16; {
					case half && r < 2: // block c's values 16r..16r+15
						want = code(c, 16*r+i)
					case half: // unused
					default: // block c or c+4, codes 16h+8s..
						want = code(c+4*(i/8), 16*(r/2)+8*(r%2)+i%8)
					}
					if got := a.q[256*g+p]; got != want {
						t.Fatalf("%d blocks: group %d code %d: %d, want %d", nb, g, p, got, want)
					}
				}
				for l := 0; l < 16; l++ {
					var s int32
					for r := 0; r < 4; r++ {
						for _, v := range a.q[256*g+64*r+4*l : 256*g+64*r+4*l+4] {
							s += int32(v)
						}
					}
					if a.bias[16*g+l] != -k*s {
						t.Fatalf("%d blocks, k %d: bias of group %d lane %d is %d, want %d", nb, k, g, l, a.bias[16*g+l], -k*s)
					}
				}
			}
			for b := range a.d {
				want := float32(0)
				if b < nb {
					want = ref.d[b]
				}
				if a.d[b] != want {
					t.Fatalf("%d blocks: scale %d is %g, want %g", nb, b, a.d[b], want)
				}
			}
			actPool.Put(a)
		}
		actPool.Put(ref)
	}
}

// TestIntMatMulG8NF4 checks the eight-activation NF4/FP4 prefill kernel,
// with and without double quantisation, against the exact reference: per
// 32-value half, the integer dot product of the int8 table values of the
// weight codes with the activation's codes, scaled by the half's weight
// scale (table scale included) and its activation block's scale. Half
// counts 1 to 10 and 43 cover every tail and rows that start mid-block.
func TestIntMatMulG8NF4(t *testing.T) {
	if !(Exec{}).vnni() {
		t.Skip("no AVX-512 VNNI")
	}
	const rows = 21
	var first []float32
	for _, m := range []Method{NF4, FP4} {
		tab := &nf4Int8
		if m == FP4 {
			tab = &fp4Int8
		}
		for _, dq := range []bool{false, true} {
			for _, cols := range []int{32, 96, 128, 160, 224, 256, 288, 320, 512, 1376} {
				q, err := QuantizeConfig(randVec(uint64(cols), rows*cols, 0.02), rows, cols, QuantConfig{Method: m, DoubleQuant: dq})
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range []int{8, 11, 16} {
					x := randVec(uint64(n+cols), n*cols, 1)
					clear(x[cols : cols+32])
					x[2*cols+5] = 1e4
					// Rows two at a time (dot4bitRows8x2O8VNNI) and one
					// at a time, on one thread (one odd range) and two.
					for i, e := range []Exec{{Threads: 1}, {Threads: 2}, {Threads: 1}, {Threads: 2}} {
						out := make([]float32, n*rows)
						noX2 = i >= 2
						err := e.QMatMul(out, x, q, n)
						noX2 = false
						if err != nil {
							t.Fatal(err)
						}
						if i == 0 {
							first = append(first[:0], out...)
						} else if !sameBits(out, first) {
							t.Fatalf("%v dq=%v %d cols n=%d: threads=%d noX2=%v differs from one thread's two-row result", m, dq, cols, n, e.Threads, i >= 2)
						}
						for b := 0; b < n; b++ {
							a := act32(x[b*cols:(b+1)*cols], 0, false)
							for r := 0; r < rows; r++ {
								var want, mag float64
								for h := 0; h < cols/32; h++ {
									ws := float64(q.blockScale((r*cols+32*h)/Block4Bit)) * float64(tab.scale)
									var s int64
									for i := 32 * h; i < 32*h+32; i++ {
										c := q.Data[(r*cols+i)/2]
										if i%2 == 0 {
											c >>= 4
										}
										p := int64(tab.vals[c&15]) * int64(a.q[i])
										s += p
										mag += math.Abs(float64(p) * ws * float64(a.d[h]))
									}
									want += float64(s) * ws * float64(a.d[h])
								}
								got := float64(out[b*rows+r])
								if math.Abs(got-want) > 1.2e-7*mag*float64(8+cols/128)+1e-30 {
									t.Fatalf("%v dq=%v %d cols n=%d threads=%d noX2=%v: activation %d row %d: %g, want %g (Σ|w·x| %g)", m, dq, cols, n, e.Threads, i >= 2, b, r, got, want, mag)
								}
							}
							actPool.Put(a)
						}
					}
				}
			}
		}
	}
}

// sameBits reports whether a and b hold the same float32 bit patterns.
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestIntMatMulG8Q4K checks the eight-activation Q4_K prefill kernel
// against the exact reference: per 256-value block, d·Σ sc·(q·x) −
// dmin·Σ m·S with the 6-bit scales and mins unpacked here, in integers,
// times the activation's block scale; 1 to 5 blocks per row.
func TestIntMatMulG8Q4K(t *testing.T) {
	if !(Exec{}).vnni() {
		t.Skip("no AVX-512 VNNI")
	}
	const rows = 19
	for _, cols := range []int{256, 512, 768, 1280} {
		nb := cols / 256
		data := randGGML(t, uint64(cols), weights.Q4_K, rows, cols)
		q, err := FromGGML(weights.Q4_K, rows, cols, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{8, 13} {
			x := randVec(uint64(n*cols), n*cols, 1)
			clear(x[cols : cols+256])
			x[2*cols+7] = 1e4
			out := make([]float32, n*rows)
			if err := (Exec{Threads: 2}).QMatMul(out, x, q, n); err != nil {
				t.Fatal(err)
			}
			for b := 0; b < n; b++ {
				a := act256(x[b*cols : (b+1)*cols])
				for r := 0; r < rows; r++ {
					var want, mag float64
					for k := 0; k < nb; k++ {
						rec := data[(r*nb+k)*144:]
						d := float64(half.F16ToF32(binary.LittleEndian.Uint16(rec)))
						dmin := float64(half.F16ToF32(binary.LittleEndian.Uint16(rec[2:])))
						sc, qs := rec[4:16], rec[16:144]
						xd := float64(a.d[k])
						var isum, msum int64
						for s := 0; s < 8; s++ {
							var scale, m int64
							if s < 4 {
								scale, m = int64(sc[s]&63), int64(sc[s+4]&63)
							} else {
								scale = int64(sc[s+4]&15 | sc[s-4]>>6<<4)
								m = int64(sc[s+4]>>4 | sc[s]>>6<<4)
							}
							var sum int64
							for j := 0; j < 32; j += 4 {
								var quad int64
								for i := j; i < j+4; i++ {
									c := qs[32*(s/2)+i]
									if s%2 == 1 {
										c >>= 4
									}
									v := int64(a.q[256*k+32*s+i])
									quad += int64(c&15) * v
									sum += v
								}
								isum += scale * quad
								mag += math.Abs(float64(scale*quad) * d * xd)
							}
							msum += m * sum
							mag += math.Abs(float64(m*sum) * dmin * xd)
						}
						want += xd * (d*float64(isum) - dmin*float64(msum))
					}
					got := float64(out[b*rows+r])
					if math.Abs(got-want) > 1.2e-7*mag*float64(8+nb)+1e-30 {
						t.Fatalf("%d cols n=%d: activation %d row %d: %g, want %g (Σ|term| %g)", cols, n, b, r, got, want, mag)
					}
				}
				actPool.Put(a)
			}
		}
	}
}

// TestIntMatMulG8Q6K checks the eight-activation Q6_K prefill kernel
// against the exact reference: per 256-value block, d·Σ sc·((q−32)·x)
// with the 6-bit codes and int8 scales unpacked here, in integers, times
// the activation's block scale; 1 to 5 blocks per row, batches with and
// without a padded last group, on two threads, and the extreme codes 0 and
// 63 and scales −128 and 127 (randGGML's bytes are uniform).
func TestIntMatMulG8Q6K(t *testing.T) {
	if !(Exec{}).vnni() {
		t.Skip("no AVX-512 VNNI")
	}
	const rows = 19
	for _, cols := range []int{256, 512, 768, 1280} {
		nb := cols / 256
		data := randGGML(t, uint64(cols)+1, weights.Q6_K, rows, cols)
		q, err := FromGGML(weights.Q6_K, rows, cols, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{8, 13, 16} {
			x := randVec(uint64(n*cols)+1, n*cols, 1)
			clear(x[cols : cols+256])
			x[2*cols+7] = 1e4
			out := make([]float32, n*rows)
			if err := (Exec{Threads: 2}).QMatMul(out, x, q, n); err != nil {
				t.Fatal(err)
			}
			for b := 0; b < n; b++ {
				a := act256(x[b*cols : (b+1)*cols])
				for r := 0; r < rows; r++ {
					var want, mag float64
					for k := 0; k < nb; k++ {
						rec := data[(r*nb+k)*210:]
						ql, qh, sc := rec[:128], rec[128:192], rec[192:208]
						d := float64(half.F16ToF32(binary.LittleEndian.Uint16(rec[208:])))
						xd := float64(a.d[k])
						var isum int64
						for v := 0; v < 256; v += 4 {
							var quad int64
							for i := v; i < v+4; i++ {
								h, g, l := i/128, i%128/32, i%32
								lo := ql[64*h+32*(g%2)+l]
								if g >= 2 {
									lo >>= 4
								}
								c := int64(lo&15|(qh[32*h+l]>>(2*g)&3)<<4) - 32
								quad += c * int64(a.q[256*k+i])
							}
							s := int64(int8(sc[v/16]))
							isum += s * quad
							mag += math.Abs(float64(s*quad) * d * xd)
						}
						want += xd * d * float64(isum)
					}
					got := float64(out[b*rows+r])
					if math.Abs(got-want) > 1.2e-7*mag*float64(8+nb)+1e-30 {
						t.Fatalf("%d cols n=%d: activation %d row %d: %g, want %g (Σ|term| %g)", cols, n, b, r, got, want, mag)
					}
				}
				actPool.Put(a)
			}
		}
	}
}

// TestQMatMuls checks that products sharing their input (a prefill's
// q/k/v or gate/up) give bit for bit what separate QMatMul calls give, in
// every format with an eight-activation kernel, for batches with and
// without a last partial group and on one, two and three threads (against
// one thread's separate products: which rows a thread takes must not
// change a result), and that
// matrices of different formats or widths, or batches under eight rows,
// take the separate products.
func TestQMatMuls(t *testing.T) {
	if !(Exec{}).vnni() {
		t.Skip("no AVX-512 VNNI on this CPU: QMatMuls runs QMatMul one by one")
	}
	mat := func(seed uint64, m Method, rows, cols int) *QMatrix {
		if m == NF4 {
			q, err := QuantizeConfig(randVec(seed, rows*cols, 0.02), rows, cols, QuantConfig{Method: NF4, DoubleQuant: true})
			if err != nil {
				t.Fatal(err)
			}
			return q
		}
		d := map[Method]weights.DType{Q8_0: weights.Q8_0, Q4_0: weights.Q4_0, Q5_0: weights.Q5_0, Q4_K: weights.Q4_K, Q6_K: weights.Q6_K}[m]
		q, err := FromGGML(d, rows, cols, randGGML(t, seed, d, rows, cols))
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	for _, c := range []struct {
		name string
		qs   []*QMatrix
	}{
		{"q8_0", []*QMatrix{mat(1, Q8_0, 40, 288), mat(2, Q8_0, 24, 288), mat(3, Q8_0, 17, 288)}},
		{"q4_0", []*QMatrix{mat(4, Q4_0, 33, 96), mat(5, Q4_0, 64, 96)}},
		{"q5_0", []*QMatrix{mat(6, Q5_0, 19, 288), mat(7, Q5_0, 21, 288)}},
		{"q4_K", []*QMatrix{mat(8, Q4_K, 20, 512), mat(9, Q4_K, 35, 512), mat(10, Q4_K, 3, 512)}},
		{"nf4", []*QMatrix{mat(11, NF4, 26, 320), mat(12, NF4, 30, 320)}},
		{"q6_K", []*QMatrix{mat(13, Q6_K, 12, 256), mat(14, Q6_K, 9, 256)}},
		{"mixed formats", []*QMatrix{mat(15, Q4_K, 16, 256), mat(16, Q6_K, 16, 256), mat(17, Q4_K, 8, 256)}},
		{"mixed widths", []*QMatrix{mat(18, Q4_0, 16, 64), mat(19, Q4_0, 16, 96)}},
	} {
		qs := c.qs
		for _, n := range []int{2, 8, 13, 16, 31} {
			for _, e := range []Exec{{Threads: 1}, {Threads: 2}, {Threads: 3}} {
				cols := qs[0].Cols
				x := randVec(uint64(n), n*max(cols, qs[len(qs)-1].Cols), 1)
				outs := make([][]float32, len(qs))
				for i, q := range qs {
					outs[i] = make([]float32, n*q.Rows)
				}
				if c.name == "mixed widths" {
					if err := e.QMatMuls(outs, x[:n*cols], qs, n); err == nil {
						t.Fatalf("%s: QMatMuls accepted an input of the wrong width for the second matrix", c.name)
					}
					continue
				}
				if err := e.QMatMuls(outs, x[:n*cols], qs, n); err != nil {
					t.Fatal(err)
				}
				for i, q := range qs {
					// One thread's separate product: the rows a thread is
					// given must not change any result.
					want := make([]float32, n*q.Rows)
					if err := (Exec{Threads: 1}).QMatMul(want, x[:n*cols], q, n); err != nil {
						t.Fatal(err)
					}
					for j := range want {
						if math.Float32bits(outs[i][j]) != math.Float32bits(want[j]) {
							t.Fatalf("%s n=%d threads=%d: matrix %d element %d = %g, want %g", c.name, n, e.Threads, i, j, outs[i][j], want[j])
						}
					}
				}
			}
		}
	}
}

// BenchmarkAct32g8 times quantising one activation row for the
// eight-activation kernels, for 15M's widths: 288 (nine blocks, a last
// group of one) and 768 (three whole groups). A 15M prefill of 128 tokens
// makes 3,072 such calls. The -nf4 runs put each block's codes in
// even-odd order, as NF4 and FP4 weights take them.
func BenchmarkAct32g8(b *testing.B) {
	for _, cols := range []int{288, 768} {
		x := randVec(1, cols, 1)
		for _, evenOdd := range []bool{false, true} {
			name := fmt.Sprint(cols)
			if evenOdd {
				name += "-nf4"
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					actPool.Put(act32g8(x, 8, evenOdd))
				}
			})
		}
	}
}
