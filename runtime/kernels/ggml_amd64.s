//go:build amd64

#include "textflag.h"

// The GGML block kernels decode codes to int32 lanes (VPMOVZXBD, shifts and
// masks), convert them to float and multiply them with x by FMA, one
// 32-value group at a time; each group's sum is scaled once. Registers:
// Y12 accumulates the row, Y13-Y15 hold constant masks.

// func dotQ4_0AVX2(data *byte, nblocks int, x *float32) float32
TEXT ·dotQ4_0AVX2(SB), NOSPLIT, $0-28
	MOVQ data+0(FP), SI
	MOVQ nblocks+8(FP), CX
	MOVQ x+16(FP), DI
	VXORPS Y12, Y12, Y12
	MOVL $15, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Y15
	MOVL $8, DX
	VMOVD DX, X14
	VPBROADCASTD X14, Y14

q40loop:
	TESTQ CX, CX
	JZ    q40done
	VPMOVZXBD 2(SI), Y0
	VPMOVZXBD 10(SI), Y1
	VPSRLD $4, Y0, Y2
	VPSRLD $4, Y1, Y3
	VPAND Y15, Y0, Y0
	VPAND Y15, Y1, Y1
	VPSUBD Y14, Y0, Y0
	VPSUBD Y14, Y1, Y1
	VPSUBD Y14, Y2, Y2
	VPSUBD Y14, Y3, Y3
	VCVTDQ2PS Y0, Y0
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	VCVTDQ2PS Y3, Y3
	VMULPS (DI), Y0, Y8
	VFMADD231PS 32(DI), Y1, Y8
	VMULPS 64(DI), Y2, Y9
	VFMADD231PS 96(DI), Y3, Y9
	VADDPS Y9, Y8, Y8
	MOVWLZX (SI), DX
	VMOVD DX, X4
	VCVTPH2PS X4, X4
	VBROADCASTSS X4, Y4
	VFMADD231PS Y4, Y8, Y12
	ADDQ $18, SI
	ADDQ $128, DI
	DECQ CX
	JMP  q40loop

q40done:
	VEXTRACTF128 $1, Y12, X1
	VADDPS X1, X12, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// Q4KHALF multiplies the 32 nibbles (low when shift is 0, high when 4) of
// the 32 bytes at (R8) with the 32 floats at xoff(DI) and adds the sum
// times the float at soff(BX) to Y12. It clobbers Y0-Y3, Y8-Y10.
#define Q4KHALF(shift, xoff, soff) \
	VPMOVZXBD (R8), Y0; \
	VPMOVZXBD 8(R8), Y1; \
	VPMOVZXBD 16(R8), Y2; \
	VPMOVZXBD 24(R8), Y3; \
	VPSRLD $shift, Y0, Y0; \
	VPSRLD $shift, Y1, Y1; \
	VPSRLD $shift, Y2, Y2; \
	VPSRLD $shift, Y3, Y3; \
	VPAND Y15, Y0, Y0; \
	VPAND Y15, Y1, Y1; \
	VPAND Y15, Y2, Y2; \
	VPAND Y15, Y3, Y3; \
	VCVTDQ2PS Y0, Y0; \
	VCVTDQ2PS Y1, Y1; \
	VCVTDQ2PS Y2, Y2; \
	VCVTDQ2PS Y3, Y3; \
	VMULPS xoff(DI), Y0, Y8; \
	VFMADD231PS xoff+32(DI), Y1, Y8; \
	VMULPS xoff+64(DI), Y2, Y9; \
	VFMADD231PS xoff+96(DI), Y3, Y9; \
	VADDPS Y9, Y8, Y8; \
	VBROADCASTSS soff(BX), Y10; \
	VFMADD231PS Y10, Y8, Y12

// func dotQ4KAVX2(data *byte, nblocks int, scales *float32, x *float32) float32
//
// The sum over nblocks block_q4_K records of d·sc·q·x, with scales[8b+s]
// holding d·sc of sub-block s of block b; the caller subtracts the mins.
TEXT ·dotQ4KAVX2(SB), NOSPLIT, $0-36
	MOVQ data+0(FP), SI
	MOVQ nblocks+8(FP), CX
	MOVQ scales+16(FP), BX
	MOVQ x+24(FP), DI
	VXORPS Y12, Y12, Y12
	MOVL $15, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Y15

