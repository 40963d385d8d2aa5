#include "textflag.h"

DATA expc<>+0(SB)/4, $0x3fb8aa3b  // log2(e)
DATA expc<>+4(SB)/4, $0x3f317200  // ln2 hi (0.693145751953125)
DATA expc<>+8(SB)/4, $0x35bfbe8e  // ln2 lo (1.4286068203094173e-06)
DATA expc<>+12(SB)/4, $0xc2ae0000 // −87
DATA expc<>+16(SB)/4, $0x42b16666 // 88.7
DATA expc<>+20(SB)/4, $0x3f800000 // 1
DATA expc<>+24(SB)/4, $0x3f000000 // 1/2
DATA expc<>+28(SB)/4, $0x3e2aaaab // 1/6
DATA expc<>+32(SB)/4, $0x3d2aaaab // 1/24
DATA expc<>+36(SB)/4, $0x3c088889 // 1/120
DATA expc<>+40(SB)/4, $0x3ab60b61 // 1/720
DATA expc<>+44(SB)/4, $127
GLOBL expc<>(SB), RODATA|NOPTR, $48

// func expScaleAVX2(dst, x *float32, n int, shift, scale float32) float32
//
// dst[i] = scale·e^(x[i]−shift) for i < n (n a positive multiple of 8),
// returning Σ e^(x[i]−shift) in eight lanes added up at the end. e^y is
// exp32's: y clamped to [−87, 88.7] (a NaN stays NaN), y = k·ln2 + r, a
// degree-6 polynomial in r times 2ᵏ.
TEXT ·expScaleAVX2(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHLQ $2, CX
	VBROADCASTSS shift+24(FP), Y15
	VBROADCASTSS scale+28(FP), Y14
	VBROADCASTSS expc<>+0(SB), Y13
	VBROADCASTSS expc<>+4(SB), Y12
	VBROADCASTSS expc<>+8(SB), Y11
	VBROADCASTSS expc<>+12(SB), Y10
	VBROADCASTSS expc<>+16(SB), Y9
	VBROADCASTSS expc<>+20(SB), Y8
	VPBROADCASTD expc<>+44(SB), Y7
	VXORPS Y6, Y6, Y6
	XORQ AX, AX

exloop:
	VMOVUPS (SI)(AX*1), Y0
	VSUBPS  Y15, Y0, Y0
	VMAXPS  Y0, Y10, Y0
	VMINPS  Y0, Y9, Y0
	VMULPS  Y13, Y0, Y1
	VROUNDPS $0, Y1, Y1
	VMOVAPS Y0, Y2
	VFNMADD231PS Y12, Y1, Y2
	VFNMADD231PS Y11, Y1, Y2
	VBROADCASTSS expc<>+40(SB), Y3
	VBROADCASTSS expc<>+36(SB), Y4
	VFMADD213PS Y4, Y2, Y3
	VBROADCASTSS expc<>+32(SB), Y4
	VFMADD213PS Y4, Y2, Y3
	VBROADCASTSS expc<>+28(SB), Y4
	VFMADD213PS Y4, Y2, Y3
	VBROADCASTSS expc<>+24(SB), Y4
	VFMADD213PS Y4, Y2, Y3
	VFMADD213PS Y8, Y2, Y3
	VFMADD213PS Y8, Y2, Y3
	VCVTPS2DQ Y1, Y1
	VPADDD  Y7, Y1, Y1
	VPSLLD  $23, Y1, Y1
	VMULPS  Y1, Y3, Y3
	VADDPS  Y3, Y6, Y6
	VMULPS  Y14, Y3, Y3
	VMOVUPS Y3, (DI)(AX*1)
	ADDQ    $32, AX
	CMPQ    AX, CX
	JLT     exloop
	VEXTRACTF128 $1, Y6, X1
	VADDPS X1, X6, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	MOVSS X0, ret+32(FP)
	VZEROUPPER
	RET

// func maxAVX512(x *float32, n int) float32
//
// The largest of x[0..n) (n ≥ 1) sixteen at a time, the last up to 15
// under a mask. Unlike Go's max it may pass over a NaN, and of +0 and −0
// either may come back; a softmax's results do not depend on either
// (a NaN among the values makes every probability NaN all the same).
TEXT ·maxAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVL $0xff800000, AX // −Inf
	VPBROADCASTD AX, Z0
	VMOVAPS Z0, Z3

mxloop:
	CMPQ CX, $16
	JLT  mxtail
	VMAXPS (SI), Z0, Z0
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  mxloop

mxtail:
	TESTQ CX, CX
	JZ    mxsum
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K3
	VMOVAPS Z3, Z1
	VMOVUPS (SI), K3, Z1 // the lanes past n stay −Inf
	VMAXPS Z1, Z0, Z0

mxsum:
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4E, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VMAXPS X1, X0, X0
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func scaleAVX512(x *float32, n int, s float32)
//
// x[i] *= s for i < n (n ≥ 1), sixteen at a time, the last up to 15
// under a mask.
TEXT ·scaleAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS s+16(FP), Z2

scloop:
	CMPQ CX, $16
	JLT  sctail
	VMULPS (SI), Z2, Z1
	VMOVUPS Z1, (SI)
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  scloop

sctail:
	TESTQ CX, CX
	JZ    scdone
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K3
	VMOVUPS.Z (SI), K3, Z1
	VMULPS Z1, Z2, Z1
	VMOVUPS Z1, K3, (SI)

scdone:
	VZEROUPPER
	RET

// func sumAVX512(x *float32, n int) float32
//
// Σ x[i] for i < n (n ≥ 1) in sixteen lanes, the last up to 15 values
// under a mask, the lanes added up at the end: not in order.
TEXT ·sumAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z4, Z4, Z4

suloop:
	CMPQ CX, $32
	JLT  suone
	VADDPS (SI), Z0, Z0
	VADDPS 64(SI), Z4, Z4
	ADDQ $128, SI
	SUBQ $32, CX
	JMP  suloop

suone:
	CMPQ CX, $16
	JLT  sutail
	VADDPS (SI), Z0, Z0
	ADDQ $64, SI
	SUBQ $16, CX

sutail:
	TESTQ CX, CX
	JZ    susum
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K3
	VMOVUPS.Z (SI), K3, Z1
	VADDPS Z1, Z4, Z4

susum:
	VADDPS Z4, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VPERMILPS $0x4E, X0, X1
	VADDPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VADDPS X1, X0, X0
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET
