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

// The constants of Go's math.Exp on amd64 (src/math/exp_amd64.s, as in
// swiglu_amd64.s), then the float32 bounds of Gorgonia's sigmoid, the sign
// bit and 1.
DATA sgc<>+0(SB)/8, $1.4426950408889634073599246810018920
DATA sgc<>+8(SB)/8, $0.69314718055966295651160180568695068359375
DATA sgc<>+16(SB)/8, $0.28235290563031577122588448175013436025525412068e-12
DATA sgc<>+24(SB)/8, $0.0625
DATA sgc<>+32(SB)/8, $2.0
DATA sgc<>+40(SB)/8, $1.0
DATA sgc<>+48(SB)/8, $2.4801587301587301587e-5
DATA sgc<>+56(SB)/8, $1.9841269841269841270e-4
DATA sgc<>+64(SB)/8, $1.3888888888888888889e-3
DATA sgc<>+72(SB)/8, $8.3333333333333333333e-3
DATA sgc<>+80(SB)/8, $4.1666666666666666667e-2
DATA sgc<>+88(SB)/8, $1.6666666666666666667e-1
DATA sgc<>+96(SB)/8, $0.5
DATA sgc<>+104(SB)/8, $1023
DATA sgc<>+112(SB)/4, $-88.0
DATA sgc<>+116(SB)/4, $15.0
DATA sgc<>+120(SB)/4, $0x80000000
DATA sgc<>+124(SB)/4, $1.0
GLOBL sgc<>(SB), RODATA|NOPTR, $128

// SIGMOID8 sets Y0 to the sigmoid of the eight float32 lanes of Y16 as
// Gorgonia's _sigmoidf32 computes it, bit for bit, with the constants
// that SIGMOIDCONSTS loads; it clobbers Z1–Z5, Y4 and K1–K3. The
// exponential is swigluAVX512's copy of math.Exp's FMA path (the same
// operations, order and precision; its argument, −u, is clamped to
// [−15, 88], which changes no lane that is kept), then 1+e and the
// division in float64, and one rounding to float32; u < −88 gives 0,
// u > 15 gives 1 and a NaN gives −u, as the scalar code does.
#define SIGMOID8 \
	VXORPS  Y15, Y16, Y0 \
	VMOVAPS Y0, Y4 \
	VCMPPS  $3, Y0, Y0, K1 \
	VCMPPS  $1, Y8, Y16, K2 \
	VCMPPS  $14, Y7, Y16, K3 \
	VMAXPS  Y30, Y0, Y0 \
	VMINPS  Y29, Y0, Y0 \
	VCVTPS2PD Y0, Z0 \
	VMULPD  Z14, Z0, Z1 \
	VCVTPD2DQ Z1, Y2 \
	VCVTDQ2PD Y2, Z1 \
	VFNMADD231PD Z13, Z1, Z0 \
	VFNMADD231PD Z12, Z1, Z0 \
	VMULPD  Z11, Z0, Z0 \
	VMOVAPD Z20, Z3 \
	VFMADD213PD Z21, Z0, Z3 \
	VFMADD213PD Z22, Z0, Z3 \
	VFMADD213PD Z23, Z0, Z3 \
	VFMADD213PD Z24, Z0, Z3 \
	VFMADD213PD Z25, Z0, Z3 \
	VFMADD213PD Z26, Z0, Z3 \
	VFMADD213PD Z9, Z0, Z3 \
	VMULPD  Z3, Z0, Z0 \
	VADDPD  Z10, Z0, Z3 \
	VMULPD  Z3, Z0, Z0 \
	VADDPD  Z10, Z0, Z3 \
	VMULPD  Z3, Z0, Z0 \
	VADDPD  Z10, Z0, Z3 \
	VMULPD  Z3, Z0, Z0 \
	VADDPD  Z10, Z0, Z3 \
	VFMADD213PD Z9, Z3, Z0 \
	VPMOVSXDQ Y2, Z2 \
	VPADDQ  Z6, Z2, Z2 \
	VPSLLQ  $52, Z2, Z2 \
	VMULPD  Z2, Z0, Z0 \
	VADDPD  Z9, Z0, Z0 \
	VDIVPD  Z0, Z9, Z0 \
	VCVTPD2PS Z0, Y0 \
	VMOVAPS Y28, K2, Y0 \
	VMOVAPS Y27, K3, Y0 \
	VMOVAPS Y4, K1, Y0

// SIGMOIDCONSTS loads SIGMOID8's constants.
#define SIGMOIDCONSTS \
	VBROADCASTSD sgc<>+0(SB), Z14 \
	VBROADCASTSD sgc<>+8(SB), Z13 \
	VBROADCASTSD sgc<>+16(SB), Z12 \
	VBROADCASTSD sgc<>+24(SB), Z11 \
	VBROADCASTSD sgc<>+32(SB), Z10 \
	VBROADCASTSD sgc<>+40(SB), Z9 \
	VBROADCASTSD sgc<>+48(SB), Z20 \
	VBROADCASTSD sgc<>+56(SB), Z21 \
	VBROADCASTSD sgc<>+64(SB), Z22 \
	VBROADCASTSD sgc<>+72(SB), Z23 \
	VBROADCASTSD sgc<>+80(SB), Z24 \
	VBROADCASTSD sgc<>+88(SB), Z25 \
	VBROADCASTSD sgc<>+96(SB), Z26 \
	VPBROADCASTQ sgc<>+104(SB), Z6 \
	VBROADCASTSS sgc<>+112(SB), Y8 \
	VBROADCASTSS sgc<>+116(SB), Y7 \
	VBROADCASTSS sgc<>+120(SB), Y15 \
	VBROADCASTSS sgc<>+124(SB), Y27 \
	VXORPS Y28, Y28, Y28 \
	VXORPS Y8, Y15, Y29 \
	VXORPS Y7, Y15, Y30

// func trainSigmoidAVX512(dst, x *float32, n int)
//
// dst[i] = σ(x[i]) (SIGMOID8) for i < n, n a positive multiple of 8.
TEXT ·trainSigmoidAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHLQ $2, CX
	SIGMOIDCONSTS
	XORQ AX, AX

sgloop:
	CMPQ AX, CX
	JGE  sgdone
	VMOVUPS (SI)(AX*1), Y16
	SIGMOID8
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	JMP  sgloop

sgdone:
	VZEROUPPER
	RET

// func trainSigmoidGradAVX512(dst, x, y, gy *float32, n int)
//
// dst[i] = (y[i]·σ(−x[i]))·gy[i] (SIGMOID8 of −x) for i < n, n a positive
// multiple of 8.
TEXT ·trainSigmoidGradAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), BX
	MOVQ gy+24(FP), DX
	MOVQ n+32(FP), CX
	SHLQ $2, CX
	SIGMOIDCONSTS
	XORQ AX, AX

sdloop:
	CMPQ AX, CX
	JGE  sddone
	VMOVUPS (SI)(AX*1), Y16
	VXORPS  Y15, Y16, Y16
	SIGMOID8
	VMULPS  (BX)(AX*1), Y0, Y0
	VMULPS  (DX)(AX*1), Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	JMP  sdloop

sddone:
	VZEROUPPER
	RET

// func axpyRowsAVX2(y *float32, c *float32, cs int, x *float32, xs int, rows, n8 int)
//
// For r < rows in order, y[0:n8] += c[r·cs]·x[r·xs : r·xs+n8], each step
// the FMA that axpyAVX2 applies, so the result is bit for bit that of
// rows calls of axpyAVX2; y stays in registers, 32 columns at a time
// (then 8). rows ≥ 1, n8 a positive multiple of 8.
TEXT ·axpyRowsAVX2(SB), NOSPLIT, $0-56
	MOVQ y+0(FP), DI
	MOVQ c+8(FP), DX
	MOVQ cs+16(FP), R8
	SHLQ $2, R8
	MOVQ x+24(FP), SI
	MOVQ xs+32(FP), R9
	SHLQ $2, R9
	MOVQ rows+40(FP), R10
	MOVQ n8+48(FP), CX
	SHLQ $2, CX
	XORQ AX, AX

ar32:
	MOVQ CX, R11
	SUBQ AX, R11
	CMPQ R11, $128
	JL   ar8
	VMOVUPS (DI)(AX*1), Y1
	VMOVUPS 32(DI)(AX*1), Y2
	VMOVUPS 64(DI)(AX*1), Y3
	VMOVUPS 96(DI)(AX*1), Y4
	MOVQ DX, BX
	LEAQ (SI)(AX*1), R12
	MOVQ R10, R13

ar32row:
	VBROADCASTSS (BX), Y0
	VFMADD231PS (R12), Y0, Y1
	VFMADD231PS 32(R12), Y0, Y2
	VFMADD231PS 64(R12), Y0, Y3
	VFMADD231PS 96(R12), Y0, Y4
	ADDQ R8, BX
	ADDQ R9, R12
	DECQ R13
	JNZ  ar32row
	VMOVUPS Y1, (DI)(AX*1)
	VMOVUPS Y2, 32(DI)(AX*1)
	VMOVUPS Y3, 64(DI)(AX*1)
	VMOVUPS Y4, 96(DI)(AX*1)
	ADDQ $128, AX
	JMP  ar32

ar8:
	CMPQ AX, CX
	JGE  ardone
	VMOVUPS (DI)(AX*1), Y1
	MOVQ DX, BX
	LEAQ (SI)(AX*1), R12
	MOVQ R10, R13

ar8row:
	VBROADCASTSS (BX), Y0
	VFMADD231PS (R12), Y0, Y1
	ADDQ R8, BX
	ADDQ R9, R12
	DECQ R13
	JNZ  ar8row
	VMOVUPS Y1, (DI)(AX*1)
	ADDQ $32, AX
	JMP  ar8

ardone:
	VZEROUPPER
	RET
