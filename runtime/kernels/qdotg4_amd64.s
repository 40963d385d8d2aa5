//go:build amd64

#include "textflag.h"

// DQTABLE fills the 256 floats at (SP) with the double-quantised scales of
// block group AX, (code[c]·a2[AX] + off)·mul for every code c (R12: a2,
// R13: code, Z7: off, Z5: mul), and notes AX at 1024(SP). It clobbers Z9
// and Z10.
#define DQTABLE \
	MOVQ AX, 1024(SP); \
	VBROADCASTSS (R12)(AX*4), Z9; \
	VMULPS 0(R13), Z9, Z10; \
	VADDPS Z7, Z10, Z10; \
	VMULPS Z5, Z10, Z10; \
	VMOVUPS Z10, 0(SP); \
	VMULPS 64(R13), Z9, Z10; \
	VADDPS Z7, Z10, Z10; \
	VMULPS Z5, Z10, Z10; \
	VMOVUPS Z10, 64(SP); \
	VMULPS 128(R13), Z9, Z10; \
	VADDPS Z7, Z10, Z10; \
	VMULPS Z5, Z10, Z10; \
	VMOVUPS Z10, 128(SP); \
	VMULPS 192(R13), Z9, Z10; \
	VADDPS Z7, Z10, Z10; \
	VMULPS Z5, Z10, Z10; \
	VMOVUPS Z10, 192(SP); \
	VMULPS 256(R13), Z9, Z10; \
	VADDPS Z7, Z10, Z10; \
	VMULPS Z5, Z10, Z10; \
	VMOVUPS Z10, 256(SP); \
	VMULPS 320(R13), Z9, Z10; \
	VADDPS Z7, Z10, Z10; \
	VMULPS Z5, Z10, Z10; \
	VMOVUPS Z10, 320(SP); \
	VMULPS 384(R13), Z9, Z10; \
	VADDPS Z7, Z10, Z10; \
	VMULPS Z5, Z10, Z10; \
	VMOVUPS Z10, 384(SP); \
	VMULPS 448(R13), Z9, Z10; \
	VADDPS Z7, Z10, Z10; \
	VMULPS Z5, Z10, Z10; \
	VMOVUPS Z10, 448(SP); \
	VMULPS 512(R13), Z9, Z10; \
	VADDPS Z7, Z10, Z10; \
	VMULPS Z5, Z10, Z10; \
	VMOVUPS Z10, 512(SP); \
	VMULPS 576(R13), Z9, Z10; \
	VADDPS Z7, Z10, Z10; \
	VMULPS Z5, Z10, Z10; \
	VMOVUPS Z10, 576(SP); \
	VMULPS 640(R13), Z9, Z10; \
	VADDPS Z7, Z10, Z10; \
	VMULPS Z5, Z10, Z10; \
	VMOVUPS Z10, 640(SP); \
	VMULPS 704(R13), Z9, Z10; \
	VADDPS Z7, Z10, Z10; \
	VMULPS Z5, Z10, Z10; \
	VMOVUPS Z10, 704(SP); \
	VMULPS 768(R13), Z9, Z10; \
	VADDPS Z7, Z10, Z10; \
	VMULPS Z5, Z10, Z10; \
	VMOVUPS Z10, 768(SP); \
	VMULPS 832(R13), Z9, Z10; \
	VADDPS Z7, Z10, Z10; \
	VMULPS Z5, Z10, Z10; \
	VMOVUPS Z10, 832(SP); \
	VMULPS 896(R13), Z9, Z10; \
	VADDPS Z7, Z10, Z10; \
	VMULPS Z5, Z10, Z10; \
	VMOVUPS Z10, 896(SP); \
	VMULPS 960(R13), Z9, Z10; \
	VADDPS Z7, Z10, Z10; \
	VMULPS Z5, Z10, Z10; \
	VMOVUPS Z10, 960(SP)

// The one-activation Q4_0 kernel on groups of four blocks: the 16 code
// bytes of four consecutive blocks fill the four 128-bit lanes of one
// register, so their low nibbles (values 0-15 of each block) and high
// nibbles (values 16-31) are two registers whose int32 lanes each belong to
// one block; the activation (act32g4 in qdot.go) is stored in the same
// order, so two VPDPBUSDs give every block's sum in its own four lanes,
// and the four weight scales, times the four activation scales, are spread
// over those lanes by one VPERMPS. A group costs about a third of the
// instructions of four blocks taken a pair at a time.

// quadlanes spreads element i of four floats over dwords 4i..4i+3.
DATA quadlanes<>+0(SB)/8, $0
DATA quadlanes<>+8(SB)/8, $0
DATA quadlanes<>+16(SB)/8, $0x0000000100000001
DATA quadlanes<>+24(SB)/8, $0x0000000100000001
DATA quadlanes<>+32(SB)/8, $0x0000000200000002
DATA quadlanes<>+40(SB)/8, $0x0000000200000002
DATA quadlanes<>+48(SB)/8, $0x0000000300000003
DATA quadlanes<>+56(SB)/8, $0x0000000300000003
GLOBL quadlanes<>(SB), RODATA|NOPTR, $64

// ODDSCALE inserts half H+k's scale, table[qa[(H+k)/2]] (H in R11), as
// element k of X2. It clobbers AX and DX.
#define ODDSCALE(k) \
	LEAQ k(R11), DX; \
	SHRQ $1, DX; \
	MOVBLZX (R10)(DX*1), AX; \
	VINSERTPS $(k<<4), (SP)(AX*4), X2, X2

// DIRECTSCALE inserts half H+k's scale as element k of X2, computed
// without the table: (code[qa[b]]·a2[b/256] + off)·mul for b = (H+k)/2. It
// clobbers AX, DX and X3.
#define DIRECTSCALE(k) \
	LEAQ k(R11), DX; \
	SHRQ $1, DX; \
	MOVBLZX (R10)(DX*1), AX; \
	VMOVSS (R13)(AX*4), X3; \
	SHRQ $8, DX; \
	VMULSS (R12)(DX*4), X3, X3; \
	VADDSS X7, X3, X3; \
	VMULSS X5, X3, X3; \
	VINSERTPS $(k<<4), X3, X2, X2

// ODDBODY adds the four halves whose code bytes are in Z0 and per-half
// weight scales in X2 to Z12 and moves DI, R8 and R9 to the next group's
// activation. It clobbers Z1-Z3.
#define ODDBODY \
	VMULPS (R8), X2, X2; \
	VPERMPS Z2, Z11, Z2; \
	VPSRLW $4, Z0, Z1; \
	VPANDD Z15, Z1, Z1; \
	VPANDD Z15, Z0, Z0; \
	VPSHUFB Z1, Z14, Z1; \
	VPSHUFB Z0, Z14, Z0; \
	VMOVDQU32 (R9), Z3; \
	VPDPBUSD (DI), Z1, Z3; \
	VPDPBUSD 64(DI), Z0, Z3; \
	VCVTDQ2PS Z3, Z3; \
	VFMADD231PS Z2, Z3, Z12; \
	ADDQ $128, DI; \
	ADDQ $16, R8; \
	ADDQ $64, R9

// q40bytes picks the 16 code bytes of each of four consecutive block_q4_0
// records (72 bytes: the first 64 in one register, the last 8 in another)
// into the four 128-bit lanes, for VPERMT2B; q40words picks their four
// float16 scales into words 0-3, for VPERMW (AVX-512 VBMI and BW).
DATA q40bytes<>+0(SB)/8, $0x0908070605040302
DATA q40bytes<>+8(SB)/8, $0x11100f0e0d0c0b0a
DATA q40bytes<>+16(SB)/8, $0x1b1a191817161514
DATA q40bytes<>+24(SB)/8, $0x232221201f1e1d1c
DATA q40bytes<>+32(SB)/8, $0x2d2c2b2a29282726
DATA q40bytes<>+40(SB)/8, $0x3534333231302f2e
DATA q40bytes<>+48(SB)/8, $0x3f3e3d3c3b3a3938
DATA q40bytes<>+56(SB)/8, $0x4746454443424140
GLOBL q40bytes<>(SB), RODATA|NOPTR, $64
DATA q40words<>+0(SB)/8, $0x001b001200090000
DATA q40words<>+8(SB)/8, $0x0000000000000000
DATA q40words<>+16(SB)/8, $0x0000000000000000
DATA q40words<>+24(SB)/8, $0x0000000000000000
DATA q40words<>+32(SB)/8, $0x0000000000000000
DATA q40words<>+40(SB)/8, $0x0000000000000000
DATA q40words<>+48(SB)/8, $0x0000000000000000
DATA q40words<>+56(SB)/8, $0x0000000000000000
GLOBL q40words<>(SB), RODATA|NOPTR, $64

// Q40LOADV sets Z0 to the code bytes of the four blocks at off(SI), lane b
// block b's, and words 0-3 of X2 to their scales: two loads and two
// permutes instead of four loads and eight inserts. It clobbers Z1.
#define Q40LOADV(off) \
	VMOVDQU64 off(SI), Z0; \
	VMOVQ off+64(SI), X1; \
	VPERMW Z0, Z9, Z2; \
	VPERMT2B Z1, Z10, Z0

// Q40G4BODY adds the group whose code bytes are in Z0 (lane b: block b's
// 16 bytes) and whose four float16 weight scales are in X2 to acc: DI, R9
// and R10 point at the group's 128 activation codes, 16 biases and four
// activation scales. It clobbers Z1-Z3.
#define Q40G4BODY(acc) \
	VCVTPH2PS X2, X2; \
	VMULPS (R10), X2, X2; \
	VPERMPS Z2, Z11, Z2; \
	VPSRLW $4, Z0, Z1; \
	VPANDD Z15, Z0, Z0; \
	VPANDD Z15, Z1, Z1; \
	VMOVDQU32 (R9), Z3; \
	VPDPBUSD (DI), Z0, Z3; \
	VPDPBUSD 64(DI), Z1, Z3; \
	VCVTDQ2PS Z3, Z3; \
	VFMADD231PS Z2, Z3, acc

// func dotRowsQ4_0G4VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, bias *int32, out *float32)
TEXT ·dotRowsQ4_0G4VNNI(SB), NOSPLIT, $0-56
	MOVQ data+0(FP), SI
	MOVQ out+48(FP), BX
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	LEAQ quadlanes<>(SB), AX
	VMOVDQU64 (AX), Z11

g4row:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xd+32(FP), R10
	MOVQ bias+40(FP), R9
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13

g4oct:
	CMPQ CX, $8
	JLT  g4quad
	VMOVDQU 2(SI), X0
	VINSERTI32X4 $1, 20(SI), Z0, Z0
	VINSERTI32X4 $2, 38(SI), Z0, Z0
	VINSERTI32X4 $3, 56(SI), Z0, Z0
	MOVWLZX (SI), AX
	VMOVD AX, X2
	VPINSRW $1, 18(SI), X2, X2
	VPINSRW $2, 36(SI), X2, X2
	VPINSRW $3, 54(SI), X2, X2
	Q40G4BODY(Z12)
	VMOVDQU 74(SI), X0
	VINSERTI32X4 $1, 92(SI), Z0, Z0
	VINSERTI32X4 $2, 110(SI), Z0, Z0
	VINSERTI32X4 $3, 128(SI), Z0, Z0
	MOVWLZX 72(SI), AX
	VMOVD AX, X2
	VPINSRW $1, 90(SI), X2, X2
	VPINSRW $2, 108(SI), X2, X2
	VPINSRW $3, 126(SI), X2, X2
	ADDQ $128, DI
	ADDQ $64, R9
	ADDQ $16, R10
	Q40G4BODY(Z13)
	ADDQ $144, SI
	ADDQ $128, DI
	ADDQ $64, R9
	ADDQ $16, R10
	SUBQ $8, CX
	JMP  g4oct

g4quad:
	CMPQ CX, $4
	JLT  g4tail
	VMOVDQU 2(SI), X0
	VINSERTI32X4 $1, 20(SI), Z0, Z0
	VINSERTI32X4 $2, 38(SI), Z0, Z0
	VINSERTI32X4 $3, 56(SI), Z0, Z0
	MOVWLZX (SI), AX
	VMOVD AX, X2
	VPINSRW $1, 18(SI), X2, X2
	VPINSRW $2, 36(SI), X2, X2
	VPINSRW $3, 54(SI), X2, X2
	Q40G4BODY(Z12)
	ADDQ $72, SI
	ADDQ $128, DI
	ADDQ $64, R9
	ADDQ $16, R10
	SUBQ $4, CX

g4tail:
	// One to three blocks left: the missing blocks' lanes get scale 0
	// (X2's unset words) and meet zero activation codes and biases, so
	// whatever Z0 holds there adds exactly nothing.
	TESTQ CX, CX
	JZ   g4store
	VMOVDQU 2(SI), X0
	MOVWLZX (SI), AX
	VMOVD AX, X2
	CMPQ CX, $2
	JLT  g4last
	VINSERTI32X4 $1, 20(SI), Z0, Z0
	VPINSRW $1, 18(SI), X2, X2
	CMPQ CX, $3
	JLT  g4last
	VINSERTI32X4 $2, 38(SI), Z0, Z0
	VPINSRW $2, 36(SI), X2, X2
g4last:
	Q40G4BODY(Z12)
	IMULQ $18, CX
	ADDQ CX, SI

g4store:
	VADDPS Z13, Z12, Z12
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y12
	VEXTRACTF128 $1, Y12, X1
	VADDPS X1, X12, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	MOVSS X0, (BX)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  g4row
	VZEROUPPER
	RET

// func dotRowsQ4_0G4VBMI(data *byte, rows int, nblocks int, xq *int8, xd *float32, bias *int32, out *float32)
//
// dotRowsQ4_0G4VNNI with Q40LOADV's loads for whole groups (VBMI).
TEXT ·dotRowsQ4_0G4VBMI(SB), NOSPLIT, $0-56
	MOVQ data+0(FP), SI
	MOVQ out+48(FP), BX
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	LEAQ quadlanes<>(SB), AX
	VMOVDQU64 (AX), Z11
	LEAQ q40words<>(SB), AX
	VMOVDQU64 (AX), Z9
	LEAQ q40bytes<>(SB), AX
	VMOVDQU64 (AX), Z10

v4row:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xd+32(FP), R10
	MOVQ bias+40(FP), R9
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13

v4oct:
	CMPQ CX, $8
	JLT  v4quad
	Q40LOADV(0)
	Q40G4BODY(Z12)
	Q40LOADV(72)
	ADDQ $128, DI
	ADDQ $64, R9
	ADDQ $16, R10
	Q40G4BODY(Z13)
	ADDQ $144, SI
	ADDQ $128, DI
	ADDQ $64, R9
	ADDQ $16, R10
	SUBQ $8, CX
	JMP  v4oct

v4quad:
	CMPQ CX, $4
	JLT  v4tail
	Q40LOADV(0)
	Q40G4BODY(Z12)
	ADDQ $72, SI
	ADDQ $128, DI
	ADDQ $64, R9
	ADDQ $16, R10
	SUBQ $4, CX

v4tail:
	// One to three blocks left: the missing blocks' lanes get scale 0
	// (X2's unset words) and meet zero activation codes and biases, so
	// whatever Z0 holds there adds exactly nothing.
	TESTQ CX, CX
	JZ   v4store
	VMOVDQU 2(SI), X0
	MOVWLZX (SI), AX
	VMOVD AX, X2
	CMPQ CX, $2
	JLT  v4last
	VINSERTI32X4 $1, 20(SI), Z0, Z0
	VPINSRW $1, 18(SI), X2, X2
	CMPQ CX, $3
	JLT  v4last
	VINSERTI32X4 $2, 38(SI), Z0, Z0
	VPINSRW $2, 36(SI), X2, X2
v4last:
	Q40G4BODY(Z12)
	IMULQ $18, CX
	ADDQ CX, SI

v4store:
	VADDPS Z13, Z12, Z12
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y12
	VEXTRACTF128 $1, Y12, X1
	VADDPS X1, X12, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	MOVSS X0, (BX)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  v4row
	VZEROUPPER
	RET

// octlanes spreads elements 0 and 1 of four floats over dwords 0-7 and
// 8-15, and elements 2 and 3 (octlanes+64) likewise.
DATA octlanes<>+0(SB)/8, $0
DATA octlanes<>+8(SB)/8, $0
DATA octlanes<>+16(SB)/8, $0
DATA octlanes<>+24(SB)/8, $0
DATA octlanes<>+32(SB)/8, $0x0000000100000001
DATA octlanes<>+40(SB)/8, $0x0000000100000001
DATA octlanes<>+48(SB)/8, $0x0000000100000001
DATA octlanes<>+56(SB)/8, $0x0000000100000001
DATA octlanes<>+64(SB)/8, $0x0000000200000002
DATA octlanes<>+72(SB)/8, $0x0000000200000002
DATA octlanes<>+80(SB)/8, $0x0000000200000002
DATA octlanes<>+88(SB)/8, $0x0000000200000002
DATA octlanes<>+96(SB)/8, $0x0000000300000003
DATA octlanes<>+104(SB)/8, $0x0000000300000003
DATA octlanes<>+112(SB)/8, $0x0000000300000003
DATA octlanes<>+120(SB)/8, $0x0000000300000003
GLOBL octlanes<>(SB), RODATA|NOPTR, $128

// Q80G4BODY adds four blocks of Q8_0 to acc0 and acc1: their codes in Z0
// (blocks 0 and 1) and Z1 (2 and 3), their float16 scales in X2; DI, R9
// and R10 point at the activation's 128 codes, 32 biases and four scales.
// It clobbers Z0-Z5.
#define Q80G4BODY(acc0, acc1) \
	VPXORD Z15, Z0, Z0; \
	VPXORD Z15, Z1, Z1; \
	VCVTPH2PS X2, X2; \
	VMULPS (R10), X2, X2; \
	VPERMPS Z2, Z10, Z3; \
	VPERMPS Z2, Z11, Z2; \
	VMOVDQU32 (R9), Z4; \
	VPDPBUSD (DI), Z0, Z4; \
	VMOVDQU32 64(R9), Z5; \
	VPDPBUSD 64(DI), Z1, Z5; \
	VCVTDQ2PS Z4, Z4; \
	VCVTDQ2PS Z5, Z5; \
	VFMADD231PS Z3, Z4, acc0; \
	VFMADD231PS Z2, Z5, acc1

// func dotRowsQ8_0G4VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, bias *int32, out *float32)
TEXT ·dotRowsQ8_0G4VNNI(SB), NOSPLIT, $0-56
	MOVQ data+0(FP), SI
	MOVQ out+48(FP), BX
	MOVL $0x80808080, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	LEAQ octlanes<>(SB), AX
	VMOVDQU64 (AX), Z10
	VMOVDQU64 64(AX), Z11

