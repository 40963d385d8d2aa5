//go:build amd64

#include "textflag.h"

// func dot4AVX2(w *float32, stride int, x *float32, n int, acc *[4]float32)
TEXT ·dot4AVX2(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), BX
	SHLQ $2, BX
	MOVQ x+16(FP), DI
	MOVQ n+24(FP), CX
	SHLQ $2, CX
	MOVQ acc+32(FP), DX
	LEAQ (SI)(BX*1), R8
	LEAQ (R8)(BX*1), R9
	LEAQ (R9)(BX*1), R10
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ AX, AX
	MOVQ CX, R11
	SUBQ $64, R11

loop16:
	CMPQ AX, R11
	JG   tail8
	VMOVUPS (DI)(AX*1), Y8
	VMOVUPS 32(DI)(AX*1), Y9
	VFMADD231PS (SI)(AX*1), Y8, Y0
	VFMADD231PS 32(SI)(AX*1), Y9, Y1
	VFMADD231PS (R8)(AX*1), Y8, Y2
	VFMADD231PS 32(R8)(AX*1), Y9, Y3
	VFMADD231PS (R9)(AX*1), Y8, Y4
	VFMADD231PS 32(R9)(AX*1), Y9, Y5
	VFMADD231PS (R10)(AX*1), Y8, Y6
	VFMADD231PS 32(R10)(AX*1), Y9, Y7
	ADDQ $64, AX
	JMP  loop16

tail8:
	CMPQ AX, CX
	JGE  reduce
	VMOVUPS (DI)(AX*1), Y8
	VFMADD231PS (SI)(AX*1), Y8, Y0
	VFMADD231PS (R8)(AX*1), Y8, Y2
	VFMADD231PS (R9)(AX*1), Y8, Y4
	VFMADD231PS (R10)(AX*1), Y8, Y6

reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y5, Y4, Y4
	VADDPS Y7, Y6, Y6
	VHADDPS Y2, Y0, Y0
	VHADDPS Y6, Y4, Y4
	VHADDPS Y4, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVUPS X0, (DX)
	VZEROUPPER
	RET

// func dot1AVX2(a, b *float32, n int) float32
TEXT ·dot1AVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	SHLQ $2, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ AX, AX
	MOVQ CX, R11
	SUBQ $128, R11

loop32:
	CMPQ AX, R11
	JG   loop8
	VMOVUPS (DI)(AX*1), Y4
	VMOVUPS 32(DI)(AX*1), Y5
	VMOVUPS 64(DI)(AX*1), Y6
	VMOVUPS 96(DI)(AX*1), Y7
	VFMADD231PS (SI)(AX*1), Y4, Y0
	VFMADD231PS 32(SI)(AX*1), Y5, Y1
	VFMADD231PS 64(SI)(AX*1), Y6, Y2
	VFMADD231PS 96(SI)(AX*1), Y7, Y3
	ADDQ $128, AX
	JMP  loop32

loop8:
	CMPQ AX, CX
	JGE  done1
	VMOVUPS (DI)(AX*1), Y4
	VFMADD231PS (SI)(AX*1), Y4, Y0
	ADDQ $32, AX
	JMP  loop8

done1:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func axpyAVX2(y *float32, alpha float32, x *float32, n int)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	MOVQ y+0(FP), DI
	VBROADCASTSS alpha+8(FP), Y0
	MOVQ x+16(FP), SI
	MOVQ n+24(FP), CX
	SHLQ $2, CX
	XORQ AX, AX
	MOVQ CX, R11
	SUBQ $64, R11

axloop16:
	CMPQ AX, R11
	JG   axloop8
	VMOVUPS (DI)(AX*1), Y1
	VMOVUPS 32(DI)(AX*1), Y2
	VFMADD231PS (SI)(AX*1), Y0, Y1
	VFMADD231PS 32(SI)(AX*1), Y0, Y2
	VMOVUPS Y1, (DI)(AX*1)
	VMOVUPS Y2, 32(DI)(AX*1)
	ADDQ $64, AX
	JMP  axloop16

axloop8:
	CMPQ AX, CX
	JGE  axdone
	VMOVUPS (DI)(AX*1), Y1
	VFMADD231PS (SI)(AX*1), Y0, Y1
	VMOVUPS Y1, (DI)(AX*1)
	ADDQ $32, AX
	JMP  axloop8

axdone:
	VZEROUPPER
	RET

// func axpy4AVX2(y *float32, p *[4]float32, v *float32, stride int, n int)
TEXT ·axpy4AVX2(SB), NOSPLIT, $0-40
	MOVQ y+0(FP), DI
	MOVQ p+8(FP), DX
	MOVQ v+16(FP), SI
	MOVQ stride+24(FP), BX
	SHLQ $2, BX
	MOVQ n+32(FP), CX
	SHLQ $2, CX
	VBROADCASTSS (DX), Y0
	VBROADCASTSS 4(DX), Y1
	VBROADCASTSS 8(DX), Y2
	VBROADCASTSS 12(DX), Y3
	LEAQ (SI)(BX*1), R8
	LEAQ (R8)(BX*1), R9
	LEAQ (R9)(BX*1), R10
	XORQ AX, AX

ax4loop:
	CMPQ AX, CX
	JGE  ax4done
	VMOVUPS (DI)(AX*1), Y4
	VFMADD231PS (SI)(AX*1), Y0, Y4
	VFMADD231PS (R8)(AX*1), Y1, Y4
	VFMADD231PS (R9)(AX*1), Y2, Y4
	VFMADD231PS (R10)(AX*1), Y3, Y4
	VMOVUPS Y4, (DI)(AX*1)
	ADDQ $32, AX
	JMP  ax4loop

ax4done:
	VZEROUPPER
	RET

// func dot4x2AVX2(w *float32, stride int, x *float32, xstride int, n int, acc *[8]float32)
//
// acc[i] is row i of w times the x row at x, acc[4+i] row i times the x row
// at x+xstride: a 4×2 register tile, loading each weight once for two
// inputs.
TEXT ·dot4x2AVX2(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), BX
	SHLQ $2, BX
	MOVQ x+16(FP), DI
	MOVQ xstride+24(FP), DX
	SHLQ $2, DX
	ADDQ DI, DX
	MOVQ n+32(FP), CX
	SHLQ $2, CX
	LEAQ (SI)(BX*1), R8
	LEAQ (R8)(BX*1), R9
	LEAQ (R9)(BX*1), R10
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ AX, AX

x2loop:
	CMPQ AX, CX
	JGE  x2reduce
	VMOVUPS (DI)(AX*1), Y8
	VMOVUPS (DX)(AX*1), Y9
	VMOVUPS (SI)(AX*1), Y10
	VMOVUPS (R8)(AX*1), Y11
	VMOVUPS (R9)(AX*1), Y12
	VMOVUPS (R10)(AX*1), Y13
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y11, Y8, Y1
	VFMADD231PS Y12, Y8, Y2
	VFMADD231PS Y13, Y8, Y3
	VFMADD231PS Y10, Y9, Y4
	VFMADD231PS Y11, Y9, Y5
	VFMADD231PS Y12, Y9, Y6
	VFMADD231PS Y13, Y9, Y7
	ADDQ $32, AX
	JMP  x2loop

x2reduce:
	MOVQ acc+40(FP), DX
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVUPS X0, (DX)
	VHADDPS Y5, Y4, Y4
	VHADDPS Y7, Y6, Y6
	VHADDPS Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VADDPS X5, X4, X4
	VMOVUPS X4, 16(DX)
	VZEROUPPER
	RET

// func gemm6x16AVX2(a *float32, as, ak int, b *float32, bs int, k int, c *float32, cs int)
//
// C[i][0:16] += Σ_{p<k} A[i·as + p·ak] · B[p·bs + 0:16] for the six rows
// i < 6 of C (cs elements apart): a 6×16 register tile of FMA outer
// products, each B row loaded once for six broadcast A values. k ≥ 1.
TEXT ·gemm6x16AVX2(SB), NOSPLIT, $0-64
	MOVQ a+0(FP), SI
	MOVQ as+8(FP), R8
	SHLQ $2, R8
	MOVQ ak+16(FP), R9
	SHLQ $2, R9
	MOVQ b+24(FP), DI
	MOVQ bs+32(FP), R10
	SHLQ $2, R10
	MOVQ k+40(FP), CX
	MOVQ c+48(FP), DX
	MOVQ cs+56(FP), R11
	SHLQ $2, R11
	LEAQ (SI)(R8*2), BX
	ADDQ R8, BX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

