//go:build amd64

package kernels

import (
	"github.com/klauspost/cpuid/v2"
	"golang.org/x/sys/cpu"
)

// useAsm reports whether the AVX2+FMA kernels may run; it is fixed at
// start-up. The Q8_0 kernel also converts float16 with F16C, which every
// AVX2 processor has but x/sys/cpu does not report.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpuid.CPU.Supports(cpuid.F16C)

// useAVX512 reports whether the AVX-512 forms of the Q8_0 and Q4_0 kernels
// may run (AVX-512 F, with the AVX2 conditions); fixed at start-up.
var useAVX512 = useAsm && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512BW

// dot4AVX2 sets acc[i] to the dot product of the i-th of four rows that start
// at w and are stride elements apart with x, over the first n elements; n
// must be a positive multiple of 8.
//
//go:noescape
func dot4AVX2(w *float32, stride int, x *float32, n int, acc *[4]float32)

// dot1AVX2 returns the dot product of the first n elements of a and b; n must
// be a positive multiple of 8.
//
//go:noescape
func dot1AVX2(a, b *float32, n int) float32

// axpyAVX2 adds alpha times the first n elements of x to y; n must be a
// positive multiple of 8.
//
//go:noescape
func axpyAVX2(y *float32, alpha float32, x *float32, n int)

// dot4bitAVX2 returns the dot product of n64 64-value runs of 4-bit codes
// (32 bytes each, two codes per byte, high nibble first) with xp, x
// rearranged by qKernel.prepare; the first 32 values of run i are
// planes-decoded codes times scales[2i], the last 32 times scales[2i+1];
// planes[16k+c] is byte k of the float32 bits of code value c.
//
//go:noescape
func dot4bitAVX2(codes *byte, scales *float32, n64 int, xp *float32, planes *[64]byte) float32

// dotQ8AVX2 returns the dot product of nblocks consecutive block_q8_0
// records with x, converting each record's float16 scale with F16C.
//
//go:noescape
func dotQ8AVX2(data *byte, nblocks int, x *float32) float32

// axpy4AVX2 adds Σᵢ p[i]·v[i·stride : i·stride+n] to y[:n] for i < 4; n must
// be a positive multiple of 8.
//
//go:noescape
func axpy4AVX2(y *float32, p *[4]float32, v *float32, stride int, n int)

// dot4x2AVX2 sets acc[i] and acc[4+i] to the dot products of the i-th of
// four rows (stride elements apart, starting at w) with the two x rows at x
// and x+xstride, over the first n elements; n must be a positive multiple
// of 8.
//
//go:noescape
func dot4x2AVX2(w *float32, stride int, x *float32, xstride int, n int, acc *[8]float32)

// dot4x4AVX512 sets out[b·ostride+i] to the dot product of the i-th of four
// rows (stride elements apart, starting at w) with the b-th of four x rows
// (xstride elements apart, starting at x), over the first n elements, for
// i, b < 4; n must be a positive multiple of 16. When pf is not nil, the
// four rows at pf (stride elements apart) are prefetched into L2 over the
// same n elements.
//
//go:noescape
func dot4x4AVX512(w *float32, stride int, x *float32, xstride int, n int, out *float32, ostride int, pf *float32)

// axpy4x16AVX512 adds, for b < 4, Σ_{c<count} p[b·pstride+c]·v_c to the
// 16 floats at y + b·ystride, v_c being the 16 floats at v + c·vstride
// (strides in elements), in order of c.
//
//go:noescape
func axpy4x16AVX512(y *float32, ystride int, p *float32, pstride int, v *float32, vstride int, count int)

// dotQ4_0AVX2 returns the dot product of nblocks consecutive block_q4_0
// records with x.
//
//go:noescape
func dotQ4_0AVX2(data *byte, nblocks int, x *float32) float32

// dotQ4KAVX2 returns Σ scales[8b+s]·(codes of sub-block s of block b)·x over
// nblocks consecutive block_q4_K records: their dot product with x before
// the mins are subtracted.
//
//go:noescape
func dotQ4KAVX2(data *byte, nblocks int, scales *float32, x *float32) float32