e4row:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xd+32(FP), R10
	MOVQ bias+40(FP), R9
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13

e4quad:
	CMPQ CX, $4
	JLT  e4tail
	VMOVDQU 2(SI), Y0
	VINSERTI64X4 $1, 36(SI), Z0, Z0
	VMOVDQU 70(SI), Y1
	VINSERTI64X4 $1, 104(SI), Z1, Z1
	MOVWLZX (SI), AX
	VMOVD AX, X2
	VPINSRW $1, 34(SI), X2, X2
	VPINSRW $2, 68(SI), X2, X2
	VPINSRW $3, 102(SI), X2, X2
	Q80G4BODY(Z12, Z13)
	ADDQ $136, SI
	ADDQ $128, DI
	ADDQ $128, R9
	ADDQ $16, R10
	SUBQ $4, CX
	JMP  e4quad

e4tail:
	// One to three blocks left: as in dotRowsQ4_0G4VNNI, the missing
	// blocks have scale 0 and meet zero activation codes and biases.
	TESTQ CX, CX
	JZ   e4store
	VMOVDQU 2(SI), Y0
	MOVWLZX (SI), AX
	VMOVD AX, X2
	CMPQ CX, $2
	JLT  e4last
	VINSERTI64X4 $1, 36(SI), Z0, Z0
	VPINSRW $1, 34(SI), X2, X2
	CMPQ CX, $3
	JLT  e4last
	VMOVDQU 70(SI), Y1
	VPINSRW $2, 68(SI), X2, X2
e4last:
	Q80G4BODY(Z12, Z13)
	IMULQ $34, CX
	ADDQ CX, SI

e4store:
	VADDPS Z13, Z12, Z12
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y12
	VEXTRACTF128 $1, Y12, X1
	VADDPS X1, X12, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	MOVSS X0, (BX)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  e4row
	VZEROUPPER
	RET

// func dot4bitRowsDQG4VNNI(codes *byte, rows int, halves int, xq *int8, xd *float32, bias *int32, s *blockScales, out *float32)
//
// dot4bitRowsDQVNNI four halves (two blocks of 64 values, 64 code bytes)
// at a time, for rows of an even number of halves that start at an even
// global half: the high and low nibbles of the four halves' bytes fill two
// registers whose lane h holds half h's even and odd values, looked up in
// the int8 table and multiplied with an activation quantised by act32g4
// in even-odd order; the two blocks' scales, times the four halves'
// activation scales, are spread over the lanes by one VPERMPS.
TEXT ·dot4bitRowsDQG4VNNI(SB), $1032-64
	MOVQ codes+0(FP), SI
	MOVQ s+48(FP), AX
	MOVQ 8(AX), R10
	MOVQ 16(AX), R12
	MOVQ 24(AX), R13
	MOVQ 32(AX), R11
	VBROADCASTSS 40(AX), Z7
	VBROADCASTSS 44(AX), Z5
	MOVQ $-1, DX
	MOVQ DX, 1024(SP)
	MOVQ 48(AX), DX
	VMOVDQU64 (DX), Z14
	MOVQ out+56(FP), BX
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	LEAQ quadlanes<>(SB), AX
	VMOVDQU64 (AX), Z11

d4row:
	MOVQ halves+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xd+32(FP), R8
	MOVQ bias+40(FP), R9
	VXORPS Z12, Z12, Z12

d4quad:
	CMPQ CX, $2
	JLT  d4store
	MOVQ R11, DX
	SHRQ $1, DX
	MOVQ DX, AX
	SHRQ $8, AX
	CMPQ AX, 1024(SP)
	JEQ  d4scale
	DQTABLE
d4scale:
	MOVBLZX (R10)(DX*1), AX
	VMOVSS (SP)(AX*4), X2
	CMPQ CX, $4
	JLT  d4pair
	MOVBLZX 1(R10)(DX*1), AX
	VINSERTPS $0x10, (SP)(AX*4), X2, X2
	VMOVDQU64 (SI), Z0
	JMP  d4body

d4pair:
	// The last block of the row: its two halves, against activation
	// codes, biases and scales padded with zeros.
	VMOVDQU (SI), Y0

d4body:
	VUNPCKLPS X2, X2, X2
	VMULPS (R8), X2, X2
	VPERMPS Z2, Z11, Z2
	VPSRLW $4, Z0, Z1
	VPANDD Z15, Z1, Z1
	VPANDD Z15, Z0, Z0
	VPSHUFB Z1, Z14, Z1
	VPSHUFB Z0, Z14, Z0
	VMOVDQU32 (R9), Z3
	VPDPBUSD (DI), Z1, Z3
	VPDPBUSD 64(DI), Z0, Z3
	VCVTDQ2PS Z3, Z3
	VFMADD231PS Z2, Z3, Z12
	ADDQ $64, SI
	ADDQ $128, DI
	ADDQ $16, R8
	ADDQ $64, R9
	ADDQ $4, R11
	SUBQ $4, CX
	JMP  d4quad

d4store:
	// CX is 0, or -2 after a last lone block, whose code bytes, halves
	// and indexes were counted as four.
	MOVQ CX, DX
	SHLQ $4, DX
	ADDQ DX, SI
	ADDQ CX, R11
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y12
	VEXTRACTF128 $1, Y12, X1
	VADDPS X1, X12, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	MOVSS X0, (BX)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  d4row
	VZEROUPPER
	RET

// G4ACT adds activation i's share of a group of four blocks (the weight
// codes that meet its first and last 64 codes in Z0 and Z1, the float32
// weight scales in X2) to acc: its 128 codes at 128i(DI), 16 biases at
// 64i(R9), four scales at 16i(xs). It clobbers Z3 and Z4.
#define G4ACT(i, acc, xs) \
	VMULPS (16*i)(xs), X2, X3; \
	VPERMPS Z3, Z11, Z3; \
	VMOVDQU32 (64*i)(R9), Z4; \
	VPDPBUSD (128*i)(DI), Z0, Z4; \
	VPDPBUSD (128*i+64)(DI), Z1, Z4; \
	VCVTDQ2PS Z4, Z4; \
	VFMADD231PS Z3, Z4, acc

// Q40G4X4 adds the group whose code bytes are in Z0 and float16 scales in
// X2 to the four activations' accumulators Z20-Z23, and moves DI, R9 and
// R10 to the next group.
#define Q40G4X4 \
	VCVTPH2PS X2, X2; \
	VPSRLW $4, Z0, Z1; \
	VPANDD Z15, Z0, Z0; \
	VPANDD Z15, Z1, Z1; \
	G4ACT(0, Z20, R10); \
	G4ACT(1, Z21, R10); \
	G4ACT(2, Z22, R10); \
	G4ACT(3, Z23, R10); \
	ADDQ $512, DI; \
	ADDQ $256, R9; \
	ADDQ $64, R10

// HSUM16 leaves the sum of the 16 floats of Z in X0. It clobbers Y1, X1
// and Z's lower half.
#define HSUM16(Z, Y, X) \
	VEXTRACTF64X4 $1, Z, Y1; \
	VADDPS Y1, Y, Y; \
	VEXTRACTF32X4 $1, Y, X1; \
	VADDPS X1, X, X0; \
	VHADDPS X0, X0, X0; \
	VHADDPS X0, X0, X0

// func dotRows4Q4_0G4VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, bias *int32, out *float32, stride int)
//
// dotRowsQ4_0G4VNNI for four activations at once, interleaved per group
// by interleave4G4: each group's four weight blocks are decoded once and
// multiplied with every activation; activation a's result for a row goes
// to out + a·stride bytes.
TEXT ·dotRows4Q4_0G4VNNI(SB), NOSPLIT, $0-64
	MOVQ data+0(FP), SI
	MOVQ out+48(FP), BX
	MOVQ stride+56(FP), R13
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	LEAQ quadlanes<>(SB), AX
	VMOVDQU64 (AX), Z11

h4row:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xd+32(FP), R10
	MOVQ bias+40(FP), R9
	VXORPS Z20, Z20, Z20
	VXORPS Z21, Z21, Z21
	VXORPS Z22, Z22, Z22
	VXORPS Z23, Z23, Z23

h4quad:
	CMPQ CX, $4
	JLT  h4tail
	VMOVDQU 2(SI), X0
	VINSERTI32X4 $1, 20(SI), Z0, Z0
	VINSERTI32X4 $2, 38(SI), Z0, Z0
	VINSERTI32X4 $3, 56(SI), Z0, Z0
	MOVWLZX (SI), AX
	VMOVD AX, X2
	VPINSRW $1, 18(SI), X2, X2
	VPINSRW $2, 36(SI), X2, X2
	VPINSRW $3, 54(SI), X2, X2
	Q40G4X4
	ADDQ $72, SI
	SUBQ $4, CX
	JMP  h4quad

h4tail:
	// One to three blocks left, as in dotRowsQ4_0G4VNNI.
	TESTQ CX, CX
	JZ   h4store
	VMOVDQU 2(SI), X0
	MOVWLZX (SI), AX
	VMOVD AX, X2
	CMPQ CX, $2
	JLT  h4last
	VINSERTI32X4 $1, 20(SI), Z0, Z0
	VPINSRW $1, 18(SI), X2, X2
	CMPQ CX, $3
	JLT  h4last
	VINSERTI32X4 $2, 38(SI), Z0, Z0
	VPINSRW $2, 36(SI), X2, X2
