//go:build !amd64

package kernels

// useAsm is false: there are no assembly kernels for this architecture.
const useAsm = false

// useAVX512 is false: there are no assembly kernels for this architecture.
const useAVX512 = false

func dot4AVX2(w *float32, stride int, x *float32, n int, acc *[4]float32) {}

func dot1AVX2(a, b *float32, n int) float32 { return 0 }

func axpyAVX2(y *float32, alpha float32, x *float32, n int) {}

func dotQ8AVX2(data *byte, nblocks int, x *float32) float32 { return 0 }

func axpy4AVX2(y *float32, p *[4]float32, v *float32, stride int, n int) {}

func dot4x2AVX2(w *float32, stride int, x *float32, xstride int, n int, acc *[8]float32) {}

func dot4x4AVX512(w *float32, stride int, x *float32, xstride int, n int, out *float32, ostride int, pf *float32) {
}

func dot4bitAVX2(codes *byte, scales *float32, n64 int, xp *float32, planes *[64]byte) float32 {
	return 0
}

func dotQ4_0AVX2(data *byte, nblocks int, x *float32) float32 { return 0 }

func dotQ4KAVX2(data *byte, nblocks int, scales *float32, x *float32) float32 { return 0 }

func dotQ6KAVX2(data *byte, nblocks int, scales *float32, x *float32) float32 { return 0 }

func dotQ5_0AVX2(data *byte, nblocks int, x *float32) float32 { return 0 }

func dotQ4_0AVX512(data *byte, nblocks int, x *float32) float32 { return 0 }

func dotQ8AVX512(data *byte, nblocks int, x *float32) float32 { return 0 }

func dot4bitAVX512(codes *byte, scales *float32, nhalves int, xp *float32, table *[16]float32) float32 {
	return 0
}

func dotQ4KAVX512(data *byte, nblocks int, scales *float32, x *float32) float32 { return 0 }

func dotQ6KAVX512(data *byte, nblocks int, scales *float32, x *float32) float32 { return 0 }

// useVNNI is false: there are no assembly kernels for this architecture.
const useVNNI = false

func dot4bitRowsVNNI(codes *byte, rows int, halves int, xq *int8, dxv *float32, bias *int32, s *blockScales, out *float32) {
}

func dot4bitRowsDQVNNI(codes *byte, rows int, halves int, xq *int8, dxv *float32, bias *int32, s *blockScales, out *float32) {
}

func dotRowsQ4KVNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, s32 *int16, out *float32) {
}

func dotRowsQ6KVNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, s16 *int16, out *float32) {
}

func dotRowsQ8_0VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, dxv *float32, bias *int32, out *float32) {
}

func dotRowsQ4_0VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, dxv *float32, bias *int32, out *float32) {
}

func dotRowsQ4_0G4VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, bias *int32, out *float32) {
}

const useVBMI = false

func dotRowsQ4_0G4VBMI(data *byte, rows int, nblocks int, xq *int8, xd *float32, bias *int32, out *float32) {
}

func dotRows4Q4_0G4VBMI(data *byte, rows int, nblocks int, xq *int8, xd *float32, bias *int32, out *float32, stride int) {
}

func dotRows4Q4_0G4VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, bias *int32, out *float32, stride int) {
}

func dot4bitRows4DQG4VNNI(codes *byte, rows int, halves int, xq *int8, xd *float32, bias *int32, s *blockScales, out *float32, stride int) {
}

func dotRowsQ8_0G4VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, bias *int32, out *float32) {
}

func dot4bitRowsDQG4VNNI(codes *byte, rows int, halves int, xq *int8, xd *float32, bias *int32, s *blockScales, out *float32) {
}

func dot4bitRowsDQG4OddVNNI(codes *byte, rows int, halves int, xq *int8, xd *float32, bias *int32, s *blockScales, out *float32) {
}

func dotRowsQ5_0VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, dxv *float32, bias *int32, out *float32) {
}

func quantBlocksAVX512(x *float32, nblocks int, vecs int, q *int8, d *float32) {}

func dotRows4Q8_0VNNI(data *byte, rows int, nblocks int, xq *int8, dxv *float32, bias *int32, out *float32, stride int) {
}

func dotRows4Q4_0VNNI(data *byte, rows int, nblocks int, xq *int8, dxv *float32, bias *int32, out *float32, stride int) {
}

func dotRows4Q5_0VNNI(data *byte, rows int, nblocks int, xq *int8, dxv *float32, bias *int32, out *float32, stride int) {
}

func dot4bitRows4VNNI(codes *byte, rows int, halves int, xq *int8, dxv *float32, bias *int32, s *blockScales, out *float32, stride int) {
}

func dot4bitRows4DQVNNI(codes *byte, rows int, halves int, xq *int8, dxv *float32, bias *int32, s *blockScales, out *float32, stride int) {
}

func dotRows4Q4KVNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, s32 *int16, out *float32, stride int) {
}

func dotRows4Q6KVNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, s16 *int16, out *float32, stride int) {
}

func gemm6x16AVX2(a *float32, as, ak int, b *float32, bs int, k int, c *float32, cs int) {}

func adamwAVX2(p, g, m, v *float32, n int, k *[8]float32) {}

func sumSquaresAVX2(x *float32, n int) float32 { return 0 }

func expShiftedAVX2(p *float32, mx float32, n int) {}

func expScaleAVX2(dst, x *float32, n int, shift, scale float32) float32 { return 0 }

func dotRows8Q8_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int) {
}

func dotRows8Q4_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int) {
}

func dotTail4Q4_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int) {
}

func dotTail4Q8_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int) {
}

func dotTail4Q5_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int) {
}

func dotTail4NF4O8VNNI(codes *byte, rows int, halves int, xq *int8, xs *float32, bias *int32, ws *float32, tab *[64]byte, out *float32, stride int) {
}

func packO8(nat *int8, groups int, k int32, q *int8, bias *int32) {
}

func dot4bitRows8x2O8VNNI(codes *byte, rows int, halves int, xq *int8, xs *float32, bias *int32, ws *float32, tab *[64]byte, out *float32, stride int) {
}

func dot4bitRows8O8VNNI(codes *byte, rows int, halves int, xq *int8, xs *float32, bias *int32, ws *float32, tab *[64]byte, out *float32, stride int) {
}

func dotRows8Q5_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int) {
}

func dotRows8Q4KVNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, s *int16, out *float32, stride int) {
}

func dotRows8Q6KVNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, s *int16, out *float32, stride int) {
}

func dotRows8x2Q4_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int) {
}

func dotRows8x2Q8_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int) {
}

func axpy4x16AVX512(y *float32, ystride int, p *float32, pstride int, v *float32, vstride int, count int) {
}
