//go:build amd64

#include "textflag.h"

// func trainScaleAVX512(x *float32, n int, s float32)
//
// x[i] *= s for i < n, n a positive multiple of 16.
TEXT ·trainScaleAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	SHLQ $2, CX
	VBROADCASTSS s+16(FP), Z1
	XORQ AX, AX

scloop:
	VMULPS  (SI)(AX*1), Z1, Z0
	VMOVUPS Z0, (SI)(AX*1)
	ADDQ    $64, AX
	CMPQ    AX, CX
	JLT     scloop
	VZEROUPPER
	RET
