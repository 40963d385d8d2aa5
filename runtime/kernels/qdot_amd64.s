//go:build amd64

#include "textflag.h"

// The integer-dot kernels (AVX-512 VNNI on 256-bit registers): the weight
// codes of a block, made unsigned, are multiplied with the activation's
// signed byte codes by VPDPBUSD (32-value blocks) or by VPMADDUBSW and
// VPDPWSSD with the sub-block scales (K-quants), and each block's integer
// sum is converted to float once and scaled by the weight's and the
// activation's scales. The offset that makes the codes unsigned is taken
// out through the activation's block sums (act8 in qdot.go).

// HSUM8 leaves the sum of the 8 floats of Y in X0. It clobbers X1.
#define HSUM8(Y, X) \
	VEXTRACTF128 $1, Y, X1; \
	VADDPS X1, X, X0; \
	VHADDPS X0, X0, X0; \
	VHADDPS X0, X0, X0

// Q4KCHUNK adds 64 values of a block_q4_K (the 32 bytes at qoff(SI): low
// nibbles are sub-block 2j, high nibbles 2j+1) times the activation codes
// at xoff(DI), each sub-block times its six-bit scale (word lanes of Y5,
// broadcast by VPERMW with ilo/ihi), to the int32 lanes of acc.
#define Q4KCHUNK(qoff, xoff, ilo, ihi, acc) \
	VMOVDQU qoff(SI), Y0; \
	VPSRLW $4, Y0, Y1; \
	VPAND Y15, Y0, Y0; \
	VPAND Y15, Y1, Y1; \
	VPMADDUBSW xoff(DI), Y0, Y2; \
	VPMADDUBSW xoff+32(DI), Y1, Y3; \
	VPERMW Y5, ilo, Y8; \
	VPERMW Y5, ihi, Y9; \
	VPDPWSSD Y8, Y2, acc; \
	VPDPWSSD Y9, Y3, acc

// func dotRowsQ4KVNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, s32 *int16, out *float32)
//
// For each row, Σ over blocks of dx·(d·Σ sc·q·x − dmin·Σ m·Σx), with Σx
// per 32-value sub-block from s32; rows are consecutive in data and their
// sums go to out, one float each.
TEXT ·dotRowsQ4KVNNI(SB), NOSPLIT, $0-56
	MOVQ data+0(FP), SI
	MOVQ out+48(FP), BX
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Y15
	LEAQ q4kidx<>(SB), AX
	VMOVDQU64 0(AX), Y16
	VMOVDQU64 32(AX), Y17
	VMOVDQU64 64(AX), Y18
	VMOVDQU64 96(AX), Y19
	VMOVDQU64 128(AX), Y20
	VMOVDQU64 160(AX), Y21
	VMOVDQU64 192(AX), Y22
	VMOVDQU64 224(AX), Y23

q4krow:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xd+32(FP), R8
	MOVQ s32+40(FP), R9
	VXORPS Y12, Y12, Y12
	VXORPS X13, X13, X13

q4kloop:
	TESTQ CX, CX
	JZ    q4kdone
	// The 12 scale bytes: sc0-3 and m0-3 are the low six bits of bytes
	// 0-3 and 4-7; sc4-7 and m4-7 take the low and high nibbles of bytes
	// 8-11 and, as bits 4-5, the top two bits of bytes 0-3 and 4-7.
	MOVL 4(SI), AX
	MOVL 8(SI), R13
	MOVL 12(SI), DX
	MOVL AX, R10
	ANDL $0x3f3f3f3f, R10
	MOVL R13, R11
	ANDL $0x3f3f3f3f, R11
	MOVL DX, R12
	ANDL $0x0f0f0f0f, R12
	SHRL $2, AX
	ANDL $0x30303030, AX
	ORL  AX, R12
	SHRL $4, DX
	ANDL $0x0f0f0f0f, DX
	SHRL $2, R13
	ANDL $0x30303030, R13
	ORL  R13, DX
	VMOVD R10, X5
	VPINSRD $1, R12, X5, X5
	VPMOVZXBW X5, X5
	VMOVD R11, X7
	VPINSRD $1, DX, X7, X7
	VPMOVZXBW X7, X7
	VPMADDWD (R9), X7, X7
	VPXOR Y4, Y4, Y4
	VPXOR Y6, Y6, Y6
	Q4KCHUNK(16, 0, Y16, Y17, Y4)
	Q4KCHUNK(48, 64, Y18, Y19, Y6)
	Q4KCHUNK(80, 128, Y20, Y21, Y4)
	Q4KCHUNK(112, 192, Y22, Y23, Y6)
	VPADDD Y6, Y4, Y4
	VCVTDQ2PS Y4, Y4
	MOVL (SI), DX
	VMOVD DX, X9
	VCVTPH2PS X9, X9
	VBROADCASTSS (R8), X10
	VMULPS X10, X9, X9
	VBROADCASTSS X9, Y10
	VFMADD231PS Y10, Y4, Y12
	VMOVSHDUP X9, X11
	VBROADCASTSS X11, X11
	VCVTDQ2PS X7, X7
	VFMADD231PS X11, X7, X13
	ADDQ $144, SI
	ADDQ $256, DI
	ADDQ $4, R8
	ADDQ $16, R9
	DECQ CX
	JMP  q4kloop

q4kdone:
	VHADDPS X13, X13, X13
	VHADDPS X13, X13, X13
	HSUM8(Y12, X12)
	VSUBSS X13, X0, X0
	MOVSS X0, (BX)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  q4krow
	VZEROUPPER
	RET

// Q6KHALF adds one 128-value half of a block_q6_K (ql at qlo(SI), 64
// bytes; qh at qho(SI), 32 bytes) times the activation codes at xo(DI) to
// acc and acc2, each 16-value sub-block times its int8 scale (word lanes
// of Y5, selected by VPERMW with i1-i4). The codes are unsigned (0-63);
// the caller removes the offset of 32.
#define Q6KHALF(qlo, qho, xo, i1, i2, i3, i4, acc, acc2) \
	VMOVDQU qlo(SI), Y0; \
	VMOVDQU qlo+32(SI), Y1; \
	VMOVDQU qho(SI), Y2; \
	VPSLLW $4, Y2, Y3; \
	VPAND Y14, Y3, Y3; \
	VPAND Y15, Y0, Y7; \
	VPOR Y3, Y7, Y7; \
	VPMADDUBSW xo(DI), Y7, Y7; \
	VPERMW Y5, i1, Y8; \
	VPDPWSSD Y8, Y7, acc; \
	VPSLLW $2, Y2, Y3; \
	VPAND Y14, Y3, Y3; \
	VPAND Y15, Y1, Y7; \
	VPOR Y3, Y7, Y7; \
	VPMADDUBSW xo+32(DI), Y7, Y7; \
	VPERMW Y5, i2, Y8; \
	VPDPWSSD Y8, Y7, acc2; \
	VPAND Y14, Y2, Y3; \
	VPSRLW $4, Y0, Y7; \
	VPAND Y15, Y7, Y7; \
	VPOR Y3, Y7, Y7; \
	VPMADDUBSW xo+64(DI), Y7, Y7; \
	VPERMW Y5, i3, Y8; \
	VPDPWSSD Y8, Y7, acc; \
	VPSRLW $2, Y2, Y3; \
	VPAND Y14, Y3, Y3; \
	VPSRLW $4, Y1, Y7; \
	VPAND Y15, Y7, Y7; \
	VPOR Y3, Y7, Y7; \
	VPMADDUBSW xo+96(DI), Y7, Y7; \
	VPERMW Y5, i4, Y8; \
	VPDPWSSD Y8, Y7, acc2

// func dotRowsQ6KVNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, s16 *int16, out *float32)
//
// For each row, Σ over blocks of dx·d·(Σ sc·q·x − 32·Σ sc·Σx), with Σx
// per 16-value sub-block from s16; rows are consecutive in data and their
// sums go to out, one float each.
TEXT ·dotRowsQ6KVNNI(SB), NOSPLIT, $0-56
	MOVQ data+0(FP), SI
	MOVQ out+48(FP), BX
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Y15
	MOVL $0x30303030, DX
	VMOVD DX, X14
	VPBROADCASTD X14, Y14
	LEAQ q6kidx<>(SB), AX
	VMOVDQU64 0(AX), Y16
	VMOVDQU64 32(AX), Y17
	VMOVDQU64 64(AX), Y18
	VMOVDQU64 96(AX), Y19
	VMOVDQU64 128(AX), Y20
	VMOVDQU64 160(AX), Y21
	VMOVDQU64 192(AX), Y22
	VMOVDQU64 224(AX), Y23

q6krow:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xd+32(FP), R8
	MOVQ s16+40(FP), R9
	VXORPS Y12, Y12, Y12

q6kloop:
	TESTQ CX, CX
	JZ    q6kdone
	VPMOVSXBW 192(SI), Y5
	VPMADDWD (R9), Y5, Y10
	VPSLLD $5, Y10, Y10
	VPXOR Y4, Y4, Y4
	VPXOR Y6, Y6, Y6
	Q6KHALF(0, 128, 0, Y16, Y17, Y18, Y19, Y4, Y6)
	Q6KHALF(64, 160, 128, Y20, Y21, Y22, Y23, Y4, Y6)
	VPADDD Y6, Y4, Y4
	VPSUBD Y10, Y4, Y4
	VCVTDQ2PS Y4, Y4
	MOVWLZX 208(SI), DX
	VMOVD DX, X9
	VCVTPH2PS X9, X9
	VMULSS (R8), X9, X9
	VBROADCASTSS X9, Y9
	VFMADD231PS Y9, Y4, Y12
	ADDQ $210, SI
	ADDQ $256, DI
	ADDQ $4, R8
	ADDQ $32, R9
	DECQ CX
	JMP  q6kloop

q6kdone:
	HSUM8(Y12, X12)
	MOVSS X0, (BX)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  q6krow
	VZEROUPPER
	RET

// q4kidx holds eight VPERMW index vectors: vector s selects word s in
// every lane (a Q4_K sub-block's scale).
DATA q4kidx<>+0(SB)/8, $0x0000000000000000
DATA q4kidx<>+8(SB)/8, $0x0000000000000000
DATA q4kidx<>+16(SB)/8, $0x0000000000000000
DATA q4kidx<>+24(SB)/8, $0x0000000000000000
DATA q4kidx<>+32(SB)/8, $0x0001000100010001
DATA q4kidx<>+40(SB)/8, $0x0001000100010001
DATA q4kidx<>+48(SB)/8, $0x0001000100010001
DATA q4kidx<>+56(SB)/8, $0x0001000100010001
DATA q4kidx<>+64(SB)/8, $0x0002000200020002
DATA q4kidx<>+72(SB)/8, $0x0002000200020002
DATA q4kidx<>+80(SB)/8, $0x0002000200020002
DATA q4kidx<>+88(SB)/8, $0x0002000200020002
DATA q4kidx<>+96(SB)/8, $0x0003000300030003
DATA q4kidx<>+104(SB)/8, $0x0003000300030003
DATA q4kidx<>+112(SB)/8, $0x0003000300030003
DATA q4kidx<>+120(SB)/8, $0x0003000300030003
DATA q4kidx<>+128(SB)/8, $0x0004000400040004
DATA q4kidx<>+136(SB)/8, $0x0004000400040004
DATA q4kidx<>+144(SB)/8, $0x0004000400040004
DATA q4kidx<>+152(SB)/8, $0x0004000400040004
DATA q4kidx<>+160(SB)/8, $0x0005000500050005
DATA q4kidx<>+168(SB)/8, $0x0005000500050005
DATA q4kidx<>+176(SB)/8, $0x0005000500050005
DATA q4kidx<>+184(SB)/8, $0x0005000500050005
DATA q4kidx<>+192(SB)/8, $0x0006000600060006
DATA q4kidx<>+200(SB)/8, $0x0006000600060006
DATA q4kidx<>+208(SB)/8, $0x0006000600060006
DATA q4kidx<>+216(SB)/8, $0x0006000600060006
DATA q4kidx<>+224(SB)/8, $0x0007000700070007
DATA q4kidx<>+232(SB)/8, $0x0007000700070007
DATA q4kidx<>+240(SB)/8, $0x0007000700070007
DATA q4kidx<>+248(SB)/8, $0x0007000700070007
GLOBL q4kidx<>(SB), RODATA|NOPTR, $256

// q6kidx holds eight VPERMW index vectors, for half h and group g of a
// Q6_K block (vector 4h+g): words 0-7 select scale 8h+2g, words 8-15
// scale 8h+2g+1.

DATA q6kidx<>+0(SB)/8, $0x0000000000000000
DATA q6kidx<>+8(SB)/8, $0x0000000000000000
DATA q6kidx<>+16(SB)/8, $0x0001000100010001
DATA q6kidx<>+24(SB)/8, $0x0001000100010001
DATA q6kidx<>+32(SB)/8, $0x0002000200020002
DATA q6kidx<>+40(SB)/8, $0x0002000200020002
DATA q6kidx<>+48(SB)/8, $0x0003000300030003
DATA q6kidx<>+56(SB)/8, $0x0003000300030003
DATA q6kidx<>+64(SB)/8, $0x0004000400040004
DATA q6kidx<>+72(SB)/8, $0x0004000400040004
DATA q6kidx<>+80(SB)/8, $0x0005000500050005
DATA q6kidx<>+88(SB)/8, $0x0005000500050005
DATA q6kidx<>+96(SB)/8, $0x0006000600060006
DATA q6kidx<>+104(SB)/8, $0x0006000600060006
DATA q6kidx<>+112(SB)/8, $0x0007000700070007
DATA q6kidx<>+120(SB)/8, $0x0007000700070007
DATA q6kidx<>+128(SB)/8, $0x0008000800080008
DATA q6kidx<>+136(SB)/8, $0x0008000800080008
DATA q6kidx<>+144(SB)/8, $0x0009000900090009
DATA q6kidx<>+152(SB)/8, $0x0009000900090009
DATA q6kidx<>+160(SB)/8, $0x000a000a000a000a
DATA q6kidx<>+168(SB)/8, $0x000a000a000a000a
DATA q6kidx<>+176(SB)/8, $0x000b000b000b000b
DATA q6kidx<>+184(SB)/8, $0x000b000b000b000b
DATA q6kidx<>+192(SB)/8, $0x000c000c000c000c
DATA q6kidx<>+200(SB)/8, $0x000c000c000c000c
DATA q6kidx<>+208(SB)/8, $0x000d000d000d000d
DATA q6kidx<>+216(SB)/8, $0x000d000d000d000d
DATA q6kidx<>+224(SB)/8, $0x000e000e000e000e
DATA q6kidx<>+232(SB)/8, $0x000e000e000e000e
DATA q6kidx<>+240(SB)/8, $0x000f000f000f000f
DATA q6kidx<>+248(SB)/8, $0x000f000f000f000f
GLOBL q6kidx<>(SB), RODATA|NOPTR, $256

// NF4BLK512 adds two 32-value halves (32 code bytes at (SI), 16 per half,
// high nibble first) to acc on 512-bit registers: the high and low
// nibbles of each half are arranged as the activation is (each half's 16
// even values, then its 16 odd ones), looked up in the offset int8 table
// Z14 and multiplied with the activation codes at (DI) from the biases at
// (R9); each half's lanes are scaled by its activation scale (dxv at (R8))
// and its weight scale, in the lanes of Z4.
#define NF4BLK512(acc) \
	VMOVDQU (SI), Y0; \
	VPSRLW $4, Y0, Y1; \
	VINSERTI64X4 $1, Y0, Z1, Z1; \
	VSHUFI64X2 $0xd8, Z1, Z1, Z1; \
	VPANDD Z15, Z1, Z1; \
	VPSHUFB Z1, Z14, Z1; \
	VMOVDQU32 (R9), Z2; \
	VPDPBUSD (DI), Z1, Z2; \
	VCVTDQ2PS Z2, Z2; \
	VMULPS (R8), Z2, Z2; \
	VFMADD231PS Z4, Z2, acc

// NF4SCALE_DQ sets dst to half H's double-quantised scale,
// (code[qa[b]]·a2[b/256] + off)·mul for its block b = H/2. It clobbers AX
// and DX.
#define NF4SCALE_DQ(H, dst) \
	MOVQ H, DX; \
	SHRQ $1, DX; \
	MOVBLZX (R10)(DX*1), AX; \
	VMOVSS (R13)(AX*4), dst; \
	SHRQ $8, DX; \
	VMULSS (R12)(DX*4), dst, dst; \
	VADDSS X7, dst, dst; \
	VMULSS X5, dst, dst

// NF4SCALE_ABS sets dst to half H's scale absmax[H/2]·mul. It clobbers DX.
#define NF4SCALE_ABS(H, dst) \
	MOVQ H, DX; \
	SHRQ $1, DX; \
	VMULSS (R10)(DX*4), X5, dst

// dot4bitRowsVNNI and dot4bitRowsDQVNNI: rows are consecutive in codes
// and in the global half index R11, which starts at s.h0; each row
// multiplies halves halves with the activation and stores its sum at
// (BX), the next float for the next row. Pairs of halves run on 512-bit
// registers (their two scales differ when the pair straddles a block, on
// rows that start mid-block); a last odd half runs on 256-bit ones.

// func dot4bitRowsVNNI(codes *byte, rows int, halves int, xq *int8, dxv *float32, bias *int32, s *blockScales, out *float32)
TEXT ·dot4bitRowsVNNI(SB), NOSPLIT, $0-64
	MOVQ codes+0(FP), SI
	MOVQ s+48(FP), AX
	MOVQ 0(AX), R10
	MOVQ 16(AX), R12
	MOVQ 24(AX), R13
	MOVQ 32(AX), R11
	VMOVSS 40(AX), X7
	VMOVSS 44(AX), X5
	MOVQ 48(AX), DX
	VMOVDQU64 (DX), Z14
	MOVQ out+56(FP), BX
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
n4row:
	MOVQ halves+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ dxv+32(FP), R8
	MOVQ bias+40(FP), R9
	VXORPS Z12, Z12, Z12
n4pair:
	CMPQ CX, $2
	JLT  n4tail
	NF4SCALE_ABS(R11, X4)
	TESTQ $1, R11
	JNZ  n4straddle
	VBROADCASTSS X4, Z4
	JMP  n4blk
n4straddle:
	INCQ R11
	NF4SCALE_ABS(R11, X6)
	DECQ R11
	VBROADCASTSS X4, Y4
	VBROADCASTSS X6, Y6
	VINSERTF64X4 $1, Y6, Z4, Z4
n4blk:
	NF4BLK512(Z12)
	ADDQ $32, SI
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $2, R11
	SUBQ $2, CX
	JMP  n4pair
n4tail:
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y12
	TESTQ CX, CX
	JZ   n4store
	NF4SCALE_ABS(R11, X4)
	VBROADCASTSS X4, Y4
	VMOVDQU (SI), X0
	VPSRLW $4, X0, X1
	VINSERTI128 $1, X0, Y1, Y1
	VPAND Y15, Y1, Y1
	VPSHUFB Y1, Y14, Y1
	VMOVDQU (R9), Y2
	VPDPBUSD (DI), Y1, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS (R8), Y2, Y2
	VFMADD231PS Y4, Y2, Y12
	ADDQ $16, SI
	INCQ R11
n4store:
	HSUM8(Y12, X12)
	MOVSS X0, (BX)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  n4row
	VZEROUPPER
	RET

// func dot4bitRowsDQVNNI(codes *byte, rows int, halves int, xq *int8, dxv *float32, bias *int32, s *blockScales, out *float32)
TEXT ·dot4bitRowsDQVNNI(SB), NOSPLIT, $0-64
	MOVQ codes+0(FP), SI
	MOVQ s+48(FP), AX
	MOVQ 8(AX), R10
	MOVQ 16(AX), R12
	MOVQ 24(AX), R13
	MOVQ 32(AX), R11
	VMOVSS 40(AX), X7
	VMOVSS 44(AX), X5
	MOVQ 48(AX), DX
	VMOVDQU64 (DX), Z14
	MOVQ out+56(FP), BX
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
n6row:
	MOVQ halves+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ dxv+32(FP), R8
	MOVQ bias+40(FP), R9
	VXORPS Z12, Z12, Z12
n6pair:
	CMPQ CX, $2
	JLT  n6tail
	NF4SCALE_DQ(R11, X4)
	TESTQ $1, R11
	JNZ  n6straddle
	VBROADCASTSS X4, Z4
	JMP  n6blk
n6straddle:
	INCQ R11
	NF4SCALE_DQ(R11, X6)
	DECQ R11
	VBROADCASTSS X4, Y4
	VBROADCASTSS X6, Y6
	VINSERTF64X4 $1, Y6, Z4, Z4
n6blk:
	NF4BLK512(Z12)
	ADDQ $32, SI
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $2, R11
	SUBQ $2, CX
	JMP  n6pair
n6tail:
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y12
	TESTQ CX, CX
	JZ   n6store
	NF4SCALE_DQ(R11, X4)
	VBROADCASTSS X4, Y4
	VMOVDQU (SI), X0
	VPSRLW $4, X0, X1
	VINSERTI128 $1, X0, Y1, Y1
	VPAND Y15, Y1, Y1
	VPSHUFB Y1, Y14, Y1
	VMOVDQU (R9), Y2
	VPDPBUSD (DI), Y1, Y2
	VCVTDQ2PS Y2, Y2
	VMULPS (R8), Y2, Y2
	VFMADD231PS Y4, Y2, Y12
	ADDQ $16, SI
	INCQ R11
n6store:
	HSUM8(Y12, X12)
	MOVSS X0, (BX)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  n6row
	VZEROUPPER
	RET

// The row kernels of the 32-value block formats: rows are consecutive in
// data; each multiplies its nblocks blocks with the activation (act32:
// codes xq, block scales xd, their laneScales dxv, biases bias) and
// stores the sum at out, the next float for the next row. Pairs of blocks
// run on 512-bit registers, each block's lanes scaled by its weight scale
// (two float16s converted together and spread by VPERMPS with lanepair)
// and its activation scale (dxv); a last odd block runs on 256-bit ones.

// lanepair spreads element 0 over dwords 0-7 and element 1 over 8-15.
DATA lanepair<>+0(SB)/8, $0
DATA lanepair<>+8(SB)/8, $0
DATA lanepair<>+16(SB)/8, $0
DATA lanepair<>+24(SB)/8, $0
DATA lanepair<>+32(SB)/8, $0x0000000100000001
DATA lanepair<>+40(SB)/8, $0x0000000100000001
DATA lanepair<>+48(SB)/8, $0x0000000100000001
DATA lanepair<>+56(SB)/8, $0x0000000100000001
GLOBL lanepair<>(SB), RODATA|NOPTR, $64

// func dotRowsQ8_0VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, dxv *float32, bias *int32, out *float32)
TEXT ·dotRowsQ8_0VNNI(SB), NOSPLIT, $0-64
	MOVQ data+0(FP), SI
	MOVQ out+56(FP), BX
	MOVL $0x80808080, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	LEAQ lanepair<>(SB), AX
	VMOVDQU64 (AX), Z11

q8rrow:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xd+32(FP), R10
	MOVQ dxv+40(FP), R8
	MOVQ bias+48(FP), R9
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13

q8rquad:
	CMPQ CX, $4
	JLT  q8rpair
	VMOVDQU 2(SI), Y0
	VINSERTI64X4 $1, 36(SI), Z0, Z0
	VPXORD Z15, Z0, Z0
	MOVWLZX (SI), AX
	MOVWLZX 34(SI), DX
	SHLL $16, DX
	ORL  DX, AX
	VMOVD AX, X2
	VCVTPH2PS X2, X2
	VPERMPS Z2, Z11, Z2
	VMOVDQU32 (R9), Z1
	VPDPBUSD (DI), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8), Z1, Z1
	VFMADD231PS Z2, Z1, Z12
	VMOVDQU 70(SI), Y0
	VINSERTI64X4 $1, 104(SI), Z0, Z0
	VPXORD Z15, Z0, Z0
	MOVWLZX 68(SI), AX
	MOVWLZX 102(SI), DX
	SHLL $16, DX
	ORL  DX, AX
	VMOVD AX, X2
	VCVTPH2PS X2, X2
	VPERMPS Z2, Z11, Z2
	VMOVDQU32 64(R9), Z1
	VPDPBUSD 64(DI), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS 64(R8), Z1, Z1
	VFMADD231PS Z2, Z1, Z13
	ADDQ $136, SI
	ADDQ $128, DI
	ADDQ $128, R8
	ADDQ $128, R9
	ADDQ $16, R10
	SUBQ $4, CX
	JMP  q8rquad

q8rpair:
	CMPQ CX, $2
	JLT  q8rtail
	VMOVDQU 2(SI), Y0
	VINSERTI64X4 $1, 36(SI), Z0, Z0
	VPXORD Z15, Z0, Z0
	MOVWLZX (SI), AX
	MOVWLZX 34(SI), DX
	SHLL $16, DX
	ORL  DX, AX
	VMOVD AX, X2
	VCVTPH2PS X2, X2
	VPERMPS Z2, Z11, Z2
	VMOVDQU32 (R9), Z1
	VPDPBUSD (DI), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8), Z1, Z1
	VFMADD231PS Z2, Z1, Z12
	ADDQ $68, SI
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $8, R10
	SUBQ $2, CX
	JMP  q8rpair

q8rtail:
	VADDPS Z13, Z12, Z12
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y12
	TESTQ CX, CX
	JZ   q8rstore
	VMOVDQU 2(SI), Y0
	VPXOR Y15, Y0, Y0
	VMOVDQU (R9), Y1
	VPDPBUSD (DI), Y0, Y1
	VCVTDQ2PS Y1, Y1
	MOVWLZX (SI), DX
	VMOVD DX, X2
	VCVTPH2PS X2, X2
	VMULSS (R10), X2, X2
	VBROADCASTSS X2, Y2
	VFMADD231PS Y2, Y1, Y12
	ADDQ $34, SI

q8rstore:
	HSUM8(Y12, X12)
	MOVSS X0, (BX)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  q8rrow
	VZEROUPPER
	RET