q4kloop:
	TESTQ CX, CX
	JZ    q4kdone
	LEAQ 16(SI), R8
	MOVQ $4, R9

q4kchunk:
	Q4KHALF(0, 0, 0)
	Q4KHALF(4, 128, 4)
	ADDQ $32, R8
	ADDQ $256, DI
	ADDQ $8, BX
	DECQ R9
	JNZ  q4kchunk
	ADDQ $144, SI
	DECQ CX
	JMP  q4kloop

q4kdone:
	VEXTRACTF128 $1, Y12, X1
	VADDPS X1, X12, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// Q6Q8 decodes 8 six-bit values of a block_q6_K into dst as floats minus
// 32: the low or high nibble (qls = 0 or 4) of the 8 bytes at qlo(R8) and
// two bits (at qhs) of the 8 bytes at qho(R9). It clobbers Y7.
#define Q6Q8(qlo, qho, qls, qhs, dst) \
	VPMOVZXBD qlo(R8), dst; \
	VPSRLD $qls, dst, dst; \
	VPAND Y15, dst, dst; \
	VPMOVZXBD qho(R9), Y7; \
	VPSRLD $qhs, Y7, Y7; \
	VPAND Y13, Y7, Y7; \
	VPSLLD $4, Y7, Y7; \
	VPOR Y7, dst, dst; \
	VPSUBD Y14, dst, dst; \
	VCVTDQ2PS dst, dst

// Q6GROUP adds the 32 values of one group (two sub-blocks of 16, scales at
// soff(BX) and soff+4(BX)) times the floats at xoff(DI) to Y12.
#define Q6GROUP(qlo, qls, qhs, xoff, soff) \
	Q6Q8(qlo, 0, qls, qhs, Y0); \
	Q6Q8(qlo+8, 8, qls, qhs, Y1); \
	VMULPS xoff(DI), Y0, Y8; \
	VFMADD231PS xoff+32(DI), Y1, Y8; \
	VBROADCASTSS soff(BX), Y10; \
	VFMADD231PS Y10, Y8, Y12; \
	Q6Q8(qlo+16, 16, qls, qhs, Y2); \
	Q6Q8(qlo+24, 24, qls, qhs, Y3); \
	VMULPS xoff+64(DI), Y2, Y9; \
	VFMADD231PS xoff+96(DI), Y3, Y9; \
	VBROADCASTSS soff+4(BX), Y11; \
	VFMADD231PS Y11, Y9, Y12

// func dotQ6KAVX2(data *byte, nblocks int, scales *float32, x *float32) float32
//
// The sum over nblocks block_q6_K records of d·sc·(q-32)·x, with
// scales[16b+s] holding d·sc of sub-block s of block b.
TEXT ·dotQ6KAVX2(SB), NOSPLIT, $0-36
	MOVQ data+0(FP), SI
	MOVQ nblocks+8(FP), CX
	MOVQ scales+16(FP), BX
	MOVQ x+24(FP), DI
	VXORPS Y12, Y12, Y12
	MOVL $15, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Y15
	MOVL $3, DX
	VMOVD DX, X13
	VPBROADCASTD X13, Y13
	MOVL $32, DX
	VMOVD DX, X14
	VPBROADCASTD X14, Y14

q6kloop:
	TESTQ CX, CX
	JZ    q6kdone
	MOVQ SI, R8
	LEAQ 128(SI), R9
	MOVQ $2, R10

q6khalf:
	Q6GROUP(0, 0, 0, 0, 0)
	Q6GROUP(32, 0, 2, 128, 8)
	Q6GROUP(0, 4, 4, 256, 16)
	Q6GROUP(32, 4, 6, 384, 24)
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
	VEXTRACTF128 $1, Y12, X1
	VADDPS X1, X12, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// q5shifts holds 0..31: the bit of qh that is bit 4 of each value of a