g6loop:
	VMOVUPS (DI), Y12
	VMOVUPS 32(DI), Y13
	VBROADCASTSS (SI), Y14
	VFMADD231PS Y12, Y14, Y0
	VFMADD231PS Y13, Y14, Y1
	VBROADCASTSS (SI)(R8*1), Y15
	VFMADD231PS Y12, Y15, Y2
	VFMADD231PS Y13, Y15, Y3
	VBROADCASTSS (SI)(R8*2), Y14
	VFMADD231PS Y12, Y14, Y4
	VFMADD231PS Y13, Y14, Y5
	VBROADCASTSS (BX), Y15
	VFMADD231PS Y12, Y15, Y6
	VFMADD231PS Y13, Y15, Y7
	VBROADCASTSS (BX)(R8*1), Y14
	VFMADD231PS Y12, Y14, Y8
	VFMADD231PS Y13, Y14, Y9
	VBROADCASTSS (BX)(R8*2), Y15
	VFMADD231PS Y12, Y15, Y10
	VFMADD231PS Y13, Y15, Y11
	ADDQ R9, SI
	ADDQ R9, BX
	ADDQ R10, DI
	DECQ CX
	JNZ  g6loop

	VADDPS (DX), Y0, Y0
	VADDPS 32(DX), Y1, Y1
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ R11, DX
	VADDPS (DX), Y2, Y2
	VADDPS 32(DX), Y3, Y3
	VMOVUPS Y2, (DX)
	VMOVUPS Y3, 32(DX)
	ADDQ R11, DX
	VADDPS (DX), Y4, Y4
	VADDPS 32(DX), Y5, Y5
	VMOVUPS Y4, (DX)
	VMOVUPS Y5, 32(DX)
	ADDQ R11, DX
	VADDPS (DX), Y6, Y6
	VADDPS 32(DX), Y7, Y7
	VMOVUPS Y6, (DX)
	VMOVUPS Y7, 32(DX)
	ADDQ R11, DX
	VADDPS (DX), Y8, Y8
	VADDPS 32(DX), Y9, Y9
	VMOVUPS Y8, (DX)
	VMOVUPS Y9, 32(DX)
	ADDQ R11, DX
	VADDPS (DX), Y10, Y10
	VADDPS 32(DX), Y11, Y11
	VMOVUPS Y10, (DX)
	VMOVUPS Y11, 32(DX)
	VZEROUPPER
	RET

// RED4 reduces the 8-lane sums in YA, YB, YC and YD (XA… their low
// halves) to X20 = [a, b, c, d], each in dotRowsSeqAVX512's order:
// (l + l+4), then (l + l+2), then (l + l+1), four rows side by side.
#define RED4(XA, XB, XC, XD, YA, YB, YC, YD) \
	VEXTRACTF32X4 $1, YA, X16 \
	VADDPS        XA, X16, XA \
	VEXTRACTF32X4 $1, YB, X17 \
	VADDPS        XB, X17, XB \
	VEXTRACTF32X4 $1, YC, X18 \
	VADDPS        XC, X18, XC \
	VEXTRACTF32X4 $1, YD, X19 \
	VADDPS        XD, X19, XD \
	VUNPCKLPS     XB, XA, X16 \
	VUNPCKHPS     XB, XA, X17 \
	VADDPS        X17, X16, X16 \
	VUNPCKLPS     XD, XC, X18 \
	VUNPCKHPS     XD, XC, X19 \
	VADDPS        X19, X18, X18 \
	VMOVLHPS      X18, X16, X20 \
	VMOVHLPS      X16, X18, X21 \
	VADDPS        X21, X20, X20