// func dotRowsQ4_0VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, dxv *float32, bias *int32, out *float32)
TEXT ·dotRowsQ4_0VNNI(SB), NOSPLIT, $0-64
	MOVQ data+0(FP), SI
	MOVQ out+56(FP), BX
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	LEAQ lanepair<>(SB), AX
	VMOVDQU64 (AX), Z11

q4rrow:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xd+32(FP), R10
	MOVQ dxv+40(FP), R8
	MOVQ bias+48(FP), R9
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13

q4rquad:
	CMPQ CX, $4
	JLT  q4rpair
	VMOVDQU 2(SI), X0
	VINSERTI128 $1, 20(SI), Y0, Y0
	VPSRLW $4, Y0, Y1
	VINSERTI64X4 $1, Y1, Z0, Z0
	VSHUFI64X2 $0xd8, Z0, Z0, Z0
	VPANDD Z15, Z0, Z0
	MOVWLZX (SI), AX
	MOVWLZX 18(SI), DX
	SHLL $16, DX
	ORL  DX, AX
	VMOVD AX, X2
	VCVTPH2PS X2, X2
	VPERMPS Z2, Z11, Z2
	VMOVDQU32 (R9), Z1
	VPDPBUSD (DI), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8), Z1, Z1
	VFMADD231PS Z2, Z1, Z12
	VMOVDQU 38(SI), X0
	VINSERTI128 $1, 56(SI), Y0, Y0
	VPSRLW $4, Y0, Y1
	VINSERTI64X4 $1, Y1, Z0, Z0
	VSHUFI64X2 $0xd8, Z0, Z0, Z0
	VPANDD Z15, Z0, Z0
	MOVWLZX 36(SI), AX
	MOVWLZX 54(SI), DX
	SHLL $16, DX
	ORL  DX, AX
	VMOVD AX, X2
	VCVTPH2PS X2, X2
	VPERMPS Z2, Z11, Z2
	VMOVDQU32 64(R9), Z1
	VPDPBUSD 64(DI), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS 64(R8), Z1, Z1
	VFMADD231PS Z2, Z1, Z13
	ADDQ $72, SI
	ADDQ $128, DI
	ADDQ $128, R8
	ADDQ $128, R9
	ADDQ $16, R10
	SUBQ $4, CX
	JMP  q4rquad

q4rpair:
	CMPQ CX, $2
	JLT  q4rtail
	VMOVDQU 2(SI), X0
	VINSERTI128 $1, 20(SI), Y0, Y0
	VPSRLW $4, Y0, Y1
	VINSERTI64X4 $1, Y1, Z0, Z0
	VSHUFI64X2 $0xd8, Z0, Z0, Z0
	VPANDD Z15, Z0, Z0
	MOVWLZX (SI), AX
	MOVWLZX 18(SI), DX
	SHLL $16, DX
	ORL  DX, AX
	VMOVD AX, X2
	VCVTPH2PS X2, X2
	VPERMPS Z2, Z11, Z2
	VMOVDQU32 (R9), Z1
	VPDPBUSD (DI), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8), Z1, Z1
	VFMADD231PS Z2, Z1, Z12
	ADDQ $36, SI
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $8, R10
	SUBQ $2, CX
	JMP  q4rpair

q4rtail:
	VADDPS Z13, Z12, Z12
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y12
	TESTQ CX, CX
	JZ   q4rstore
	VMOVDQU 2(SI), X0
	VPSRLW $4, X0, X1
	VINSERTI128 $1, X1, Y0, Y0
	VPAND Y15, Y0, Y0
	VMOVDQU (R9), Y1
	VPDPBUSD (DI), Y0, Y1
	VCVTDQ2PS Y1, Y1
	MOVWLZX (SI), DX
	VMOVD DX, X2
	VCVTPH2PS X2, X2
	VMULSS (R10), X2, X2
	VBROADCASTSS X2, Y2
	VFMADD231PS Y2, Y1, Y12
	ADDQ $18, SI

q4rstore:
	HSUM8(Y12, X12)
	MOVSS X0, (BX)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  q4rrow
	VZEROUPPER
	RET

// func dotRowsQ5_0VNNI(data *byte, rows int, nblocks int, xq *int8, xd *float32, dxv *float32, bias *int32, out *float32)
TEXT ·dotRowsQ5_0VNNI(SB), NOSPLIT, $0-64
	MOVQ data+0(FP), SI
	MOVQ out+56(FP), BX
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	MOVL $0x10101010, DX
	VMOVD DX, X14
	VPBROADCASTD X14, Z14
	LEAQ lanepair<>(SB), AX
	VMOVDQU64 (AX), Z11

q5rrow:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xd+32(FP), R10
	MOVQ dxv+40(FP), R8
	MOVQ bias+48(FP), R9
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13

q5rquad:
	CMPQ CX, $4
	JLT  q5rpair
	VMOVDQU 6(SI), X0
	VINSERTI128 $1, 28(SI), Y0, Y0
	VPSRLW $4, Y0, Y1
	VINSERTI64X4 $1, Y1, Z0, Z0
	VSHUFI64X2 $0xd8, Z0, Z0, Z0
	VPANDD Z15, Z0, Z0
	MOVL 2(SI), AX
	MOVL 24(SI), DX
	SHLQ $32, DX
	ORQ DX, AX
	KMOVQ AX, K1
	VPMOVM2B K1, Z3
	VPANDD Z14, Z3, Z3
	VPORD Z3, Z0, Z0
	MOVWLZX (SI), AX
	MOVWLZX 22(SI), DX
	SHLL $16, DX
	ORL  DX, AX
	VMOVD AX, X2
	VCVTPH2PS X2, X2
	VPERMPS Z2, Z11, Z2
	VMOVDQU32 (R9), Z1
	VPDPBUSD (DI), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8), Z1, Z1
	VFMADD231PS Z2, Z1, Z12
	VMOVDQU 50(SI), X0
	VINSERTI128 $1, 72(SI), Y0, Y0
	VPSRLW $4, Y0, Y1
	VINSERTI64X4 $1, Y1, Z0, Z0
	VSHUFI64X2 $0xd8, Z0, Z0, Z0
	VPANDD Z15, Z0, Z0
	MOVL 46(SI), AX
	MOVL 68(SI), DX
	SHLQ $32, DX
	ORQ DX, AX
	KMOVQ AX, K1
	VPMOVM2B K1, Z3
	VPANDD Z14, Z3, Z3
	VPORD Z3, Z0, Z0
	MOVWLZX 44(SI), AX
	MOVWLZX 66(SI), DX
	SHLL $16, DX
	ORL  DX, AX
	VMOVD AX, X2
	VCVTPH2PS X2, X2
	VPERMPS Z2, Z11, Z2
	VMOVDQU32 64(R9), Z1
	VPDPBUSD 64(DI), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS 64(R8), Z1, Z1
	VFMADD231PS Z2, Z1, Z13
	ADDQ $88, SI
	ADDQ $128, DI
	ADDQ $128, R8
	ADDQ $128, R9
	ADDQ $16, R10
	SUBQ $4, CX
	JMP  q5rquad

