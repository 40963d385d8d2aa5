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

// Q4KSUB512 adds the 32 nibbles of sub-block s (low nibbles when shift is
// 0, high when 4) of the 32 bytes at (R8), times the 32 floats at
// xoff(DI), scaled by soff(BX), to Z12. It clobbers Z0-Z3, Z8, Z10.
#define Q4KSUB512(shift, xoff, soff) \
	VPMOVZXBD (R8), Z0; \
	VPMOVZXBD 16(R8), Z1; \
	VPSRLD $shift, Z0, Z0; \
	VPSRLD $shift, Z1, Z1; \
	VPANDD Z15, Z0, Z0; \
	VPANDD Z15, Z1, Z1; \
	VCVTDQ2PS Z0, Z0; \
	VCVTDQ2PS Z1, Z1; \
	VMULPS xoff(DI), Z0, Z8; \
	VFMADD231PS xoff+64(DI), Z1, Z8; \
	VBROADCASTSS soff(BX), Z10; \
	VFMADD231PS Z10, Z8, Z12

// func dotQ4KAVX512(data *byte, nblocks int, scales *float32, x *float32) float32
TEXT ·dotQ4KAVX512(SB), NOSPLIT, $0-36
	MOVQ data+0(FP), SI
	MOVQ nblocks+8(FP), CX
	MOVQ scales+16(FP), BX
	MOVQ x+24(FP), DI
	VXORPS Z12, Z12, Z12
	MOVL $15, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15

q4kloop:
	TESTQ CX, CX
	JZ    q4kdone
	LEAQ 16(SI), R8
	MOVQ $4, R9

q4kchunk:
	Q4KSUB512(0, 0, 0)
	Q4KSUB512(4, 128, 4)
	ADDQ $32, R8
	ADDQ $256, DI
	ADDQ $8, BX
	DECQ R9
	JNZ  q4kchunk
	ADDQ $144, SI
	DECQ CX
	JMP  q4kloop

q4kdone:
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// Q6SUB512 adds the 16 six-bit values of one sub-block (low or high nibble,
// qls = 0 or 4, of the 16 bytes at qlo(R8); two bits at qhs of the 16 bytes
// at qho(R9)), minus 32, times the floats at xoff(DI), scaled by
// soff(BX), to Z12. It clobbers Z0, Z7, Z8, Z10.
#define Q6SUB512(qlo, qho, qls, qhs, xoff, soff) \
	VPMOVZXBD qlo(R8), Z0; \
	VPSRLD $qls, Z0, Z0; \
	VPANDD Z15, Z0, Z0; \
	VPMOVZXBD qho(R9), Z7; \
	VPSRLD $qhs, Z7, Z7; \
	VPANDD Z13, Z7, Z7; \
	VPSLLD $4, Z7, Z7; \
	VPORD Z7, Z0, Z0; \
	VPSUBD Z14, Z0, Z0; \
	VCVTDQ2PS Z0, Z0; \
	VMULPS xoff(DI), Z0, Z8; \
	VBROADCASTSS soff(BX), Z10; \
	VFMADD231PS Z10, Z8, Z12

// Q6GROUP512 is one group of 32 values: two sub-blocks.
#define Q6GROUP512(qlo, qls, qhs, xoff, soff) \
	Q6SUB512(qlo, 0, qls, qhs, xoff, soff); \
	Q6SUB512(qlo+16, 16, qls, qhs, xoff+64, soff+4)

// func dotQ6KAVX512(data *byte, nblocks int, scales *float32, x *float32) float32
TEXT ·dotQ6KAVX512(SB), NOSPLIT, $0-36
	MOVQ data+0(FP), SI
	MOVQ nblocks+8(FP), CX
	MOVQ scales+16(FP), BX
	MOVQ x+24(FP), DI
	VXORPS Z12, Z12, Z12
	MOVL $15, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	MOVL $3, DX
	VMOVD DX, X13
	VPBROADCASTD X13, Z13
	MOVL $32, DX
	VMOVD DX, X14
	VPBROADCASTD X14, Z14

q6kloop:
	TESTQ CX, CX
	JZ    q6kdone
	MOVQ SI, R8
	LEAQ 128(SI), R9
	MOVQ $2, R10

q6khalf:
	Q6GROUP512(0, 0, 0, 0, 0)
	Q6GROUP512(32, 0, 2, 128, 8)
	Q6GROUP512(0, 4, 4, 256, 16)
	Q6GROUP512(32, 4, 6, 384, 24)
	ADDQ $64, R8
	ADDQ $32, R9
	ADDQ $512, DI
	ADDQ $32, BX
	DECQ R10
	JNZ  q6khalf
	ADDQ $210, SI
	DECQ CX
	JMP  q6kloop

q6kdone:
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET
