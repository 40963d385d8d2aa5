//go:build amd64

#include "textflag.h"

// The constants of Go's math.Exp on amd64 (src/math/exp_amd64.s), one copy
// each, broadcast into eight float64 lanes; then the float32 clamps, the
// sign bit and 1.
DATA swc<>+0(SB)/8, $1.4426950408889634073599246810018920
DATA swc<>+8(SB)/8, $0.69314718055966295651160180568695068359375
DATA swc<>+16(SB)/8, $0.28235290563031577122588448175013436025525412068e-12
DATA swc<>+24(SB)/8, $0.0625
DATA swc<>+32(SB)/8, $2.0
DATA swc<>+40(SB)/8, $1.0
DATA swc<>+48(SB)/8, $2.4801587301587301587e-5
DATA swc<>+56(SB)/8, $1.9841269841269841270e-4
DATA swc<>+64(SB)/8, $1.3888888888888888889e-3
DATA swc<>+72(SB)/8, $8.3333333333333333333e-3
DATA swc<>+80(SB)/8, $4.1666666666666666667e-2
DATA swc<>+88(SB)/8, $1.6666666666666666667e-1
DATA swc<>+96(SB)/8, $0.5
DATA swc<>+104(SB)/8, $1023
DATA swc<>+112(SB)/4, $-105.0
DATA swc<>+116(SB)/4, $88.8
DATA swc<>+120(SB)/4, $0x80000000
DATA swc<>+124(SB)/4, $1.0
GLOBL swc<>(SB), RODATA|NOPTR, $128

// func swigluAVX512(dst, gate, u *float32, n int)
//
// dst[i] = (gate[i]·(1/(1+e)))·u[i] with e = float32(math.Exp(float64(-gate[i])))
// for i < n, n a positive multiple of 8, eight lanes at a time, bit for
// bit the scalar expression. The exponential repeats math.Exp's FMA path
// lane by lane as expShiftedAVX2 does (same operations, order and
// precision), in float64 ZMM lanes: x clamped to [−105, 88.8] (where the
// float32 result is already 0 or +Inf), k = round(x·log2e), r = x − k·ln2
// in two fused steps, r/16, the Horner chain, four doublings, times 2ᵏ;
// a NaN argument is passed through. The rest is float32 arithmetic as Go
// does it: 1+e, the division, and the two products.
TEXT ·swigluAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ u+16(FP), DX
	MOVQ n+24(FP), CX
	SHLQ $2, CX
	VBROADCASTSD swc<>+0(SB), Z14
	VBROADCASTSD swc<>+8(SB), Z13
	VBROADCASTSD swc<>+16(SB), Z12
	VBROADCASTSD swc<>+24(SB), Z11
	VBROADCASTSD swc<>+32(SB), Z10
	VBROADCASTSD swc<>+40(SB), Z9
	VBROADCASTSD swc<>+48(SB), Z20
	VBROADCASTSD swc<>+56(SB), Z21
	VBROADCASTSD swc<>+64(SB), Z22
	VBROADCASTSD swc<>+72(SB), Z23
	VBROADCASTSD swc<>+80(SB), Z24
	VBROADCASTSD swc<>+88(SB), Z25
	VBROADCASTSD swc<>+96(SB), Z26
	VPBROADCASTQ swc<>+104(SB), Z6
	VBROADCASTSS swc<>+112(SB), Y8
	VBROADCASTSS swc<>+116(SB), Y7
	VBROADCASTSS swc<>+120(SB), Y15
	VBROADCASTSS swc<>+124(SB), Y27
	XORQ AX, AX

