//go:build amd64

#include "textflag.h"

// func axpy4x16AVX512(y *float32, ystride int, p *float32, pstride int, v *float32, vstride int, count int)
//
// For b < 4, adds Σ_{c<count} p[b·pstride+c]·v[c·vstride : c·vstride+16]
// to y[b·ystride : b·ystride+16], in order of c: the four rows of y stay
// in registers while the value rows stream once.
TEXT ·axpy4x16AVX512(SB), NOSPLIT, $0-56
	MOVQ y+0(FP), DI
	MOVQ ystride+8(FP), R8
	SHLQ $2, R8
	MOVQ p+16(FP), AX
	MOVQ pstride+24(FP), R9
	SHLQ $2, R9
	MOVQ v+32(FP), SI
	MOVQ vstride+40(FP), R10
	SHLQ $2, R10
	MOVQ count+48(FP), CX
	LEAQ (DI)(R8*2), R11
	LEAQ (AX)(R9*2), R12
	VMOVUPS (DI), Z0
	VMOVUPS (DI)(R8*1), Z1
	VMOVUPS (R11), Z2
	VMOVUPS (R11)(R8*1), Z3
	TESTQ CX, CX
	JZ   axdone

axloop:
	VMOVUPS (SI), Z4
	VBROADCASTSS (AX), Z5
	VBROADCASTSS (AX)(R9*1), Z6
	VBROADCASTSS (R12), Z7
	VBROADCASTSS (R12)(R9*1), Z8
	VFMADD231PS Z5, Z4, Z0
	VFMADD231PS Z6, Z4, Z1
	VFMADD231PS Z7, Z4, Z2
	VFMADD231PS Z8, Z4, Z3
	ADDQ R10, SI
	ADDQ $4, AX
	ADDQ $4, R12
	DECQ CX
	JNZ  axloop

axdone:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, (DI)(R8*1)
	VMOVUPS Z2, (R11)
	VMOVUPS Z3, (R11)(R8*1)
	VZEROUPPER
	RET
