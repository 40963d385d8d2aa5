//go:build amd64

#include "textflag.h"

// ropepairs spreads eight floats over sixteen lanes: lanes 2j and 2j+1
// take float j.
DATA ropepairs<>+0(SB)/8, $0x0000000000000000
DATA ropepairs<>+8(SB)/8, $0x0000000100000001
DATA ropepairs<>+16(SB)/8, $0x0000000200000002
DATA ropepairs<>+24(SB)/8, $0x0000000300000003
DATA ropepairs<>+32(SB)/8, $0x0000000400000004
DATA ropepairs<>+40(SB)/8, $0x0000000500000005
DATA ropepairs<>+48(SB)/8, $0x0000000600000006
DATA ropepairs<>+56(SB)/8, $0x0000000700000007
GLOBL ropepairs<>(SB), RODATA|NOPTR, $64

// func ropeAVX512(dst, src, cos, sin *float32, heads, half int, flip uint64)
TEXT ·ropeAVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ cos+16(FP), R8
	MOVQ sin+24(FP), R9
	MOVQ heads+32(FP), CX
	MOVQ half+40(FP), R10
	VPBROADCASTQ flip+48(FP), Z15
	LEAQ ropepairs<>(SB), AX
	VMOVDQU64 (AX), Z14

rphead:
	XORQ DX, DX

rppair:
	VMOVUPS (R8)(DX*4), Y1
	VPERMPS Z1, Z14, Z1            // cos[j] in lanes 2j, 2j+1
	VMOVUPS (R9)(DX*4), Y2
	VPERMPS Z2, Z14, Z2
	VPXORD  Z15, Z2, Z2            // −sin in the even lanes (odd: inverse)
	VMOVUPS (SI)(DX*8), Z0         // pairs j..j+7
	VPERMILPS $0xB1, Z0, Z3        // each pair swapped
	VMULPS  Z1, Z0, Z0
	VMULPS  Z2, Z3, Z3
	VADDPS  Z3, Z0, Z0
	VMOVUPS Z0, (DI)(DX*8)
	ADDQ $8, DX
	CMPQ DX, R10
	JLT  rppair
	LEAQ (SI)(R10*8), SI
	LEAQ (DI)(R10*8), DI
	DECQ CX
	JNZ  rphead
	VZEROUPPER
	RET