// func dot4x4AVX512(w *float32, stride int, x *float32, xstride int, n int, out *float32, ostride int, pf *float32)
//
// out[b·ostride+i] = Σ_{k<n} w[i·stride+k]·x[b·xstride+k] for four weight
// rows i and four input rows b: a 4×4 tile of 512-bit accumulators, each
// weight loaded once for all four inputs. n is a positive multiple of 16.
// When pf is not nil the four rows at pf (stride apart) are prefetched into
// L2 as the loop goes, so that a later tile's weights arrive from memory
// while this one computes.
TEXT ·dot4x4AVX512(SB), NOSPLIT, $0-64
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), BX
	SHLQ $2, BX
	MOVQ x+16(FP), DI
	MOVQ xstride+24(FP), DX
	SHLQ $2, DX
	MOVQ n+32(FP), CX
	SHLQ $2, CX
	MOVQ pf+56(FP), R14
	LEAQ (SI)(BX*1), R8
	LEAQ (R8)(BX*1), R9
	LEAQ (R9)(BX*1), R10
	LEAQ (DI)(DX*1), R11
	LEAQ (R11)(DX*1), R12
	LEAQ (R12)(DX*1), R13
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	VXORPS Z8, Z8, Z8
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15
	XORQ AX, AX
	TESTQ R14, R14
	JZ    t44loop
	LEAQ (R14)(BX*2), DX
	ADDQ BX, DX

t44pf:
	CMPQ AX, CX
	JGE  t44reduce
	PREFETCHT1 (R14)
	PREFETCHT1 (R14)(BX*1)
	PREFETCHT1 (R14)(BX*2)
	PREFETCHT1 (DX)
	ADDQ $64, R14
	ADDQ $64, DX
	VMOVUPS (SI)(AX*1), Z16
	VMOVUPS (R8)(AX*1), Z17
	VMOVUPS (R9)(AX*1), Z18
	VMOVUPS (R10)(AX*1), Z19
	VMOVUPS (DI)(AX*1), Z20
	VMOVUPS (R11)(AX*1), Z21
	VMOVUPS (R12)(AX*1), Z22
	VMOVUPS (R13)(AX*1), Z23
	VFMADD231PS Z16, Z20, Z0
	VFMADD231PS Z17, Z20, Z1
	VFMADD231PS Z18, Z20, Z2
	VFMADD231PS Z19, Z20, Z3
	VFMADD231PS Z16, Z21, Z4
	VFMADD231PS Z17, Z21, Z5
	VFMADD231PS Z18, Z21, Z6
	VFMADD231PS Z19, Z21, Z7
	VFMADD231PS Z16, Z22, Z8
	VFMADD231PS Z17, Z22, Z9
	VFMADD231PS Z18, Z22, Z10
	VFMADD231PS Z19, Z22, Z11
	VFMADD231PS Z16, Z23, Z12
	VFMADD231PS Z17, Z23, Z13
	VFMADD231PS Z18, Z23, Z14
	VFMADD231PS Z19, Z23, Z15
	ADDQ $64, AX
	JMP  t44pf

t44loop:
	CMPQ AX, CX
	JGE  t44reduce
	VMOVUPS (SI)(AX*1), Z16
	VMOVUPS (R8)(AX*1), Z17
	VMOVUPS (R9)(AX*1), Z18
	VMOVUPS (R10)(AX*1), Z19
	VMOVUPS (DI)(AX*1), Z20
	VMOVUPS (R11)(AX*1), Z21
	VMOVUPS (R12)(AX*1), Z22
	VMOVUPS (R13)(AX*1), Z23
	VFMADD231PS Z16, Z20, Z0
	VFMADD231PS Z17, Z20, Z1
	VFMADD231PS Z18, Z20, Z2
	VFMADD231PS Z19, Z20, Z3
	VFMADD231PS Z16, Z21, Z4
	VFMADD231PS Z17, Z21, Z5
	VFMADD231PS Z18, Z21, Z6
	VFMADD231PS Z19, Z21, Z7
	VFMADD231PS Z16, Z22, Z8
	VFMADD231PS Z17, Z22, Z9
	VFMADD231PS Z18, Z22, Z10
	VFMADD231PS Z19, Z22, Z11
	VFMADD231PS Z16, Z23, Z12
	VFMADD231PS Z17, Z23, Z13
	VFMADD231PS Z18, Z23, Z14
	VFMADD231PS Z19, Z23, Z15
	ADDQ $64, AX
	JMP  t44loop