h4last:
	Q40G4X4
	IMULQ $18, CX
	ADDQ CX, SI

h4store:
	HSUM16(Z20, Y20, X20)
	MOVSS X0, (BX)
	HSUM16(Z21, Y21, X21)
	MOVSS X0, (BX)(R13*1)
	HSUM16(Z22, Y22, X22)
	MOVSS X0, (BX)(R13*2)
	HSUM16(Z23, Y23, X23)
	LEAQ (BX)(R13*2), AX
	MOVSS X0, (AX)(R13*1)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  h4row
	VZEROUPPER
	RET

// func dotRows4Q4_0G4VBMI(data *byte, rows int, nblocks int, xq *int8, xd *float32, bias *int32, out *float32, stride int)
//
// dotRows4Q4_0G4VNNI with Q40LOADV's loads for whole groups (VBMI).
TEXT ·dotRows4Q4_0G4VBMI(SB), NOSPLIT, $0-64
	MOVQ data+0(FP), SI
	MOVQ out+48(FP), BX
	MOVQ stride+56(FP), R13
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	LEAQ quadlanes<>(SB), AX
	VMOVDQU64 (AX), Z11
	LEAQ q40words<>(SB), AX
	VMOVDQU64 (AX), Z9
	LEAQ q40bytes<>(SB), AX
	VMOVDQU64 (AX), Z10

w4row:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xd+32(FP), R10
	MOVQ bias+40(FP), R9
	VXORPS Z20, Z20, Z20
	VXORPS Z21, Z21, Z21
	VXORPS Z22, Z22, Z22
	VXORPS Z23, Z23, Z23

w4quad:
	CMPQ CX, $4
	JLT  w4tail
	Q40LOADV(0)
	Q40G4X4
	ADDQ $72, SI
	SUBQ $4, CX
	JMP  w4quad

w4tail:
	// One to three blocks left, as in dotRowsQ4_0G4VNNI.
	TESTQ CX, CX
	JZ   w4store
	VMOVDQU 2(SI), X0
	MOVWLZX (SI), AX
	VMOVD AX, X2
	CMPQ CX, $2
	JLT  w4last
	VINSERTI32X4 $1, 20(SI), Z0, Z0
	VPINSRW $1, 18(SI), X2, X2
	CMPQ CX, $3
	JLT  w4last
	VINSERTI32X4 $2, 38(SI), Z0, Z0
	VPINSRW $2, 36(SI), X2, X2
w4last:
	Q40G4X4
	IMULQ $18, CX
	ADDQ CX, SI

w4store:
	HSUM16(Z20, Y20, X20)
	MOVSS X0, (BX)
	HSUM16(Z21, Y21, X21)
	MOVSS X0, (BX)(R13*1)
	HSUM16(Z22, Y22, X22)
	MOVSS X0, (BX)(R13*2)
	HSUM16(Z23, Y23, X23)
	LEAQ (BX)(R13*2), AX
	MOVSS X0, (AX)(R13*1)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  w4row
	VZEROUPPER
	RET

// func dot4bitRows4DQG4VNNI(codes *byte, rows int, halves int, xq *int8, xd *float32, bias *int32, s *blockScales, out *float32, stride int)
//
// dot4bitRowsDQG4VNNI for four activations at once, interleaved by
// interleave4G4; activation a's result for a row goes to out + a·stride
// bytes.
TEXT ·dot4bitRows4DQG4VNNI(SB), $1032-72
	MOVQ codes+0(FP), SI
	MOVQ s+48(FP), AX
	MOVQ 8(AX), R10
	MOVQ 16(AX), R12
	MOVQ 24(AX), R13
	MOVQ 32(AX), R11
	VBROADCASTSS 40(AX), Z7
	VBROADCASTSS 44(AX), Z5
	MOVQ $-1, DX
	MOVQ DX, 1024(SP)
	MOVQ 48(AX), DX
	VMOVDQU64 (DX), Z14
	MOVQ out+56(FP), BX
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	LEAQ quadlanes<>(SB), AX
	VMOVDQU64 (AX), Z11

m4row:
	MOVQ halves+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xd+32(FP), R8
	MOVQ bias+40(FP), R9
	VXORPS Z20, Z20, Z20
	VXORPS Z21, Z21, Z21
	VXORPS Z22, Z22, Z22
	VXORPS Z23, Z23, Z23

m4quad:
	CMPQ CX, $2
	JLT  m4store
	MOVQ R11, DX
	SHRQ $1, DX
	MOVQ DX, AX
	SHRQ $8, AX
	CMPQ AX, 1024(SP)
	JEQ  m4scale
	DQTABLE
