//go:build amd64

#include "textflag.h"

// The constants of Go's math.Exp on amd64 (src/math/exp_amd64.s, after
// Shibata's method), four float64 copies each, so that expShiftedAVX2
// repeats its arithmetic lane by lane.
DATA expconst<>+0(SB)/8, $1.4426950408889634073599246810018920
DATA expconst<>+8(SB)/8, $1.4426950408889634073599246810018920
DATA expconst<>+16(SB)/8, $1.4426950408889634073599246810018920
DATA expconst<>+24(SB)/8, $1.4426950408889634073599246810018920
DATA expconst<>+32(SB)/8, $0.69314718055966295651160180568695068359375
DATA expconst<>+40(SB)/8, $0.69314718055966295651160180568695068359375
DATA expconst<>+48(SB)/8, $0.69314718055966295651160180568695068359375
DATA expconst<>+56(SB)/8, $0.69314718055966295651160180568695068359375
DATA expconst<>+64(SB)/8, $0.28235290563031577122588448175013436025525412068e-12
DATA expconst<>+72(SB)/8, $0.28235290563031577122588448175013436025525412068e-12
DATA expconst<>+80(SB)/8, $0.28235290563031577122588448175013436025525412068e-12
DATA expconst<>+88(SB)/8, $0.28235290563031577122588448175013436025525412068e-12
DATA expconst<>+96(SB)/8, $0.0625
DATA expconst<>+104(SB)/8, $0.0625
DATA expconst<>+112(SB)/8, $0.0625
DATA expconst<>+120(SB)/8, $0.0625
DATA expconst<>+128(SB)/8, $2.0
DATA expconst<>+136(SB)/8, $2.0
DATA expconst<>+144(SB)/8, $2.0
DATA expconst<>+152(SB)/8, $2.0
DATA expconst<>+160(SB)/8, $1.0
DATA expconst<>+168(SB)/8, $1.0
DATA expconst<>+176(SB)/8, $1.0
DATA expconst<>+184(SB)/8, $1.0
DATA expconst<>+192(SB)/8, $2.4801587301587301587e-5
DATA expconst<>+200(SB)/8, $2.4801587301587301587e-5
DATA expconst<>+208(SB)/8, $2.4801587301587301587e-5
DATA expconst<>+216(SB)/8, $2.4801587301587301587e-5
DATA expconst<>+224(SB)/8, $1.9841269841269841270e-4
DATA expconst<>+232(SB)/8, $1.9841269841269841270e-4
DATA expconst<>+240(SB)/8, $1.9841269841269841270e-4
DATA expconst<>+248(SB)/8, $1.9841269841269841270e-4
DATA expconst<>+256(SB)/8, $1.3888888888888888889e-3
DATA expconst<>+264(SB)/8, $1.3888888888888888889e-3
DATA expconst<>+272(SB)/8, $1.3888888888888888889e-3
DATA expconst<>+280(SB)/8, $1.3888888888888888889e-3
DATA expconst<>+288(SB)/8, $8.3333333333333333333e-3
DATA expconst<>+296(SB)/8, $8.3333333333333333333e-3
DATA expconst<>+304(SB)/8, $8.3333333333333333333e-3
DATA expconst<>+312(SB)/8, $8.3333333333333333333e-3
DATA expconst<>+320(SB)/8, $4.1666666666666666667e-2
DATA expconst<>+328(SB)/8, $4.1666666666666666667e-2
DATA expconst<>+336(SB)/8, $4.1666666666666666667e-2
DATA expconst<>+344(SB)/8, $4.1666666666666666667e-2
DATA expconst<>+352(SB)/8, $1.6666666666666666667e-1
DATA expconst<>+360(SB)/8, $1.6666666666666666667e-1
DATA expconst<>+368(SB)/8, $1.6666666666666666667e-1
DATA expconst<>+376(SB)/8, $1.6666666666666666667e-1
DATA expconst<>+384(SB)/8, $0.5
DATA expconst<>+392(SB)/8, $0.5
DATA expconst<>+400(SB)/8, $0.5
DATA expconst<>+408(SB)/8, $0.5
DATA expconst<>+416(SB)/8, $1023
DATA expconst<>+424(SB)/8, $1023
DATA expconst<>+432(SB)/8, $1023
DATA expconst<>+440(SB)/8, $1023
DATA expconst<>+448(SB)/4, $-105.0
DATA expconst<>+452(SB)/4, $88.8
GLOBL expconst<>(SB), RODATA|NOPTR, $456