t44reduce:
	// Fold each 512-bit accumulator to 256 bits (lane l + lane l+8), then
	// four rows' sums of one input at a time into one 128-bit store, in
	// llama2.c's order (RED4): each sum is dotRowsSeqAVX512's bit for bit.
	VEXTRACTF64X4 $1, Z0, Y16
	VEXTRACTF64X4 $1, Z1, Y17
	VEXTRACTF64X4 $1, Z2, Y18
	VEXTRACTF64X4 $1, Z3, Y19
	VEXTRACTF64X4 $1, Z4, Y20
	VEXTRACTF64X4 $1, Z5, Y21
	VEXTRACTF64X4 $1, Z6, Y22
	VEXTRACTF64X4 $1, Z7, Y23
	VEXTRACTF64X4 $1, Z8, Y24
	VEXTRACTF64X4 $1, Z9, Y25
	VEXTRACTF64X4 $1, Z10, Y26
	VEXTRACTF64X4 $1, Z11, Y27
	VEXTRACTF64X4 $1, Z12, Y28
	VEXTRACTF64X4 $1, Z13, Y29
	VEXTRACTF64X4 $1, Z14, Y30
	VEXTRACTF64X4 $1, Z15, Y31
	VADDPS Y16, Y0, Y0
	VADDPS Y17, Y1, Y1
	VADDPS Y18, Y2, Y2
	VADDPS Y19, Y3, Y3
	VADDPS Y20, Y4, Y4
	VADDPS Y21, Y5, Y5
	VADDPS Y22, Y6, Y6
	VADDPS Y23, Y7, Y7
	VADDPS Y24, Y8, Y8
	VADDPS Y25, Y9, Y9
	VADDPS Y26, Y10, Y10
	VADDPS Y27, Y11, Y11
	VADDPS Y28, Y12, Y12
	VADDPS Y29, Y13, Y13
	VADDPS Y30, Y14, Y14
	VADDPS Y31, Y15, Y15
	MOVQ out+40(FP), DX
	MOVQ ostride+48(FP), BX
	SHLQ $2, BX
	RED4(X0, X1, X2, X3, Y0, Y1, Y2, Y3)
	VMOVUPS X20, (DX)
	ADDQ BX, DX
	RED4(X4, X5, X6, X7, Y4, Y5, Y6, Y7)
	VMOVUPS X20, (DX)
	ADDQ BX, DX
	RED4(X8, X9, X10, X11, Y8, Y9, Y10, Y11)
	VMOVUPS X20, (DX)
	ADDQ BX, DX
	RED4(X12, X13, X14, X15, Y12, Y13, Y14, Y15)
	VMOVUPS X20, (DX)
	VZEROUPPER
	RET

// func dotRowsSeqAVX512(w *float32, stride int, x *float32, n int, out *float32, rows int)
//
// out[r] = Σ_{i<n} w[r·stride+i]·x[i] for r < rows, any n ≥ 0, summed in
// the order gcc -Ofast vectorises llama2.c's matmul loop for AVX-512: one
// 16-lane accumulator per row, lane l summing w[16k+l]·x[16k+l] in order
// of k by FMA; then its two halves added (lane l + lane l+8), the next 8
// elements (if 8 or more remain) added to those 8 lanes by one FMA, the 8
// lanes reduced as (l+4, then l+2, then l+1), and the last n mod 8
// elements added to the scalar one by one by FMA. Rows are read one after
// another, one sequential stream, with no software prefetch: for a stream
// from memory this matches the hardware prefetcher and llama2.c's speed,
// where a short-distance PREFETCHT0 or four interleaved rows were slower
// (see dotRowsSeq in matvec.go).
TEXT ·dotRowsSeqAVX512(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), BX
	SHLQ $2, BX
	MOVQ x+16(FP), DI
	MOVQ n+24(FP), CX
	SHLQ $2, CX
	MOVQ out+32(FP), DX
	MOVQ rows+40(FP), R9
	MOVQ CX, R10
	ANDQ $-64, R10
	MOVQ CX, R12
	SUBQ R10, R12

sqrow:
	TESTQ R9, R9
	JZ    sqdone
	VXORPS Y1, Y1, Y1
	XORQ   AX, AX
	TESTQ  R10, R10
	JZ     sqtail8
	VXORPS Z0, Z0, Z0