swloop2:
	// Sixteen at a time, as two independent chains of eight (the
	// registers of the second renamed, its NaN lanes in K2 for want of
	// low registers), interleaved so that the long dependency chain of
	// one block overlaps the other's: each lane does the same operations
	// as in swloop.
	LEAQ 32(AX), R8
	CMPQ R8, CX
	JGE  swloop
	VMOVUPS (SI)(AX*1), Y16
	VMOVUPS 32(SI)(AX*1), Y17
	VXORPS  Y15, Y16, Y0
	VXORPS  Y15, Y17, Y18
	VCMPPS  $3, Y0, Y0, Y5
	VCMPPS  $3, Y18, Y18, K2
	VMOVAPS Y0, Y4
	VMOVAPS Y18, Y28
	VMAXPS  Y8, Y0, Y0
	VMAXPS  Y8, Y18, Y18
	VMINPS  Y7, Y0, Y0
	VMINPS  Y7, Y18, Y18
	VCVTPS2PD Y0, Z0
	VCVTPS2PD Y18, Z18
	VMULPD  Z14, Z0, Z1
	VMULPD  Z14, Z18, Z29
	VCVTPD2DQ Z1, Y2
	VCVTPD2DQ Z29, Y30
	VCVTDQ2PD Y2, Z1
	VCVTDQ2PD Y30, Z29
	VFNMADD231PD Z13, Z1, Z0
	VFNMADD231PD Z13, Z29, Z18
	VFNMADD231PD Z12, Z1, Z0
	VFNMADD231PD Z12, Z29, Z18
	VMULPD  Z11, Z0, Z0
	VMULPD  Z11, Z18, Z18
	VMOVAPD Z20, Z3
	VMOVAPD Z20, Z31
	VFMADD213PD Z21, Z0, Z3
	VFMADD213PD Z21, Z18, Z31
	VFMADD213PD Z22, Z0, Z3
	VFMADD213PD Z22, Z18, Z31
	VFMADD213PD Z23, Z0, Z3
	VFMADD213PD Z23, Z18, Z31
	VFMADD213PD Z24, Z0, Z3
	VFMADD213PD Z24, Z18, Z31
	VFMADD213PD Z25, Z0, Z3
	VFMADD213PD Z25, Z18, Z31
	VFMADD213PD Z26, Z0, Z3
	VFMADD213PD Z26, Z18, Z31
	VFMADD213PD Z9, Z0, Z3
	VFMADD213PD Z9, Z18, Z31
	VMULPD  Z3, Z0, Z0
	VMULPD  Z31, Z18, Z18
	VADDPD  Z10, Z0, Z3
	VADDPD  Z10, Z18, Z31
	VMULPD  Z3, Z0, Z0
	VMULPD  Z31, Z18, Z18
	VADDPD  Z10, Z0, Z3
	VADDPD  Z10, Z18, Z31
	VMULPD  Z3, Z0, Z0
	VMULPD  Z31, Z18, Z18
	VADDPD  Z10, Z0, Z3
	VADDPD  Z10, Z18, Z31
	VMULPD  Z3, Z0, Z0
	VMULPD  Z31, Z18, Z18
	VADDPD  Z10, Z0, Z3
	VADDPD  Z10, Z18, Z31
	VFMADD213PD Z9, Z3, Z0
	VFMADD213PD Z9, Z31, Z18
	VPMOVSXDQ Y2, Z2
	VPMOVSXDQ Y30, Z30
	VPADDQ  Z6, Z2, Z2
	VPADDQ  Z6, Z30, Z30
	VPSLLQ  $52, Z2, Z2
	VPSLLQ  $52, Z30, Z30
	VMULPD  Z2, Z0, Z0
	VMULPD  Z30, Z18, Z18
	VCVTPD2PS Z0, Y0
	VCVTPD2PS Z18, Y18
	VBLENDVPS Y5, Y4, Y0, Y0
	VBLENDMPS Y28, Y18, K2, Y18
	VADDPS  Y27, Y0, Y0
	VADDPS  Y27, Y18, Y18
	VDIVPS  Y0, Y27, Y0
	VDIVPS  Y18, Y27, Y18
	VMULPS  Y0, Y16, Y0
	VMULPS  Y18, Y17, Y18
	VMULPS  (DX)(AX*1), Y0, Y0
	VMULPS  32(DX)(AX*1), Y18, Y18
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y18, 32(DI)(AX*1)
	ADDQ $64, AX
	JMP  swloop2

swloop:
	CMPQ AX, CX
	JGE  swdone
	VMOVUPS (SI)(AX*1), Y16        // g
	VXORPS  Y15, Y16, Y0           // x = −g
	VCMPPS  $3, Y0, Y0, Y5         // NaN lanes
	VMOVAPS Y0, Y4
	VMAXPS  Y8, Y0, Y0
	VMINPS  Y7, Y0, Y0
	VCVTPS2PD Y0, Z0
	VMULPD  Z14, Z0, Z1
	VCVTPD2DQ Z1, Y2
	VCVTDQ2PD Y2, Z1
	VFNMADD231PD Z13, Z1, Z0
	VFNMADD231PD Z12, Z1, Z0
	VMULPD  Z11, Z0, Z0
	VMOVAPD Z20, Z3
	VFMADD213PD Z21, Z0, Z3
	VFMADD213PD Z22, Z0, Z3
	VFMADD213PD Z23, Z0, Z3
	VFMADD213PD Z24, Z0, Z3
	VFMADD213PD Z25, Z0, Z3
	VFMADD213PD Z26, Z0, Z3
	VFMADD213PD Z9, Z0, Z3
	VMULPD  Z3, Z0, Z0
	VADDPD  Z10, Z0, Z3
	VMULPD  Z3, Z0, Z0
	VADDPD  Z10, Z0, Z3
	VMULPD  Z3, Z0, Z0
	VADDPD  Z10, Z0, Z3
	VMULPD  Z3, Z0, Z0
	VADDPD  Z10, Z0, Z3
	VFMADD213PD Z9, Z3, Z0
	VPMOVSXDQ Y2, Z2
	VPADDQ  Z6, Z2, Z2
	VPSLLQ  $52, Z2, Z2
	VMULPD  Z2, Z0, Z0
	VCVTPD2PS Z0, Y0               // e
	VBLENDVPS Y5, Y4, Y0, Y0
	VADDPS  Y27, Y0, Y0            // 1 + e
	VDIVPS  Y0, Y27, Y0            // 1/(1+e)
	VMULPS  Y0, Y16, Y0            // g·that
	VMULPS  (DX)(AX*1), Y0, Y0     // ·u
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	JMP  swloop

swdone:
	VZEROUPPER
	RET