// func expShiftedAVX2(p *float32, mx float32, n int)
//
// p[i] = float32(math.Exp(float64(p[i]-mx))) for i < n, n a positive
// multiple of 4, four lanes at a time. Each lane performs the operations of
// math.Exp's FMA path in the same order and precision (x·log2e rounded to
// the integer k, x − k·ln2 in two fused steps, the scaling by 1/16, the
// Horner chain, four doublings, the product with 2ᵏ), so every result is
// bit for bit the scalar one. x is first clamped to [−105, 88.8]: below,
// math.Exp's result rounds to float32 0 as exp(−105) does; above, to +Inf
// as exp(88.8) does; a NaN difference is passed through as math.Exp does.
TEXT ·expShiftedAVX2(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	VBROADCASTSS mx+8(FP), X15
	MOVQ n+16(FP), CX
	SHLQ $2, CX
	VMOVUPD expconst<>+0(SB), Y14
	VMOVUPD expconst<>+32(SB), Y13
	VMOVUPD expconst<>+64(SB), Y12
	VMOVUPD expconst<>+96(SB), Y11
	VMOVUPD expconst<>+128(SB), Y10
	VMOVUPD expconst<>+160(SB), Y9
	VBROADCASTSS expconst<>+448(SB), X8
	VBROADCASTSS expconst<>+452(SB), X7
	VMOVDQU expconst<>+416(SB), Y6
	XORQ AX, AX

exploop:
	CMPQ AX, CX
	JGE  expdone
	VMOVUPS (SI)(AX*1), X0
	VSUBPS X15, X0, X0
	VCMPPS $3, X0, X0, X5
	VMOVAPS X0, X4
	VMAXPS X8, X0, X0
	VMINPS X7, X0, X0
	VCVTPS2PD X0, Y0
	VMULPD Y14, Y0, Y1
	VCVTPD2DQY Y1, X2
	VCVTDQ2PD X2, Y1
	VFNMADD231PD Y13, Y1, Y0
	VFNMADD231PD Y12, Y1, Y0
	VMULPD Y11, Y0, Y0
	VMOVUPD expconst<>+192(SB), Y3
	VFMADD213PD expconst<>+224(SB), Y0, Y3
	VFMADD213PD expconst<>+256(SB), Y0, Y3
	VFMADD213PD expconst<>+288(SB), Y0, Y3
	VFMADD213PD expconst<>+320(SB), Y0, Y3
	VFMADD213PD expconst<>+352(SB), Y0, Y3
	VFMADD213PD expconst<>+384(SB), Y0, Y3
	VFMADD213PD Y9, Y0, Y3
	VMULPD Y3, Y0, Y0
	VADDPD Y10, Y0, Y3
	VMULPD Y3, Y0, Y0
	VADDPD Y10, Y0, Y3
	VMULPD Y3, Y0, Y0
	VADDPD Y10, Y0, Y3
	VMULPD Y3, Y0, Y0
	VADDPD Y10, Y0, Y3
	VFMADD213PD Y9, Y3, Y0
	VPMOVSXDQ X2, Y2
	VPADDQ Y6, Y2, Y2
	VPSLLQ $52, Y2, Y2
	VMULPD Y2, Y0, Y0
	VCVTPD2PSY Y0, X0
	VBLENDVPS X5, X4, X0, X0
	VMOVUPS X0, (SI)(AX*1)
	ADDQ $16, AX
	JMP  exploop

expdone:
	VZEROUPPER
	RET
