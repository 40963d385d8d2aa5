//go:build amd64

#include "textflag.h"

// exp32's float32 constants (exp.go), in its order.
DATA e32c<>+0(SB)/4, $0x3fb8aa3b  // log2e
DATA e32c<>+4(SB)/4, $0x4b400000  // round: 1.5·2²³
DATA e32c<>+8(SB)/4, $0x3f317200  // ln2hi
DATA e32c<>+12(SB)/4, $0x35bfbe8e // ln2lo
DATA e32c<>+16(SB)/4, $0x3f800000 // 1
DATA e32c<>+20(SB)/4, $0x3f000000 // 1/2
DATA e32c<>+24(SB)/4, $0x3e2aaaab // 1/6
DATA e32c<>+28(SB)/4, $0x3d2aaaab // 1/24
DATA e32c<>+32(SB)/4, $0x3c088889 // 1/120
DATA e32c<>+36(SB)/4, $0x3ab60b61 // 1/720
DATA e32c<>+40(SB)/4, $0xc2ae0000 // −87
DATA e32c<>+44(SB)/4, $0x42b16666 // 88.7
DATA e32c<>+48(SB)/4, $0x7f800000 // +Inf
DATA e32c<>+52(SB)/4, $127
GLOBL e32c<>(SB), RODATA|NOPTR, $56

// func exp32ShiftAVX512(dst, x *float32, n int, shift float32)
//
// dst[i] = exp32(x[i]−shift) for i < n, n a positive multiple of 16,
// sixteen lanes at a time, bit for bit exp32: the same float32 operations
// in the same order, none fused (Go does not fuse them on amd64), and its
// edges: 0 below −87, +Inf above 88.7, a NaN passed through.
TEXT ·exp32ShiftAVX512(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHLQ $2, CX
	VBROADCASTSS shift+24(FP), Z31
	VBROADCASTSS e32c<>+0(SB), Z30
	VBROADCASTSS e32c<>+4(SB), Z29
	VBROADCASTSS e32c<>+8(SB), Z28
	VBROADCASTSS e32c<>+12(SB), Z27
	VBROADCASTSS e32c<>+16(SB), Z26
	VBROADCASTSS e32c<>+20(SB), Z25
	VBROADCASTSS e32c<>+24(SB), Z24
	VBROADCASTSS e32c<>+28(SB), Z23
	VBROADCASTSS e32c<>+32(SB), Z22
	VBROADCASTSS e32c<>+36(SB), Z21
	VBROADCASTSS e32c<>+40(SB), Z20
	VBROADCASTSS e32c<>+44(SB), Z19
	VBROADCASTSS e32c<>+48(SB), Z18
	VPBROADCASTD e32c<>+52(SB), Z17
	VXORPS Z16, Z16, Z16
	XORQ AX, AX

e32loop:
	VMOVUPS (SI)(AX*1), Z0
	VSUBPS  Z31, Z0, Z0            // x
	VCMPPS  $1, Z20, Z0, K1        // x < −87
	VCMPPS  $14, Z19, Z0, K2       // x > 88.7
	VCMPPS  $3, Z0, Z0, K3         // NaN
	VMULPS  Z30, Z0, Z1
	VADDPS  Z29, Z1, Z1
	VSUBPS  Z29, Z1, Z1            // k
	VMULPS  Z28, Z1, Z2
	VSUBPS  Z2, Z0, Z2             // x − k·ln2hi
	VMULPS  Z27, Z1, Z3
	VSUBPS  Z3, Z2, Z2             // r
	VMULPS  Z21, Z2, Z3            // r/720
	VADDPS  Z22, Z3, Z3
	VMULPS  Z3, Z2, Z3
	VADDPS  Z23, Z3, Z3
	VMULPS  Z3, Z2, Z3
	VADDPS  Z24, Z3, Z3
	VMULPS  Z3, Z2, Z3
	VADDPS  Z25, Z3, Z3
	VMULPS  Z3, Z2, Z3
	VADDPS  Z26, Z3, Z3
	VMULPS  Z3, Z2, Z3
	VADDPS  Z26, Z3, Z3            // p
	VCVTTPS2DQ Z1, Z1
	VPADDD  Z17, Z1, Z1
	VPSLLD  $23, Z1, Z1
	VMULPS  Z1, Z3, Z3
	VMOVAPS Z16, K1, Z3
	VMOVAPS Z18, K2, Z3
	VMOVAPS Z0, K3, Z3
	VMOVUPS Z3, (DI)(AX*1)
	ADDQ    $64, AX
	CMPQ    AX, CX
	JLT     e32loop
	VZEROUPPER
	RET