q5rpair:
	CMPQ CX, $2
	JLT  q5rtail
	VMOVDQU 6(SI), X0
	VINSERTI128 $1, 28(SI), Y0, Y0
	VPSRLW $4, Y0, Y1
	VINSERTI64X4 $1, Y1, Z0, Z0
	VSHUFI64X2 $0xd8, Z0, Z0, Z0
	VPANDD Z15, Z0, Z0
	MOVL 2(SI), AX
	MOVL 24(SI), DX
	SHLQ $32, DX
	ORQ DX, AX
	KMOVQ AX, K1
	VPMOVM2B K1, Z3
	VPANDD Z14, Z3, Z3
	VPORD Z3, Z0, Z0
	MOVWLZX (SI), AX
	MOVWLZX 22(SI), DX
	SHLL $16, DX
	ORL  DX, AX
	VMOVD AX, X2
	VCVTPH2PS X2, X2
	VPERMPS Z2, Z11, Z2
	VMOVDQU32 (R9), Z1
	VPDPBUSD (DI), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8), Z1, Z1
	VFMADD231PS Z2, Z1, Z12
	ADDQ $44, SI
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $8, R10
	SUBQ $2, CX
	JMP  q5rpair

q5rtail:
	VADDPS Z13, Z12, Z12
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y12
	TESTQ CX, CX
	JZ   q5rstore
	VMOVDQU 6(SI), X0
	VPSRLW $4, X0, X1
	VINSERTI128 $1, X1, Y0, Y0
	VPAND Y15, Y0, Y0
	KMOVD 2(SI), K1
	VPMOVM2B K1, Y3
	VPAND Y14, Y3, Y3
	VPOR Y3, Y0, Y0
	VMOVDQU (R9), Y1
	VPDPBUSD (DI), Y0, Y1
	VCVTDQ2PS Y1, Y1
	MOVWLZX (SI), DX
	VMOVD DX, X2
	VCVTPH2PS X2, X2
	VMULSS (R10), X2, X2
	VBROADCASTSS X2, Y2
	VFMADD231PS Y2, Y1, Y12
	ADDQ $22, SI

q5rstore:
	HSUM8(Y12, X12)
	MOVSS X0, (BX)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  q5rrow
	VZEROUPPER
	RET

// func quantBlocksAVX512(x *float32, nblocks int, vecs int, q *int8, d *float32)
//
// Quantises nblocks blocks of 16·vecs floats from x to signed bytes at q,
// each with the scale amax/127 stored at d (one float per block): codes
// are round(x·127/amax) to nearest even. A block of zeros gets scale 0, a
// block holding a NaN scale NaN; both get zero codes.
TEXT ·quantBlocksAVX512(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ nblocks+8(FP), CX
	MOVQ vecs+16(FP), R8
	MOVQ q+24(FP), DI
	MOVQ d+32(FP), BX
	MOVL $0x7fffffff, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	MOVL $0x42fe0000, DX // 127.0
	VMOVD DX, X14
	VXORPS X13, X13, X13

qbloop:
	TESTQ CX, CX
	JZ    qbdone
	VXORPS Z2, Z2, Z2
	KXORW K3, K3, K3
	MOVQ SI, AX
	MOVQ R8, DX

qbmax:
	VPANDD (AX), Z15, Z0
	VMAXPS Z0, Z2, Z2
	VCMPPS $3, Z0, Z0, K1
	KORW K1, K3, K3
	ADDQ $64, AX
	DECQ DX
	JNZ  qbmax
	VEXTRACTF64X4 $1, Z2, Y3
	VMAXPS Y3, Y2, Y2
	VEXTRACTF128 $1, Y2, X3
	VMAXPS X3, X2, X2
	VPERMILPS $0x4e, X2, X3
	VMAXPS X3, X2, X2
	VPERMILPS $0xb1, X2, X3
	VMAXPS X3, X2, X2
	KORTESTW K3, K3
	JNZ  qbnan
	VUCOMISS X13, X2
	JE   qbzero
	VDIVSS X14, X2, X4
	VMOVSS X4, (BX)
	VDIVSS X2, X14, X5
	VBROADCASTSS X5, Z5
	MOVQ R8, DX

qbcodes:
	VMULPS (SI), Z5, Z0
	VCVTPS2DQ Z0, Z0
	VPMOVSDB Z0, (DI)
	ADDQ $64, SI
	ADDQ $16, DI
	DECQ DX
	JNZ  qbcodes
	JMP  qbnext

qbnan:
	MOVL $0x7fc00000, DX
	MOVL DX, (BX)
	JMP  qbclear

qbzero:
	MOVL $0, (BX)

qbclear:
	MOVQ R8, DX
	VPXORD Z0, Z0, Z0

qbclr:
	VMOVDQU X0, (DI)
	ADDQ $64, SI
	ADDQ $16, DI
	DECQ DX
	JNZ  qbclr

qbnext:
	ADDQ $4, BX
	DECQ CX
	JMP  qbloop

qbdone:
	VZEROUPPER
	RET

// The four-activation forms of the 32-value block row kernels, for
// batched products (prefill): each pair of weight blocks is decoded once
// and multiplied with four activation rows, which lie stride·... apart:
// activation a's codes, biases and laneScales start a·32·nblocks bytes
// after xq, bias and dxv (act32 of the whole batch lays them out so), and
// its sum for row r goes to out + a·stride + 4r.

// func dotRows4Q8_0VNNI(data *byte, rows int, nblocks int, xq *int8, dxv *float32, bias *int32, out *float32, stride int)
TEXT ·dotRows4Q8_0VNNI(SB), NOSPLIT, $0-64
	MOVQ data+0(FP), SI
	MOVQ out+48(FP), BX
	MOVQ stride+56(FP), R13
	MOVQ nblocks+16(FP), R11
	SHLQ $5, R11
	LEAQ (R11)(R11*2), R12
	MOVL $0x80808080, DX
	VPBROADCASTD DX, Z16
	LEAQ lanepair<>(SB), AX
	VMOVDQU64 (AX), Z11

q8frow:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ dxv+32(FP), R8
	MOVQ bias+40(FP), R9
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15

q8fpair:
	CMPQ CX, $2
	JLT  q8ftail
	VMOVDQU 2(SI), Y0
	VINSERTI64X4 $1, 36(SI), Z0, Z0
	VPXORD Z16, Z0, Z0
	MOVWLZX (SI), AX
	MOVWLZX 34(SI), DX
	SHLL $16, DX
	ORL  DX, AX
	VMOVD AX, X2
	VCVTPH2PS X2, X2
	VPERMPS Z2, Z11, Z2
	VMOVDQU32 (R9), Z1
	VPDPBUSD (DI), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8), Z1, Z1
	VFMADD231PS Z2, Z1, Z12
	VMOVDQU32 (R9)(R11*1), Z1
	VPDPBUSD (DI)(R11*1), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8)(R11*1), Z1, Z1
	VFMADD231PS Z2, Z1, Z13
	VMOVDQU32 (R9)(R11*2), Z1
	VPDPBUSD (DI)(R11*2), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8)(R11*2), Z1, Z1
	VFMADD231PS Z2, Z1, Z14
	VMOVDQU32 (R9)(R12*1), Z1
	VPDPBUSD (DI)(R12*1), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8)(R12*1), Z1, Z1
	VFMADD231PS Z2, Z1, Z15
	ADDQ $68, SI
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $64, R9
	SUBQ $2, CX
	JMP  q8fpair

q8ftail:
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y12
	VEXTRACTF64X4 $1, Z13, Y1
	VADDPS Y1, Y13, Y13
	VEXTRACTF64X4 $1, Z14, Y1
	VADDPS Y1, Y14, Y14
	VEXTRACTF64X4 $1, Z15, Y1
	VADDPS Y1, Y15, Y15
	TESTQ CX, CX
	JZ   q8fstore
	VMOVDQU 2(SI), Y0
	VPXORD Y16, Y0, Y0
	MOVWLZX (SI), DX
	VMOVD DX, X2
	VCVTPH2PS X2, X2
	VBROADCASTSS X2, Y2
	VMOVDQU (R9), Y1
	VPDPBUSD (DI), Y0, Y1
	VCVTDQ2PS Y1, Y1
	VMULPS (R8), Y1, Y1
	VFMADD231PS Y2, Y1, Y12
	VMOVDQU (R9)(R11*1), Y1
	VPDPBUSD (DI)(R11*1), Y0, Y1
	VCVTDQ2PS Y1, Y1
	VMULPS (R8)(R11*1), Y1, Y1
	VFMADD231PS Y2, Y1, Y13
	VMOVDQU (R9)(R11*2), Y1
	VPDPBUSD (DI)(R11*2), Y0, Y1
	VCVTDQ2PS Y1, Y1
	VMULPS (R8)(R11*2), Y1, Y1
	VFMADD231PS Y2, Y1, Y14
	VMOVDQU (R9)(R12*1), Y1
	VPDPBUSD (DI)(R12*1), Y0, Y1
	VCVTDQ2PS Y1, Y1
	VMULPS (R8)(R12*1), Y1, Y1
	VFMADD231PS Y2, Y1, Y15
	ADDQ $34, SI

q8fstore:
	HSUM8(Y12, X12)
	MOVSS X0, (BX)
	HSUM8(Y13, X13)
	MOVSS X0, (BX)(R13*1)
	HSUM8(Y14, X14)
	MOVSS X0, (BX)(R13*2)
	HSUM8(Y15, X15)
	LEAQ (BX)(R13*2), AX
	MOVSS X0, (AX)(R13*1)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  q8frow
	VZEROUPPER
	RET

// func dotRows4Q4_0VNNI(data *byte, rows int, nblocks int, xq *int8, dxv *float32, bias *int32, out *float32, stride int)
TEXT ·dotRows4Q4_0VNNI(SB), NOSPLIT, $0-64
	MOVQ data+0(FP), SI
	MOVQ out+48(FP), BX
	MOVQ stride+56(FP), R13
	MOVQ nblocks+16(FP), R11
	SHLQ $5, R11
	LEAQ (R11)(R11*2), R12
	MOVL $0x0f0f0f0f, DX
	VPBROADCASTD DX, Z16
	LEAQ lanepair<>(SB), AX
	VMOVDQU64 (AX), Z11

q4frow:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ dxv+32(FP), R8
	MOVQ bias+40(FP), R9
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15

q4fpair:
	CMPQ CX, $2
	JLT  q4ftail
	VMOVDQU 2(SI), X0
	VINSERTI128 $1, 20(SI), Y0, Y0
	VPSRLW $4, Y0, Y1
	VINSERTI64X4 $1, Y1, Z0, Z0
	VSHUFI64X2 $0xd8, Z0, Z0, Z0
	VPANDD Z16, Z0, Z0
	MOVWLZX (SI), AX
	MOVWLZX 18(SI), DX
	SHLL $16, DX
	ORL  DX, AX
	VMOVD AX, X2
	VCVTPH2PS X2, X2
	VPERMPS Z2, Z11, Z2
	VMOVDQU32 (R9), Z1
	VPDPBUSD (DI), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8), Z1, Z1
	VFMADD231PS Z2, Z1, Z12
	VMOVDQU32 (R9)(R11*1), Z1
	VPDPBUSD (DI)(R11*1), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8)(R11*1), Z1, Z1
	VFMADD231PS Z2, Z1, Z13
	VMOVDQU32 (R9)(R11*2), Z1
	VPDPBUSD (DI)(R11*2), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8)(R11*2), Z1, Z1
	VFMADD231PS Z2, Z1, Z14
	VMOVDQU32 (R9)(R12*1), Z1
	VPDPBUSD (DI)(R12*1), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8)(R12*1), Z1, Z1
	VFMADD231PS Z2, Z1, Z15
	ADDQ $36, SI
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $64, R9
	SUBQ $2, CX
	JMP  q4fpair

q4ftail:
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y12
	VEXTRACTF64X4 $1, Z13, Y1
	VADDPS Y1, Y13, Y13
	VEXTRACTF64X4 $1, Z14, Y1
	VADDPS Y1, Y14, Y14
	VEXTRACTF64X4 $1, Z15, Y1
	VADDPS Y1, Y15, Y15
	TESTQ CX, CX
	JZ   q4fstore
	VMOVDQU 2(SI), X0
	VPSRLW $4, X0, X1
	VINSERTI128 $1, X1, Y0, Y0
	VPANDD Y16, Y0, Y0
	MOVWLZX (SI), DX
	VMOVD DX, X2
	VCVTPH2PS X2, X2
	VBROADCASTSS X2, Y2
	VMOVDQU (R9), Y1
	VPDPBUSD (DI), Y0, Y1
	VCVTDQ2PS Y1, Y1
	VMULPS (R8), Y1, Y1
	VFMADD231PS Y2, Y1, Y12
	VMOVDQU (R9)(R11*1), Y1
	VPDPBUSD (DI)(R11*1), Y0, Y1
	VCVTDQ2PS Y1, Y1
	VMULPS (R8)(R11*1), Y1, Y1
	VFMADD231PS Y2, Y1, Y13
	VMOVDQU (R9)(R11*2), Y1
	VPDPBUSD (DI)(R11*2), Y0, Y1
	VCVTDQ2PS Y1, Y1
	VMULPS (R8)(R11*2), Y1, Y1
	VFMADD231PS Y2, Y1, Y14
	VMOVDQU (R9)(R12*1), Y1
	VPDPBUSD (DI)(R12*1), Y0, Y1
	VCVTDQ2PS Y1, Y1
	VMULPS (R8)(R12*1), Y1, Y1
	VFMADD231PS Y2, Y1, Y15
	ADDQ $18, SI