// block_q5_0.
DATA q5shifts<>+0(SB)/4, $0
DATA q5shifts<>+4(SB)/4, $1
DATA q5shifts<>+8(SB)/4, $2
DATA q5shifts<>+12(SB)/4, $3
DATA q5shifts<>+16(SB)/4, $4
DATA q5shifts<>+20(SB)/4, $5
DATA q5shifts<>+24(SB)/4, $6
DATA q5shifts<>+28(SB)/4, $7
DATA q5shifts<>+32(SB)/4, $8
DATA q5shifts<>+36(SB)/4, $9
DATA q5shifts<>+40(SB)/4, $10
DATA q5shifts<>+44(SB)/4, $11
DATA q5shifts<>+48(SB)/4, $12
DATA q5shifts<>+52(SB)/4, $13
DATA q5shifts<>+56(SB)/4, $14
DATA q5shifts<>+60(SB)/4, $15
DATA q5shifts<>+64(SB)/4, $16
DATA q5shifts<>+68(SB)/4, $17
DATA q5shifts<>+72(SB)/4, $18
DATA q5shifts<>+76(SB)/4, $19
DATA q5shifts<>+80(SB)/4, $20
DATA q5shifts<>+84(SB)/4, $21
DATA q5shifts<>+88(SB)/4, $22
DATA q5shifts<>+92(SB)/4, $23
DATA q5shifts<>+96(SB)/4, $24
DATA q5shifts<>+100(SB)/4, $25
DATA q5shifts<>+104(SB)/4, $26
DATA q5shifts<>+108(SB)/4, $27
DATA q5shifts<>+112(SB)/4, $28
DATA q5shifts<>+116(SB)/4, $29
DATA q5shifts<>+120(SB)/4, $30
DATA q5shifts<>+124(SB)/4, $31
GLOBL q5shifts<>(SB), RODATA|NOPTR, $128

// Q5HIGH ors bit 4 (bits shoff/4.. of qh, broadcast in Y6) into the 8
// values in dst. It clobbers Y7.
#define Q5HIGH(shoff, dst) \
	VPSRLVD q5shifts<>+shoff(SB), Y6, Y7; \
	VPAND Y13, Y7, Y7; \
	VPSLLD $4, Y7, Y7; \
	VPOR Y7, dst, dst

// func dotQ5_0AVX2(data *byte, nblocks int, x *float32) float32
TEXT ·dotQ5_0AVX2(SB), NOSPLIT, $0-28
	MOVQ data+0(FP), SI
	MOVQ nblocks+8(FP), CX
	MOVQ x+16(FP), DI
	VXORPS Y12, Y12, Y12
	MOVL $15, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Y15
	MOVL $16, DX
	VMOVD DX, X14
	VPBROADCASTD X14, Y14
	MOVL $1, DX
	VMOVD DX, X13
	VPBROADCASTD X13, Y13

q50loop:
	TESTQ CX, CX
	JZ    q50done
	VPBROADCASTD 2(SI), Y6
	VPMOVZXBD 6(SI), Y0
	VPMOVZXBD 14(SI), Y1
	VPSRLD $4, Y0, Y2
	VPSRLD $4, Y1, Y3
	VPAND Y15, Y0, Y0
	VPAND Y15, Y1, Y1
	Q5HIGH(0, Y0)
	Q5HIGH(32, Y1)
	Q5HIGH(64, Y2)
	Q5HIGH(96, Y3)
	VPSUBD Y14, Y0, Y0
	VPSUBD Y14, Y1, Y1
	VPSUBD Y14, Y2, Y2
	VPSUBD Y14, Y3, Y3
	VCVTDQ2PS Y0, Y0
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	VCVTDQ2PS Y3, Y3
	VMULPS (DI), Y0, Y8
	VFMADD231PS 32(DI), Y1, Y8
	VMULPS 64(DI), Y2, Y9
	VFMADD231PS 96(DI), Y3, Y9
	VADDPS Y9, Y8, Y8
	MOVWLZX (SI), DX
	VMOVD DX, X4
	VCVTPH2PS X4, X4
	VBROADCASTSS X4, Y4
	VFMADD231PS Y4, Y8, Y12
	ADDQ $22, SI
	ADDQ $128, DI
	DECQ CX
	JMP  q50loop

q50done:
	VEXTRACTF128 $1, Y12, X1
	VADDPS X1, X12, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET
