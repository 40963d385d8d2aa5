//go:build amd64

#include "textflag.h"

// func trainGemm8x32AVX512(a *float32, as, ak int, b *float32, bs int, k int, c *float32, cs int, run int, add bool)
//
// C[i][0:32] (+)= Σ_{p<k} A[i·as + p·ak] · B[p·bs + 0:32] for the eight
// rows i < 8 of C (cs elements apart): an 8×32 register tile of AVX-512
// FMA outer products, each B row loaded once (two vectors) for eight
// broadcast A values. The sum runs in runs of run values of p, each
// summed in order in one FMA chain from zero and then added to C (stored
// over it for the first run when add is false), which bounds the
// rounding error by run + k/run terms rather than by k. k, run ≥ 1.
TEXT ·trainGemm8x32AVX512(SB), NOSPLIT, $0-73
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
	MOVBLZX add+72(FP), AX
	LEAQ (SI)(R8*2), BX
	ADDQ R8, BX        // BX = row 3
	LEAQ (BX)(R8*2), R12
	ADDQ R8, R12       // R12 = row 6

t8block:
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
	MOVQ run+64(FP), R13
	CMPQ CX, R13
	JGE  t8full
	MOVQ CX, R13

t8full:
	SUBQ R13, CX

t8loop:
	VMOVUPS (DI), Z24
	VMOVUPS 64(DI), Z25
	VBROADCASTSS (SI), Z26
	VBROADCASTSS (SI)(R8*1), Z27
	VFMADD231PS Z24, Z26, Z0
	VFMADD231PS Z25, Z26, Z1
	VBROADCASTSS (SI)(R8*2), Z28
	VFMADD231PS Z24, Z27, Z2
	VFMADD231PS Z25, Z27, Z3
	VBROADCASTSS (BX), Z29
	VFMADD231PS Z24, Z28, Z4
	VFMADD231PS Z25, Z28, Z5
	VBROADCASTSS (BX)(R8*1), Z26
	VFMADD231PS Z24, Z29, Z6
	VFMADD231PS Z25, Z29, Z7
	VBROADCASTSS (BX)(R8*2), Z27
	VFMADD231PS Z24, Z26, Z8
	VFMADD231PS Z25, Z26, Z9
	VBROADCASTSS (R12), Z28
	VFMADD231PS Z24, Z27, Z10
	VFMADD231PS Z25, Z27, Z11
	VBROADCASTSS (R12)(R8*1), Z29
	VFMADD231PS Z24, Z28, Z12
	VFMADD231PS Z25, Z28, Z13
	VFMADD231PS Z24, Z29, Z14
	VFMADD231PS Z25, Z29, Z15
	ADDQ R9, SI
	ADDQ R9, BX
	ADDQ R9, R12
	ADDQ R10, DI
	DECQ R13
	JNZ  t8loop

	MOVQ DX, R14
	TESTQ AX, AX
	JZ    t8store
	VADDPS (R14), Z0, Z0
	VADDPS 64(R14), Z1, Z1
	ADDQ R11, R14
	VADDPS (R14), Z2, Z2
	VADDPS 64(R14), Z3, Z3
	ADDQ R11, R14
	VADDPS (R14), Z4, Z4
	VADDPS 64(R14), Z5, Z5
	ADDQ R11, R14
	VADDPS (R14), Z6, Z6
	VADDPS 64(R14), Z7, Z7
	ADDQ R11, R14
	VADDPS (R14), Z8, Z8
	VADDPS 64(R14), Z9, Z9
	ADDQ R11, R14
	VADDPS (R14), Z10, Z10
	VADDPS 64(R14), Z11, Z11
	ADDQ R11, R14
	VADDPS (R14), Z12, Z12
	VADDPS 64(R14), Z13, Z13
	ADDQ R11, R14
	VADDPS (R14), Z14, Z14
	VADDPS 64(R14), Z15, Z15
	MOVQ DX, R14

t8store:
	VMOVUPS Z0, (R14)
	VMOVUPS Z1, 64(R14)
	ADDQ R11, R14
	VMOVUPS Z2, (R14)
	VMOVUPS Z3, 64(R14)
	ADDQ R11, R14
	VMOVUPS Z4, (R14)
	VMOVUPS Z5, 64(R14)
	ADDQ R11, R14
	VMOVUPS Z6, (R14)
	VMOVUPS Z7, 64(R14)
	ADDQ R11, R14
	VMOVUPS Z8, (R14)
	VMOVUPS Z9, 64(R14)
	ADDQ R11, R14
	VMOVUPS Z10, (R14)
	VMOVUPS Z11, 64(R14)
	ADDQ R11, R14
	VMOVUPS Z12, (R14)
	VMOVUPS Z13, 64(R14)
	ADDQ R11, R14
	VMOVUPS Z14, (R14)
	VMOVUPS Z15, 64(R14)
	MOVQ $1, AX
	TESTQ CX, CX
	JNZ  t8block
	VZEROUPPER
	RET

// func trainPack32AVX2(w *float32, stride int, panel *float32, k8 int)
//
// panel[p·32 + j] = w[j·stride + p] for the 32 rows j < 32 of W (stride
// elements apart) and the columns p < k8, k8 a positive multiple of 8:
// eight rows by eight columns at a time, transposed in registers.
TEXT ·trainPack32AVX2(SB), NOSPLIT, $0-32
	MOVQ w+0(FP), SI
	MOVQ stride+8(FP), R8
	SHLQ $2, R8
	MOVQ panel+16(FP), DI
	MOVQ k8+24(FP), R13
	MOVQ $4, R14 // groups of eight rows

p32group:
	MOVQ SI, AX            // row 0 of the group, column 0
	LEAQ (SI)(R8*4), BX    // row 4
	MOVQ DI, DX            // panel column j0 of the group
	MOVQ R13, CX
	SHRQ $3, CX

p32block:
	LEAQ (AX)(R8*2), R9    // row 2
	LEAQ (BX)(R8*2), R10   // row 6
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(R8*1), Y1
	VMOVUPS (R9), Y2
	VMOVUPS (R9)(R8*1), Y3
	VMOVUPS (BX), Y4
	VMOVUPS (BX)(R8*1), Y5
	VMOVUPS (R10), Y6
	VMOVUPS (R10)(R8*1), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	VMOVUPS Y8, (DX)
	VMOVUPS Y9, 128(DX)
	VMOVUPS Y10, 256(DX)
	VMOVUPS Y11, 384(DX)
	VMOVUPS Y12, 512(DX)
	VMOVUPS Y13, 640(DX)
	VMOVUPS Y14, 768(DX)
	VMOVUPS Y15, 896(DX)
	ADDQ $32, AX
	ADDQ $32, BX
	ADDQ $1024, DX
	DECQ CX
	JNZ  p32block

	LEAQ (SI)(R8*8), SI    // the next eight rows
	ADDQ $32, DI           // the next eight panel columns
	DECQ R14
	JNZ  p32group
	VZEROUPPER
	RET

// func trainPrefetchT1(p *float32, lines int)
//
// Prefetches the lines consecutive 64-byte cache lines from p into L2.
TEXT ·trainPrefetchT1(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), SI
	MOVQ lines+8(FP), CX
	TESTQ CX, CX
	JLE  pfdone

pfloop:
	PREFETCHT1 (SI)
	ADDQ $64, SI
	DECQ CX
	JNZ  pfloop

pfdone:
	RET