sqloop:
	VMOVUPS     (SI)(AX*1), Z2
	VFMADD231PS (DI)(AX*1), Z2, Z0
	ADDQ        $64, AX
	CMPQ        AX, R10
	JNE         sqloop
	VEXTRACTF64X4 $1, Z0, Y3
	VADDPS        Y0, Y3, Y1

sqtail8:
	CMPQ R12, $32
	JB   sqreduce
	VMOVUPS     (SI)(AX*1), Y2
	VFMADD231PS (DI)(AX*1), Y2, Y1
	ADDQ        $32, AX

sqreduce:
	VEXTRACTF128 $1, Y1, X3
	VADDPS       X1, X3, X3
	VMOVHLPS     X3, X3, X4
	VADDPS       X3, X4, X4
	VSHUFPS      $85, X4, X4, X5
	VADDSS       X4, X5, X5

sqscalar:
	CMPQ        AX, CX
	JAE         sqstore
	VMOVSS      (SI)(AX*1), X6
	VFMADD231SS (DI)(AX*1), X6, X5
	ADDQ        $4, AX
	JMP         sqscalar

sqstore:
	VMOVSS X5, (DX)
	ADDQ   $4, DX
	ADDQ   BX, SI
	DECQ   R9
	JMP    sqrow

sqdone:
	VZEROUPPER
	RET

// func dotRowsSeqAVX2(w *float32, stride int, x *float32, n int, out *float32, rows int)
//
// dotRowsSeqAVX512 on 256-bit registers, with the same results: the 16
// lanes are two 8-lane accumulators (lanes 0–7 and 8–15), each summed in
// the same order, and added as the 512-bit form adds its halves.
TEXT ·dotRowsSeqAVX2(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), BX
	SHLQ $2, BX
	MOVQ x+16(FP), DI
	MOVQ n+24(FP), CX
	SHLQ $2, CX
	MOVQ out+32(FP), DX
	MOVQ rows+40(FP), R9
	MOVQ CX, R10
	ANDQ $-64, R10
	MOVQ CX, R12
	SUBQ R10, R12

s2row:
	TESTQ R9, R9
	JZ    s2done
	VXORPS Y1, Y1, Y1
	XORQ   AX, AX
	TESTQ  R10, R10
	JZ     s2tail8
	VXORPS Y0, Y0, Y0
	VXORPS Y8, Y8, Y8

s2loop:
	VMOVUPS     (SI)(AX*1), Y2
	VMOVUPS     32(SI)(AX*1), Y9
	VFMADD231PS (DI)(AX*1), Y2, Y0
	VFMADD231PS 32(DI)(AX*1), Y9, Y8
	ADDQ        $64, AX
	CMPQ        AX, R10
	JNE         s2loop
	VADDPS      Y0, Y8, Y1

s2tail8:
	CMPQ R12, $32
	JB   s2reduce
	VMOVUPS     (SI)(AX*1), Y2
	VFMADD231PS (DI)(AX*1), Y2, Y1
	ADDQ        $32, AX

s2reduce:
	VEXTRACTF128 $1, Y1, X3
	VADDPS       X1, X3, X3
	VMOVHLPS     X3, X3, X4
	VADDPS       X3, X4, X4
	VSHUFPS      $85, X4, X4, X5
	VADDSS       X4, X5, X5

s2scalar:
	CMPQ        AX, CX
	JAE         s2store
	VMOVSS      (SI)(AX*1), X6
	VFMADD231SS (DI)(AX*1), X6, X5
	ADDQ        $4, AX
	JMP         s2scalar

s2store:
	VMOVSS X5, (DX)
	ADDQ   $4, DX
	ADDQ   BX, SI
	DECQ   R9
	JMP    s2row

s2done:
	VZEROUPPER
	RET

// RED8 reduces the 8 lanes of Y (X its low half) to lane 0 of X as
// dotRowsSeqAVX512 does: (l + l+4), then (l + l+2), then (l + l+1).
#define RED8(Y, X, T1, T2) \
	VEXTRACTF128 $1, Y, T1 \
	VADDPS       X, T1, T1 \
	VMOVHLPS     T1, T1, T2 \
	VADDPS       T1, T2, T2 \
	VSHUFPS      $85, T2, T2, X \
	VADDSS       T2, X, X