q4fstore:
	HSUM8(Y12, X12)
	MOVSS X0, (BX)
	HSUM8(Y13, X13)
	MOVSS X0, (BX)(R13*1)
	HSUM8(Y14, X14)
	MOVSS X0, (BX)(R13*2)
	HSUM8(Y15, X15)
	LEAQ (BX)(R13*2), AX
	MOVSS X0, (AX)(R13*1)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  q4frow
	VZEROUPPER
	RET

// func dotRows4Q5_0VNNI(data *byte, rows int, nblocks int, xq *int8, dxv *float32, bias *int32, out *float32, stride int)
TEXT ·dotRows4Q5_0VNNI(SB), NOSPLIT, $0-64
	MOVQ data+0(FP), SI
	MOVQ out+48(FP), BX
	MOVQ stride+56(FP), R13
	MOVQ nblocks+16(FP), R11
	SHLQ $5, R11
	LEAQ (R11)(R11*2), R12
	MOVL $0x0f0f0f0f, DX
	VPBROADCASTD DX, Z16
	MOVL $0x10101010, DX
	VPBROADCASTD DX, Z17
	LEAQ lanepair<>(SB), AX
	VMOVDQU64 (AX), Z11

q5frow:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ dxv+32(FP), R8
	MOVQ bias+40(FP), R9
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15

q5fpair:
	CMPQ CX, $2
	JLT  q5ftail
	VMOVDQU 6(SI), X0
	VINSERTI128 $1, 28(SI), Y0, Y0
	VPSRLW $4, Y0, Y1
	VINSERTI64X4 $1, Y1, Z0, Z0
	VSHUFI64X2 $0xd8, Z0, Z0, Z0
	VPANDD Z16, Z0, Z0
	MOVL 2(SI), AX
	MOVL 24(SI), DX
	SHLQ $32, DX
	ORQ DX, AX
	KMOVQ AX, K1
	VPMOVM2B K1, Z3
	VPANDD Z17, Z3, Z3
	VPORD Z3, Z0, Z0
	MOVWLZX (SI), AX
	MOVWLZX 22(SI), DX
	SHLL $16, DX
	ORL  DX, AX
	VMOVD AX, X2
	VCVTPH2PS X2, X2
	VPERMPS Z2, Z11, Z2
	VMOVDQU32 (R9), Z1
	VPDPBUSD (DI), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8), Z1, Z1
	VFMADD231PS Z2, Z1, Z12
	VMOVDQU32 (R9)(R11*1), Z1
	VPDPBUSD (DI)(R11*1), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8)(R11*1), Z1, Z1
	VFMADD231PS Z2, Z1, Z13
	VMOVDQU32 (R9)(R11*2), Z1
	VPDPBUSD (DI)(R11*2), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8)(R11*2), Z1, Z1
	VFMADD231PS Z2, Z1, Z14
	VMOVDQU32 (R9)(R12*1), Z1
	VPDPBUSD (DI)(R12*1), Z0, Z1
	VCVTDQ2PS Z1, Z1
	VMULPS (R8)(R12*1), Z1, Z1
	VFMADD231PS Z2, Z1, Z15
	ADDQ $44, SI
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $64, R9
	SUBQ $2, CX
	JMP  q5fpair

q5ftail:
	VEXTRACTF64X4 $1, Z12, Y1
	VADDPS Y1, Y12, Y12
	VEXTRACTF64X4 $1, Z13, Y1
	VADDPS Y1, Y13, Y13
	VEXTRACTF64X4 $1, Z14, Y1
	VADDPS Y1, Y14, Y14
	VEXTRACTF64X4 $1, Z15, Y1
	VADDPS Y1, Y15, Y15
	TESTQ CX, CX
	JZ   q5fstore
	VMOVDQU 6(SI), X0
	VPSRLW $4, X0, X1
	VINSERTI128 $1, X1, Y0, Y0
	VPANDD Y16, Y0, Y0
	KMOVD 2(SI), K1
	VPMOVM2B K1, Y3
	VPANDD Y17, Y3, Y3
	VPOR Y3, Y0, Y0
	MOVWLZX (SI), DX
	VMOVD DX, X2
	VCVTPH2PS X2, X2
	VBROADCASTSS X2, Y2
	VMOVDQU (R9), Y1
	VPDPBUSD (DI), Y0, Y1
	VCVTDQ2PS Y1, Y1
	VMULPS (R8), Y1, Y1
	VFMADD231PS Y2, Y1, Y12
	VMOVDQU (R9)(R11*1), Y1
	VPDPBUSD (DI)(R11*1), Y0, Y1
	VCVTDQ2PS Y1, Y1
	VMULPS (R8)(R11*1), Y1, Y1
	VFMADD231PS Y2, Y1, Y13
	VMOVDQU (R9)(R11*2), Y1
	VPDPBUSD (DI)(R11*2), Y0, Y1
	VCVTDQ2PS Y1, Y1
	VMULPS (R8)(R11*2), Y1, Y1
	VFMADD231PS Y2, Y1, Y14
	VMOVDQU (R9)(R12*1), Y1
	VPDPBUSD (DI)(R12*1), Y0, Y1
	VCVTDQ2PS Y1, Y1
	VMULPS (R8)(R12*1), Y1, Y1
	VFMADD231PS Y2, Y1, Y15
	ADDQ $22, SI

q5fstore:
	HSUM8(Y12, X12)
	MOVSS X0, (BX)
	HSUM8(Y13, X13)
	MOVSS X0, (BX)(R13*1)
	HSUM8(Y14, X14)
	MOVSS X0, (BX)(R13*2)
	HSUM8(Y15, X15)
	LEAQ (BX)(R13*2), AX
	MOVSS X0, (AX)(R13*1)
	ADDQ $4, BX
	DECQ rows+8(FP)
	JNZ  q5frow
	VZEROUPPER
	RET
