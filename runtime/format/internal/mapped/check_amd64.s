//go:build amd64

#include "textflag.h"

// func nonFiniteAVX2(p *byte, n int) bool
//
// Reports whether any of the little-endian float32 values in the n bytes
// at p (n a multiple of 128) has all its exponent bits set (±Inf or NaN),
// 128 bytes per iteration.
TEXT ·nonFiniteAVX2(SB), NOSPLIT, $0-17
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	MOVL $0x7F800000, AX
	MOVQ AX, X0
	VPBROADCASTD X0, Y0
	VPXOR Y5, Y5, Y5
	XORQ DX, DX

nfloop:
	CMPQ     DX, CX
	JAE      nfdone
	VPAND    (SI)(DX*1), Y0, Y1
	VPAND    32(SI)(DX*1), Y0, Y2
	VPAND    64(SI)(DX*1), Y0, Y3
	VPAND    96(SI)(DX*1), Y0, Y4
	VPCMPEQD Y0, Y1, Y1
	VPCMPEQD Y0, Y2, Y2
	VPCMPEQD Y0, Y3, Y3
	VPCMPEQD Y0, Y4, Y4
	VPOR     Y1, Y2, Y1
	VPOR     Y3, Y4, Y3
	VPOR     Y1, Y3, Y1
	VPOR     Y1, Y5, Y5
	ADDQ     $128, DX
	JMP      nfloop

nfdone:
	VPTEST Y5, Y5
	SETNE  ret+16(FP)
	VZEROUPPER
	RET
