//go:build amd64

#include "textflag.h"

// NIBBLES16 multiplies the 16 codes in the 8 bytes at coff(SI), decoded
// through the scaled table in Y15 (entries 0-7) and Y14 (entries 8-15), by
// the matching 16 values of xp at xoff(DI) and xoff2(DI), accumulating the
// high nibbles into acchi and the low nibbles into acclo. Y13 holds the dword
// mask 15.
#define NIBBLES16(coff, xoff, xoff2, acchi, acclo) \
	VPMOVZXBD coff(SI), Y0; \
	VPSRLD $4, Y0, Y1; \
	VPAND Y13, Y0, Y0; \
	VPERMPS Y15, Y1, Y2; \
	VPERMPS Y14, Y1, Y3; \
	VPSLLD $28, Y1, Y1; \
	VBLENDVPS Y1, Y3, Y2, Y2; \
	VFMADD231PS xoff(DI), Y2, acchi; \
	VPERMPS Y15, Y0, Y4; \
	VPERMPS Y14, Y0, Y5; \
	VPSLLD $28, Y0, Y0; \
	VBLENDVPS Y0, Y5, Y4, Y4; \
	VFMADD231PS xoff2(DI), Y4, acclo

// SCALETABLE sets Y15 and Y14 to the code table times the scale at off(BX).
#define SCALETABLE(off) \
	VBROADCASTSS off(BX), Y6; \
	VMULPS Y8, Y6, Y15; \
	VMULPS Y7, Y6, Y14

// func dot4bitAVX2(codes *byte, scales *float32, ngroups int, xp *float32, table *[16]float32) float32
TEXT ·dot4bitAVX2(SB), NOSPLIT, $0-44
	MOVQ codes+0(FP), SI
	MOVQ scales+8(FP), BX
	MOVQ ngroups+16(FP), CX
	MOVQ xp+24(FP), DI
	MOVQ table+32(FP), AX
	VMOVUPS (AX), Y8
	VMOVUPS 32(AX), Y7
	MOVL $15, DX
	VMOVD DX, X13
	VPBROADCASTD X13, Y13
	VXORPS Y12, Y12, Y12
	VXORPS Y11, Y11, Y11
	VXORPS Y10, Y10, Y10
	VXORPS Y9, Y9, Y9

g2loop:
	CMPQ CX, $2
	JL   g1
	SCALETABLE(0)
	NIBBLES16(0, 0, 32, Y12, Y11)
	SCALETABLE(4)
	NIBBLES16(8, 64, 96, Y10, Y9)
	ADDQ $16, SI
	ADDQ $128, DI
	ADDQ $8, BX
	SUBQ $2, CX
	JMP  g2loop

g1:
	TESTQ CX, CX
	JZ    g4done
	SCALETABLE(0)
	NIBBLES16(0, 0, 32, Y12, Y11)

g4done:
	VADDPS Y11, Y12, Y12
	VADDPS Y9, Y10, Y10
	VADDPS Y10, Y12, Y12
	VEXTRACTF128 $1, Y12, X1
	VADDPS X1, X12, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+40(FP)
	RET

// func dotQ8AVX2(data *byte, scales *float32, nblocks int, x *float32) float32
TEXT ·dotQ8AVX2(SB), NOSPLIT, $0-36
	MOVQ data+0(FP), SI
	MOVQ scales+8(FP), BX
	MOVQ nblocks+16(FP), CX
	MOVQ x+24(FP), DI
	VXORPS Y12, Y12, Y12

q8loop:
	TESTQ CX, CX
	JZ    q8done
	VPMOVSXBD 2(SI), Y0
	VCVTDQ2PS Y0, Y0
	VMULPS (DI), Y0, Y8
	VPMOVSXBD 10(SI), Y1
	VCVTDQ2PS Y1, Y1
	VFMADD231PS 32(DI), Y1, Y8
	VPMOVSXBD 18(SI), Y2
	VCVTDQ2PS Y2, Y2
	VMULPS 64(DI), Y2, Y9
	VPMOVSXBD 26(SI), Y3
	VCVTDQ2PS Y3, Y3
	VFMADD231PS 96(DI), Y3, Y9
	VADDPS Y9, Y8, Y8
	VBROADCASTSS (BX), Y4
	VFMADD231PS Y4, Y8, Y12
	ADDQ $34, SI
	ADDQ $128, DI
	ADDQ $4, BX
	DECQ CX
	JMP  q8loop

q8done:
	VEXTRACTF128 $1, Y12, X1
	VADDPS X1, X12, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// func dot4bitBlocksAVX2(codes *byte, scales *float32, nblocks int, xp *float32, table *[16]float32) float32
TEXT ·dot4bitBlocksAVX2(SB), NOSPLIT, $0-44
	MOVQ codes+0(FP), SI
	MOVQ scales+8(FP), BX
	MOVQ nblocks+16(FP), CX
	MOVQ xp+24(FP), DI
	MOVQ table+32(FP), AX
	VMOVUPS (AX), Y8
	VMOVUPS 32(AX), Y7
	MOVL $15, DX
	VMOVD DX, X13
	VPBROADCASTD X13, Y13
	VXORPS Y12, Y12, Y12
	VXORPS Y11, Y11, Y11
	VXORPS Y10, Y10, Y10
	VXORPS Y9, Y9, Y9

bkloop:
	TESTQ CX, CX
	JZ    bkdone
	SCALETABLE(0)
	NIBBLES16(0, 0, 32, Y12, Y11)
	NIBBLES16(8, 64, 96, Y10, Y9)
	NIBBLES16(16, 128, 160, Y12, Y11)
	NIBBLES16(24, 192, 224, Y10, Y9)
	ADDQ $32, SI
	ADDQ $256, DI
	ADDQ $4, BX
	DECQ CX
	JMP  bkloop

bkdone:
	VADDPS Y11, Y12, Y12
	VADDPS Y9, Y10, Y10
	VADDPS Y10, Y12, Y12
	VEXTRACTF128 $1, Y12, X1
	VADDPS X1, X12, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+40(FP)
	RET