// HALVES adds the two 8-lane halves of the 16-lane accumulator Z into Y.
#define HALVES(Z, Y, T) \
	VEXTRACTF64X4 $1, Z, T \
	VADDPS        Y, T, Y

// func dotRows4SeqAVX512(w *float32, stride int, x *float32, n int, out *float32, h int)
//
// out[q·h+i] = Σ_{k<n} w[(q·h+i)·stride+k]·x[k] for q < 4 and i < h: the
// rows of four quarters of a 4h-row matrix, one row of each quarter at a
// time, each row summed exactly as dotRowsSeqAVX512 sums it. Each quarter
// is read as one sequential stream, so four streams overlap their waits on
// memory (and on the start of each 4 KiB page, where a hardware prefetcher
// stops), and the four FMA chains overlap their latency where the rows are
// in cache. h ≥ 1, any n ≥ 0.
TEXT ·dotRows4SeqAVX512(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), BX
	SHLQ $2, BX
	MOVQ x+16(FP), DI
	MOVQ n+24(FP), CX
	SHLQ $2, CX
	MOVQ out+32(FP), DX
	MOVQ h+40(FP), R9
	MOVQ R9, R14
	SHLQ $2, R14
	MOVQ BX, AX
	IMULQ R9, AX
	LEAQ (SI)(AX*1), R8
	LEAQ (R8)(AX*1), R11
	LEAQ (R11)(AX*1), R13
	MOVQ CX, R10
	ANDQ $-64, R10
	MOVQ CX, R12
	SUBQ R10, R12

q4row:
	TESTQ R9, R9
	JZ    q4done
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ   AX, AX
	TESTQ  R10, R10
	JZ     q4tail8

q4loop:
	VMOVUPS     (DI)(AX*1), Z4
	VFMADD231PS (SI)(AX*1), Z4, Z0
	VFMADD231PS (R8)(AX*1), Z4, Z1
	VFMADD231PS (R11)(AX*1), Z4, Z2
	VFMADD231PS (R13)(AX*1), Z4, Z3
	ADDQ        $64, AX
	CMPQ        AX, R10
	JNE         q4loop
	HALVES(Z0, Y0, Y5)
	HALVES(Z1, Y1, Y5)
	HALVES(Z2, Y2, Y5)
	HALVES(Z3, Y3, Y5)

q4tail8:
	CMPQ R12, $32
	JB   q4reduce
	VMOVUPS     (DI)(AX*1), Y4
	VFMADD231PS (SI)(AX*1), Y4, Y0
	VFMADD231PS (R8)(AX*1), Y4, Y1
	VFMADD231PS (R11)(AX*1), Y4, Y2
	VFMADD231PS (R13)(AX*1), Y4, Y3
	ADDQ        $32, AX

q4reduce:
	RED8(Y0, X0, X5, X6)
	RED8(Y1, X1, X5, X6)
	RED8(Y2, X2, X5, X6)
	RED8(Y3, X3, X5, X6)

q4scalar:
	CMPQ        AX, CX
	JAE         q4store
	VMOVSS      (DI)(AX*1), X4
	VMOVSS      (SI)(AX*1), X5
	VFMADD231SS X4, X5, X0
	VMOVSS      (R8)(AX*1), X5
	VFMADD231SS X4, X5, X1
	VMOVSS      (R11)(AX*1), X5
	VFMADD231SS X4, X5, X2
	VMOVSS      (R13)(AX*1), X5
	VFMADD231SS X4, X5, X3
	ADDQ        $4, AX
	JMP         q4scalar

q4store:
	VMOVSS X0, (DX)
	VMOVSS X1, (DX)(R14*1)
	VMOVSS X2, (DX)(R14*2)
	ADDQ   R14, DX
	VMOVSS X3, (DX)(R14*2)
	SUBQ   R14, DX
	ADDQ   $4, DX
	ADDQ   BX, SI
	ADDQ   BX, R8
	ADDQ   BX, R11
	ADDQ   BX, R13
	DECQ   R9
	JMP    q4row

q4done:
	VZEROUPPER
	RET

// func dotRows4SeqAVX2(w *float32, stride int, x *float32, n int, out *float32, h int)
//
// dotRows4SeqAVX512 on 256-bit registers, with the same results: each
// row's 16 lanes are two 8-lane accumulators (lanes 0–7 and 8–15), added
// as the 512-bit form adds its halves.
TEXT ·dotRows4SeqAVX2(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), BX
	SHLQ $2, BX
	MOVQ x+16(FP), DI
	MOVQ n+24(FP), CX
	SHLQ $2, CX
	MOVQ out+32(FP), DX
	MOVQ h+40(FP), R9
	MOVQ R9, R14
	SHLQ $2, R14
	MOVQ BX, AX
	IMULQ R9, AX
	LEAQ (SI)(AX*1), R8
	LEAQ (R8)(AX*1), R11
	LEAQ (R11)(AX*1), R13
	MOVQ CX, R10
	ANDQ $-64, R10
	MOVQ CX, R12
	SUBQ R10, R12

a4row:
	TESTQ R9, R9
	JZ    a4done
	VXORPS Y0, Y0, Y0
	VXORPS Y2, Y2, Y2
	VXORPS Y4, Y4, Y4
	VXORPS Y6, Y6, Y6
	XORQ   AX, AX
	TESTQ  R10, R10
	JZ     a4tail8
	VXORPS Y1, Y1, Y1
	VXORPS Y3, Y3, Y3
	VXORPS Y5, Y5, Y5
	VXORPS Y7, Y7, Y7

a4loop:
	VMOVUPS     (DI)(AX*1), Y8
	VMOVUPS     32(DI)(AX*1), Y9
	VFMADD231PS (SI)(AX*1), Y8, Y0
	VFMADD231PS 32(SI)(AX*1), Y9, Y1
	VFMADD231PS (R8)(AX*1), Y8, Y2
	VFMADD231PS 32(R8)(AX*1), Y9, Y3
	VFMADD231PS (R11)(AX*1), Y8, Y4
	VFMADD231PS 32(R11)(AX*1), Y9, Y5
	VFMADD231PS (R13)(AX*1), Y8, Y6
	VFMADD231PS 32(R13)(AX*1), Y9, Y7
	ADDQ        $64, AX
	CMPQ        AX, R10
	JNE         a4loop
	VADDPS      Y0, Y1, Y0
	VADDPS      Y2, Y3, Y2
	VADDPS      Y4, Y5, Y4
	VADDPS      Y6, Y7, Y6

a4tail8:
	CMPQ R12, $32
	JB   a4reduce
	VMOVUPS     (DI)(AX*1), Y8
	VFMADD231PS (SI)(AX*1), Y8, Y0
	VFMADD231PS (R8)(AX*1), Y8, Y2
	VFMADD231PS (R11)(AX*1), Y8, Y4
	VFMADD231PS (R13)(AX*1), Y8, Y6
	ADDQ        $32, AX

a4reduce:
	RED8(Y0, X0, X10, X11)
	RED8(Y2, X2, X10, X11)
	RED8(Y4, X4, X10, X11)
	RED8(Y6, X6, X10, X11)

a4scalar:
	CMPQ        AX, CX
	JAE         a4store
	VMOVSS      (DI)(AX*1), X8
	VMOVSS      (SI)(AX*1), X9
	VFMADD231SS X8, X9, X0
	VMOVSS      (R8)(AX*1), X9
	VFMADD231SS X8, X9, X2
	VMOVSS      (R11)(AX*1), X9
	VFMADD231SS X8, X9, X4
	VMOVSS      (R13)(AX*1), X9
	VFMADD231SS X8, X9, X6
	ADDQ        $4, AX
	JMP         a4scalar

a4store:
	VMOVSS X0, (DX)
	VMOVSS X2, (DX)(R14*1)
	VMOVSS X4, (DX)(R14*2)
	ADDQ   R14, DX
	VMOVSS X6, (DX)(R14*2)
	SUBQ   R14, DX
	ADDQ   $4, DX
	ADDQ   BX, SI
	ADDQ   BX, R8
	ADDQ   BX, R11
	ADDQ   BX, R13
	DECQ   R9
	JMP    a4row

a4done:
	VZEROUPPER
	RET