m4scale:
	MOVBLZX (R10)(DX*1), AX
	VMOVSS (SP)(AX*4), X2
	CMPQ CX, $4
	JLT  m4pair
	MOVBLZX 1(R10)(DX*1), AX
	VINSERTPS $0x10, (SP)(AX*4), X2, X2
	VMOVDQU64 (SI), Z1
	JMP  m4body

m4pair:
	// The last block of the row, as in dot4bitRowsDQG4VNNI.
	VMOVDQU (SI), Y1

m4body:
	VUNPCKLPS X2, X2, X2
	VPSRLW $4, Z1, Z0
	VPANDD Z15, Z0, Z0
	VPANDD Z15, Z1, Z1
	VPSHUFB Z0, Z14, Z0
	VPSHUFB Z1, Z14, Z1
	G4ACT(0, Z20, R8)
	G4ACT(1, Z21, R8)
	G4ACT(2, Z22, R8)
	G4ACT(3, Z23, R8)
	ADDQ $64, SI
	ADDQ $512, DI
	ADDQ $64, R8
	ADDQ $256, R9
	ADDQ $4, R11
	SUBQ $4, CX
	JMP  m4quad

m4store:
	// CX is 0, or -2 after a last lone block.
	MOVQ CX, DX
	SHLQ $4, DX
	ADDQ DX, SI
	ADDQ CX, R11
	MOVQ stride+64(FP), DX
	HSUM16(Z20, Y20, X20)
	MOVSS X0, (BX)
	HSUM16(Z21, Y21, X21)
	MOVSS X0, (BX)(DX*1)
	HSUM16(Z22, Y22, X22)
	MOVSS X0, (BX)(DX*2)
	HSUM16(Z23, Y23, X23)
	LEAQ (BX)(DX*2), AX
	MOVSS X0, (AX)(DX*1)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  m4row
	VZEROUPPER
	RET

// func dot4bitRowsDQG4OddVNNI(codes *byte, rows int, halves int, xq *int8, xd *float32, bias *int32, s *blockScales, out *float32)
//
// dot4bitRowsDQG4VNNI for rows of any number of halves starting at any
// global half: each of a group's four halves has its scale looked up on
// its own, so a group may hold parts of three blocks. A group that reaches
// a block of a new group of 256 computes its scales directly and rebuilds
// the table; the last one to three halves of a row compute theirs
// directly.
TEXT ·dot4bitRowsDQG4OddVNNI(SB), $1032-64
	MOVQ codes+0(FP), SI
	MOVQ s+48(FP), AX
	MOVQ 8(AX), R10
	MOVQ 16(AX), R12
	MOVQ 24(AX), R13
	MOVQ 32(AX), R11
	VBROADCASTSS 40(AX), Z7
	VBROADCASTSS 44(AX), Z5
	MOVQ $-1, DX
	MOVQ DX, 1024(SP)
	MOVQ 48(AX), DX
	VMOVDQU64 (DX), Z14
	MOVQ out+56(FP), BX
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	LEAQ quadlanes<>(SB), AX
	VMOVDQU64 (AX), Z11

o4row:
	MOVQ halves+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xd+32(FP), R8
	MOVQ bias+40(FP), R9
	VXORPS Z12, Z12, Z12

o4quad:
	CMPQ CX, $4
	JLT  o4tail
	VXORPS X2, X2, X2
	LEAQ 3(R11), AX
	SHRQ $9, AX
	CMPQ AX, 1024(SP)
	JNE  o4slow
	ODDSCALE(0)
	ODDSCALE(1)
	ODDSCALE(2)
	ODDSCALE(3)

o4go:
	VMOVDQU64 (SI), Z0
	ODDBODY
	ADDQ $64, SI
	ADDQ $4, R11
	SUBQ $4, CX
	JMP  o4quad

o4slow:
	DIRECTSCALE(0)
	DIRECTSCALE(1)
	DIRECTSCALE(2)
	DIRECTSCALE(3)
	LEAQ 3(R11), AX
	SHRQ $9, AX
	DQTABLE
	JMP  o4go

o4tail:
	// One to three halves left: the missing ones keep scale 0 and meet
	// zero activation codes, biases and scales.
	TESTQ CX, CX
	JZ   o4store
	VXORPS X2, X2, X2
	DIRECTSCALE(0)
	VMOVDQU (SI), X0
	CMPQ CX, $2
	JLT  o4last
	DIRECTSCALE(1)
	VINSERTI32X4 $1, 16(SI), Z0, Z0
	CMPQ CX, $3
	JLT  o4last
	DIRECTSCALE(2)
	VINSERTI32X4 $2, 32(SI), Z0, Z0

o4last:
	ODDBODY
	ADDQ CX, R11
	SHLQ $4, CX
	ADDQ CX, SI

o4store:
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y12
	VEXTRACTF128 $1, Y12, X1
	VADDPS X1, X12, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	MOVSS X0, (BX)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  o4row
	VZEROUPPER
	RET