// dotQ6KAVX2 returns the dot product of nblocks consecutive block_q6_K
// records with x, given scales[16b+s] = d·sc of sub-block s of block b.
//
//go:noescape
func dotQ6KAVX2(data *byte, nblocks int, scales *float32, x *float32) float32

// dotQ5_0AVX2 returns the dot product of nblocks consecutive block_q5_0
// records with x.
//
//go:noescape
func dotQ5_0AVX2(data *byte, nblocks int, x *float32) float32

// dotQ4_0AVX512 is dotQ4_0AVX2 on 512-bit registers.
//
//go:noescape
func dotQ4_0AVX512(data *byte, nblocks int, x *float32) float32

// dotQ8AVX512 is dotQ8AVX2 on 512-bit registers.
//
//go:noescape
func dotQ8AVX512(data *byte, nblocks int, x *float32) float32

// dot4bitAVX512 returns the dot product of nhalves 32-value runs of 4-bit
// codes (16 bytes each, high nibble first) with xp (per run, x's 16 even
// values then its 16 odd ones), run i scaled by scales[i] and decoded
// through table.
//
//go:noescape
func dot4bitAVX512(codes *byte, scales *float32, nhalves int, xp *float32, table *[16]float32) float32

// dotQ4KAVX512 is dotQ4KAVX2 on 512-bit registers.
//
//go:noescape
func dotQ4KAVX512(data *byte, nblocks int, scales *float32, x *float32) float32

// dotQ6KAVX512 is dotQ6KAVX2 on 512-bit registers.
//
//go:noescape
func dotQ6KAVX512(data *byte, nblocks int, scales *float32, x *float32) float32

// useVNNI reports whether the integer-dot kernels (AVX-512 VNNI and BW on
// 256-bit registers, qdot_amd64.s) may run; fixed at start-up.
var useVNNI = useAVX512 && cpu.X86.HasAVX512VNNI

// dot4bitRowsVNNI sets out[i] for i < rows to the dot product of row i of
// 4-bit codes (halves 32-value halves per row, 16 bytes each, high nibble
// first; rows consecutive from codes) with an activation quantised by
// act32 with k = 128 in even-odd order (dxv its laneScales); s gives the
// block scales, without double quantisation. rows is positive.
//
//go:noescape
func dot4bitRowsVNNI(codes *byte, rows int, halves int, xq *int8, dxv *float32, bias *int32, s *blockScales, out *float32)

// dot4bitRowsDQVNNI is dot4bitRowsVNNI with double-quantised block scales.
//
//go:noescape
func dot4bitRowsDQVNNI(codes *byte, rows int, halves int, xq *int8, dxv *float32, bias *int32, s *blockScales, out *float32)

// dotRowsQ4KVNNI sets out[i] for i < rows to the dot product of row i of
// block_q4_K records (nblocks per row, rows consecutive from data) with an
// activation quantised by act256 (codes xq, scales xd, 32-value sums
// s32). rows is positive.
//
//go:noescape
func dotRowsQ4KVNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, s32 *int16, out *float32)

// dotRowsQ6KVNNI is dotRowsQ4KVNNI for block_q6_K records, with the
// activation's 16-value sums s16.
//
//go:noescape
func dotRowsQ6KVNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, s16 *int16, out *float32)

// dotRowsQ8_0VNNI sets out[i] for i < rows to the dot product of row i of
// block_q8_0 records (nblocks per row, rows consecutive from data) with an
// activation quantised by act32 with k = 128 (codes xq, scales xd, their
// laneScales dxv, biases bias). rows is positive.
//
//go:noescape
func dotRowsQ8_0VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, dxv *float32, bias *int32, out *float32)

// dotRowsQ4_0VNNI is dotRowsQ8_0VNNI for block_q4_0 records and k = 8.
//
//go:noescape
func dotRowsQ4_0VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, dxv *float32, bias *int32, out *float32)

// dotRowsQ4_0G4VNNI is dotRowsQ4_0VNNI four blocks at a time, with an
// activation quantised by act32g4 (codes xq, block scales xd padded to a
// multiple of four with zeros, biases bias).
//
//go:noescape
func dotRowsQ4_0G4VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, bias *int32, out *float32)

// useVBMI reports whether the kernels that gather bytes with VPERMT2B
// (AVX-512 VBMI) may run beside the VNNI ones.
var useVBMI = useVNNI && cpu.X86.HasAVX512VBMI

// dotRowsQ4_0G4VBMI is dotRowsQ4_0G4VNNI gathering each group's code
// bytes and scales with two permutes (AVX-512 VBMI).
//
//go:noescape
func dotRowsQ4_0G4VBMI(data *byte, rows int, nblocks int, xq *int8, xd *float32, bias *int32, out *float32)

// dotRows4Q4_0G4VBMI is dotRows4Q4_0G4VNNI gathering each group's code
// bytes and scales with two permutes (AVX-512 VBMI).
//
//go:noescape
func dotRows4Q4_0G4VBMI(data *byte, rows int, nblocks int, xq *int8, xd *float32, bias *int32, out *float32, stride int)

// dotRows4Q4_0G4VNNI is dotRowsQ4_0G4VNNI for four activations at once,
// interleaved by interleave4G4; activation a's results go to out +
// a·stride bytes.
//
//go:noescape
func dotRows4Q4_0G4VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, bias *int32, out *float32, stride int)

// dot4bitRows4DQG4VNNI is dot4bitRowsDQG4VNNI for four activations at
// once, interleaved by interleave4G4; activation a's results go to out +
// a·stride bytes.
//
//go:noescape
func dot4bitRows4DQG4VNNI(codes *byte, rows int, halves int, xq *int8, xd *float32, bias *int32, s *blockScales, out *float32, stride int)

// dotRowsQ8_0G4VNNI is dotRowsQ8_0VNNI four blocks at a time, with an
// activation quantised by act32 and padded by pad4 (no laneScales).
//
//go:noescape
func dotRowsQ8_0G4VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, bias *int32, out *float32)

// packO8 stores groups groups of eight 32-code activation blocks from nat
// (in x's order) in act32g8's order at q, and their biases (-k times the
// codes each lane meets) at bias. groups is positive.
//
//go:noescape
func packO8(nat *int8, groups int, k int32, q *int8, bias *int32)

// dotRows8Q5_0O8VNNI is dotRows8Q8_0O8VNNI for block_q5_0 records, with
// activations quantised by act32g8 with k = 16; given -rows, it leaves out
// each row's last one to four blocks (for dotTail4Q5_0O8VNNI).
//
//go:noescape
func dotRows8Q5_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int)

// dotRows8Q4KVNNI sets, for each of eight activations quantised by
// actK8 and interleaved by interleaveK8 (codes xq, broadcast block scales
// xs, 32-value sums s), the dot products of rows consecutive block_q4_K
// rows of nblocks blocks from data with it; activation a's result for row
// r goes to out + a·stride + 4r bytes. rows and nblocks are positive.
//
//go:noescape
func dotRows8Q4KVNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, s *int16, out *float32, stride int)

// dotRows8x2Q4_0O8VNNI is dotRows8Q4_0O8VNNI with a negative rows (each
// row's whole groups of eight blocks only), two rows at a time, each
// activation's codes, biases and scales loaded once for both: rows is
// even and positive.
//
//go:noescape
func dotRows8x2Q4_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int)

// dotRows8x2Q8_0O8VNNI is dotRows8x2Q4_0O8VNNI for Q8_0.
//
//go:noescape
func dotRows8x2Q8_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int)

// dotRows8Q6KVNNI is dotRows8Q4KVNNI for block_q6_K rows, with eight
// activations quantised by act256 and interleaved by interleaveQ6K8
// (codes xq, broadcast block scales xs, 16-value sums s).
//
//go:noescape
func dotRows8Q6KVNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, s *int16, out *float32, stride int)

// dot4bitRows8O8VNNI is dotRows8Q8_0O8VNNI for NF4/FP4 rows of halves
// 32-value halves (16 code bytes each, high nibble first, rows consecutive
// from codes) with activations quantised by act32g8 in even-odd order
// (k = 128): the weight scale of each half, table scale included, is read
// from ws (halves per row, then eight floats of padding), and tab is the
// int8 code table. rows is nonzero; given -rows, it leaves out each row's
// last one to four halves (for dotTail4NF4O8VNNI).
//
//go:noescape
func dot4bitRows8O8VNNI(codes *byte, rows int, halves int, xq *int8, xs *float32, bias *int32, ws *float32, tab *[64]byte, out *float32, stride int)

// dot4bitRows8x2O8VNNI is dot4bitRows8O8VNNI with a negative rows (each
// row's whole groups of eight halves only), two rows at a time, each
// activation's codes, biases and scales loaded once for both: rows is
// even and positive.
//
//go:noescape
func dot4bitRows8x2O8VNNI(codes *byte, rows int, halves int, xq *int8, xs *float32, bias *int32, ws *float32, tab *[64]byte, out *float32, stride int)

// dotTail4NF4O8VNNI is dotTail4Q4_0O8VNNI for NF4/FP4 rows (the arguments
// of dot4bitRows8O8VNNI), after dot4bitRows8O8VNNI given -rows.
//
//go:noescape
func dotTail4NF4O8VNNI(codes *byte, rows int, halves int, xq *int8, xs *float32, bias *int32, ws *float32, tab *[64]byte, out *float32, stride int)

// dotRows8Q8_0O8VNNI sets, for each of eight activations quantised by
// act32g8 (k = 128) and interleaved by interleave8O8 (codes xq, spread
// block scales xs, biases bias), the dot products of rows consecutive
// block_q8_0 rows of nblocks blocks from data with it; activation a's
// result for row r goes to out + a·stride + 4r bytes. rows is nonzero;
// given -rows, it leaves out each row's last one to four blocks (for
// dotTail4Q8_0O8VNNI).
//
//go:noescape
func dotRows8Q8_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int)

// dotRows8Q4_0O8VNNI is dotRows8Q8_0O8VNNI for block_q4_0 records, with
// activations quantised by act32g8 with k = 8; given -rows, it leaves out
// each row's last one to four blocks (for dotTail4Q4_0O8VNNI).
//
//go:noescape
func dotRows8Q4_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int)

// dotTail4Q4_0O8VNNI adds to out the products of the last nblocks%8
// blocks (one to four) of rows block_q4_0 rows (a positive multiple of
// four) with the eight activations of a last group in act32g8's two-run
// form (xq, xs, bias point at that group), four rows per pass: what
// dotRows8Q4_0O8VNNI skips when given -rows.
//
//go:noescape
func dotTail4Q4_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int)

// dotTail4Q8_0O8VNNI is dotTail4Q4_0O8VNNI for block_q8_0 records, after
// dotRows8Q8_0O8VNNI given -rows.
//
//go:noescape
func dotTail4Q8_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int)

// dotTail4Q5_0O8VNNI is dotTail4Q4_0O8VNNI for block_q5_0 records, after
// dotRows8Q5_0O8VNNI given -rows.
//
//go:noescape
func dotTail4Q5_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int)

// dot4bitRowsDQG4VNNI is dot4bitRowsDQVNNI four halves at a time, for an
// even halves and an even s.h0, with an activation quantised by act32g4 in
// even-odd order (block scales xd per half, padded with zeros).
//
//go:noescape
func dot4bitRowsDQG4VNNI(codes *byte, rows int, halves int, xq *int8, xd *float32, bias *int32, s *blockScales, out *float32)

// dot4bitRowsDQG4OddVNNI is dot4bitRowsDQG4VNNI for any halves and any
// s.h0, each half's scale looked up on its own.
//
//go:noescape
func dot4bitRowsDQG4OddVNNI(codes *byte, rows int, halves int, xq *int8, xd *float32, bias *int32, s *blockScales, out *float32)

// dotRowsQ5_0VNNI is dotRowsQ8_0VNNI for block_q5_0 records and k = 16.
//
//go:noescape
func dotRowsQ5_0VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, dxv *float32, bias *int32, out *float32)

// quantBlocksAVX512 quantises nblocks blocks of 16·vecs floats from x to
// signed bytes at q with the scale amax/127 per block at d, rounding to
// nearest even; a block of zeros has scale 0 and one with a NaN scale NaN,
// both zero codes (AVX-512 F and BW).
//
//go:noescape
func quantBlocksAVX512(x *float32, nblocks int, vecs int, q *int8, d *float32)

// dotRows4Q8_0VNNI is dotRowsQ8_0VNNI for four activations at once (a
// batch quantised by one act32 call): activation a's codes, biases and
// laneScales start a·32·nblocks bytes after xq, bias and dxv, and its
// results go to out + a·stride bytes.
//
//go:noescape
func dotRows4Q8_0VNNI(data *byte, rows int, nblocks int, xq *int8, dxv *float32, bias *int32, out *float32, stride int)

// dotRows4Q4_0VNNI is dotRows4Q8_0VNNI for block_q4_0 records.
//
//go:noescape
func dotRows4Q4_0VNNI(data *byte, rows int, nblocks int, xq *int8, dxv *float32, bias *int32, out *float32, stride int)

// dotRows4Q5_0VNNI is dotRows4Q8_0VNNI for block_q5_0 records.
//
//go:noescape
func dotRows4Q5_0VNNI(data *byte, rows int, nblocks int, xq *int8, dxv *float32, bias *int32, out *float32, stride int)

// dot4bitRows4VNNI is dot4bitRowsVNNI for four activations at once,
// interleaved by interleave4; activation a's results go to out + a·stride
// bytes.
//
//go:noescape
func dot4bitRows4VNNI(codes *byte, rows int, halves int, xq *int8, dxv *float32, bias *int32, s *blockScales, out *float32, stride int)

// dot4bitRows4DQVNNI is dot4bitRows4VNNI with double-quantised scales.
//
//go:noescape
func dot4bitRows4DQVNNI(codes *byte, rows int, halves int, xq *int8, dxv *float32, bias *int32, s *blockScales, out *float32, stride int)

// dotRows4Q4KVNNI is dotRowsQ4KVNNI for four activations at once,
// interleaved by interleave4K; activation a's results go to out + a·stride
// bytes.
//
//go:noescape
func dotRows4Q4KVNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, s32 *int16, out *float32, stride int)

// dotRows4Q6KVNNI is dotRowsQ6KVNNI for four activations at once,
// interleaved by interleave4K; activation a's results go to out + a·stride
// bytes.
//
//go:noescape
func dotRows4Q6KVNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, s16 *int16, out *float32, stride int)

// gemm6x16AVX2 adds to the six rows of 16 values at c (cs elements apart)
// Σ_{p<k} A[i·as + p·ak]·B[p·bs : p·bs+16] for row i; k must be positive.
//
//go:noescape
func gemm6x16AVX2(a *float32, as, ak int, b *float32, bs int, k int, c *float32, cs int)

// adamwAVX2 is adamwGeneric on the first n elements, n a positive
// multiple of 8.
//
//go:noescape
func adamwAVX2(p, gr, m, v *float32, n int, k *[8]float32)

// sumSquaresAVX2 returns Σ x[i]² over the first n elements, n a positive
// multiple of 32.
//
//go:noescape
func sumSquaresAVX2(x *float32, n int) float32

// expShiftedAVX2 sets p[i] to float32(math.Exp(float64(p[i]-mx))) for
// i < n, bit for bit, four lanes at a time; n must be a positive multiple
// of 4. It repeats math.Exp's FMA path, so it may only run where math.Exp
// takes that path (AVX and FMA, which useAsm implies).
//
//go:noescape
func expShiftedAVX2(p *float32, mx float32, n int)

// expScaleAVX2 sets dst[i] = scale·e^(x[i]−shift) for the first n
// elements, n a positive multiple of 8, and returns Σ e^(x[i]−shift).
//
//go:noescape
func expScaleAVX2(dst, x *float32, n int, shift, scale float32) float32
