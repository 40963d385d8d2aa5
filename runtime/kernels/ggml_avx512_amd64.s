//go:build amd64

#include "textflag.h"

// AVX-512 forms of dotQ4_0AVX2 and dotQ8AVX2: one 512-bit register holds
// 16 values, so a 32-value block takes two conversions and two FMAs.

// func dotQ4_0AVX512(data *byte, nblocks int, x *float32) float32
TEXT ·dotQ4_0AVX512(SB), NOSPLIT, $0-28
	MOVQ data+0(FP), SI
	MOVQ nblocks+8(FP), CX
	MOVQ x+16(FP), DI
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	MOVL $15, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	MOVL $8, DX
	VMOVD DX, X14
	VPBROADCASTD X14, Z14

q40loop:
	TESTQ CX, CX
	JZ    q40done
	VPMOVZXBD 2(SI), Z0
	VPSRLD $4, Z0, Z1
	VPANDD Z15, Z0, Z0
	VPSUBD Z14, Z0, Z0
	VPSUBD Z14, Z1, Z1
	VCVTDQ2PS Z0, Z0
	VCVTDQ2PS Z1, Z1
	VMULPS (DI), Z0, Z8
	VFMADD231PS 64(DI), Z1, Z8
	MOVWLZX (SI), DX
	VMOVD DX, X4
	VCVTPH2PS X4, X4
	VBROADCASTSS X4, Z4
	VFMADD231PS Z4, Z8, Z12
	ADDQ $18, SI
	ADDQ $128, DI
	DECQ CX
	JMP  q40loop

q40done:
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotQ8AVX512(data *byte, nblocks int, x *float32) float32
TEXT ·dotQ8AVX512(SB), NOSPLIT, $0-28
	MOVQ data+0(FP), SI
	MOVQ nblocks+8(FP), CX
	MOVQ x+16(FP), DI
	VXORPS Z12, Z12, Z12

q8loop:
	TESTQ CX, CX
	JZ    q8done
	VPMOVSXBD 2(SI), Z0
	VPMOVSXBD 18(SI), Z1
	VCVTDQ2PS Z0, Z0
	VCVTDQ2PS Z1, Z1
	VMULPS (DI), Z0, Z8
	VFMADD231PS 64(DI), Z1, Z8
	MOVWLZX (SI), DX
	VMOVD DX, X4
	VCVTPH2PS X4, X4
	VBROADCASTSS X4, Z4
	VFMADD231PS Z4, Z8, Z12
	ADDQ $34, SI
	ADDQ $128, DI
	DECQ CX
	JMP  q8loop

q8done:
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dot4bitAVX512(codes *byte, scales *float32, nhalves int, xp *float32, table *[16]float32) float32
//
// The 4-bit (NF4/FP4) dot product: each 32-value half-block is 16 code
// bytes, widened to 16 dwords; VPERMPS looks the 16-entry code table up by
// the low four bits of each dword, so the byte itself indexes the low
// nibble (odd values) and the byte shifted right by 4 the high nibble (even
// values). xp holds, per half, x's 16 even values then its 16 odd ones.
TEXT ·dot4bitAVX512(SB), NOSPLIT, $0-44
	MOVQ codes+0(FP), SI
	MOVQ scales+8(FP), BX
	MOVQ nhalves+16(FP), CX
	MOVQ xp+24(FP), DI
	MOVQ table+32(FP), AX
	VMOVUPS (AX), Z15
	VXORPS Z12, Z12, Z12

n4loop:
	TESTQ CX, CX
	JZ    n4done
	VPMOVZXBD (SI), Z0
	VPSRLD $4, Z0, Z1
	VPERMPS Z15, Z1, Z2
	VPERMPS Z15, Z0, Z3
	VMULPS (DI), Z2, Z8
	VFMADD231PS 64(DI), Z3, Z8
	VBROADCASTSS (BX), Z4
	VFMADD231PS Z4, Z8, Z12
	ADDQ $16, SI
	ADDQ $128, DI
	ADDQ $4, BX
	DECQ CX
	JMP  n4loop

n4done:
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+40(FP)
	RET
