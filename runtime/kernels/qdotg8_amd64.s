//go:build amd64

#include "textflag.h"

// The eight-activation prefill kernels for Q8_0 and Q4_0. A group of
// eight weight blocks is loaded once per row as two registers per four
// blocks (the first 16 values of each block in the four 128-bit lanes of
// one register, the last 16 in another), and their quadwords are
// interleaved by VPUNPCKLQDQ/VPUNPCKHQDQ into four registers whose dword
// lanes 4c and 4c+1 belong to block c and lanes 4c+2 and 4c+3 to block
// c+4. Eight activations, each quantised by act32g8 in the same order and
// interleaved by interleave8O8 with their block scales spread over the
// lanes, meet them: per activation and group, four VPDPBUSDs add 16 codes
// of one block to each lane, and one bias load, one conversion, one
// VMULPS and one FMA serve all 256 codes (the four-activation kernels
// spend those on every 64). The eight accumulators are reduced together
// by a transposing tree and stored to out + a·stride bytes for activation
// a.

// G8CLEAR zeroes the accumulators Z16-Z23.
#define G8CLEAR \
	VXORPS Z16, Z16, Z16; \
	VXORPS Z17, Z17, Z17; \
	VXORPS Z18, Z18, Z18; \
	VXORPS Z19, Z19, Z19; \
	VXORPS Z20, Z20, Z20; \
	VXORPS Z21, Z21, Z21; \
	VXORPS Z22, Z22, Z22; \
	VXORPS Z23, Z23, Z23

// G8STORE sums each of Z16-Z23 (activations 0-7) and stores activation
// a's sum at BX + a·R13, then moves BX on by one float: a transposing tree
// (halves, then quarters, then within 128-bit lanes) that leaves sum a in
// dword 0 of lane a for a < 4 and dword 2 of lane a-4 for the rest. It
// clobbers AX, DX and Z24-Z31.
#define G8STORE \
	VSHUFF64X2 $0x44, Z17, Z16, Z24; \
	VSHUFF64X2 $0xEE, Z17, Z16, Z25; \
	VADDPS Z25, Z24, Z24; \
	VSHUFF64X2 $0x44, Z19, Z18, Z25; \
	VSHUFF64X2 $0xEE, Z19, Z18, Z26; \
	VADDPS Z26, Z25, Z25; \
	VSHUFF64X2 $0x44, Z21, Z20, Z26; \
	VSHUFF64X2 $0xEE, Z21, Z20, Z27; \
	VADDPS Z27, Z26, Z26; \
	VSHUFF64X2 $0x44, Z23, Z22, Z27; \
	VSHUFF64X2 $0xEE, Z23, Z22, Z28; \
	VADDPS Z28, Z27, Z27; \
	VSHUFF64X2 $0x88, Z25, Z24, Z28; \
	VSHUFF64X2 $0xDD, Z25, Z24, Z29; \
	VADDPS Z29, Z28, Z28; \
	VSHUFF64X2 $0x88, Z27, Z26, Z29; \
	VSHUFF64X2 $0xDD, Z27, Z26, Z30; \
	VADDPS Z30, Z29, Z29; \
	VSHUFPS $0x44, Z29, Z28, Z30; \
	VSHUFPS $0xEE, Z29, Z28, Z31; \
	VADDPS Z31, Z30, Z30; \
	VSHUFPS $0xB1, Z30, Z30, Z31; \
	VADDPS Z31, Z30, Z30; \
	MOVQ BX, AX; \
	LEAQ (BX)(R13*4), DX; \
	VMOVSS X30, (AX); \
	VEXTRACTPS $2, X30, (DX); \
	VEXTRACTF32X4 $1, Z30, X31; \
	VMOVSS X31, (AX)(R13*1); \
	VEXTRACTPS $2, X31, (DX)(R13*1); \
	VEXTRACTF32X4 $2, Z30, X31; \
	VMOVSS X31, (AX)(R13*2); \
	VEXTRACTPS $2, X31, (DX)(R13*2); \
	VEXTRACTF32X4 $3, Z30, X31; \
	LEAQ (AX)(R13*2), AX; \
	LEAQ (DX)(R13*2), DX; \
	VMOVSS X31, (AX)(R13*1); \
	VEXTRACTPS $2, X31, (DX)(R13*1); \
	ADDQ $4, BX

// o8lanes spreads element b of eight floats over the dwords of block b:
// 4c and 4c+1 for block c, 4c+2 and 4c+3 for block c+4 (c < 4).
DATA o8lanes<>+0(SB)/8, $0
DATA o8lanes<>+8(SB)/8, $0x0000000400000004
DATA o8lanes<>+16(SB)/8, $0x0000000100000001
DATA o8lanes<>+24(SB)/8, $0x0000000500000005
DATA o8lanes<>+32(SB)/8, $0x0000000200000002
DATA o8lanes<>+40(SB)/8, $0x0000000600000006
DATA o8lanes<>+48(SB)/8, $0x0000000300000003
DATA o8lanes<>+56(SB)/8, $0x0000000700000007
GLOBL o8lanes<>(SB), RODATA|NOPTR, $64

// h8lanes spreads element b of four floats over dwords 4b..4b+3, for the
// last group of a row when it has one to four blocks.
DATA h8lanes<>+0(SB)/8, $0
DATA h8lanes<>+8(SB)/8, $0
DATA h8lanes<>+16(SB)/8, $0x0000000100000001
DATA h8lanes<>+24(SB)/8, $0x0000000100000001
DATA h8lanes<>+32(SB)/8, $0x0000000200000002
DATA h8lanes<>+40(SB)/8, $0x0000000200000002
DATA h8lanes<>+48(SB)/8, $0x0000000300000003
DATA h8lanes<>+56(SB)/8, $0x0000000300000003
GLOBL h8lanes<>(SB), RODATA|NOPTR, $64

// H8ACT is O8ACT for a last group of one to four blocks, stored by
// act32g8 as two runs (values 0-15 of each block, then 16-31): the
// unsigned weight codes are in Z0 and Z1, two VPDPBUSDs.
#define H8ACT(i, acc, t0, t1) \
	VMULPS (64*i)(R10), Z2, t0; \
	VMOVDQU32 (64*i)(R9), t1; \
	VPDPBUSD (256*i)(DI), Z0, t1; \
	VPDPBUSD (256*i+64)(DI), Z1, t1; \
	VCVTDQ2PS t1, t1; \
	VFMADD231PS t0, t1, acc

// H8ALL runs H8ACT for the eight activations after spreading the four
// float16 weight scales in X2 over Z2.
#define H8ALL \
	LEAQ h8lanes<>(SB), AX; \
	VMOVDQU64 (AX), Z13; \
	VCVTPH2PS X2, X2; \
	VPERMPS Z2, Z13, Z2; \
	H8ACT(0, Z16, Z3, Z4); \
	H8ACT(1, Z17, Z5, Z6); \
	H8ACT(2, Z18, Z7, Z8); \
	H8ACT(3, Z19, Z9, Z10); \
	H8ACT(4, Z20, Z3, Z4); \
	H8ACT(5, Z21, Z5, Z6); \
	H8ACT(6, Z22, Z7, Z8); \
	H8ACT(7, Z23, Z9, Z10)

// O8ACT adds activation i's share of the group whose unsigned weight
// codes are in Z14, Z0, Z1 and Z12 (in the activation's order) and whose
// spread float32 weight scales are in Z2 to acc: its 256 codes at
// 256i(DI), 16 biases at 64i(R9), 16 spread scales at 64i(R10).
#define O8ACT(i, acc, t0, t1) \
	VMULPS (64*i)(R10), Z2, t0; \
	VMOVDQU32 (64*i)(R9), t1; \
	VPDPBUSD (256*i)(DI), Z14, t1; \
	VPDPBUSD (256*i+64)(DI), Z0, t1; \
	VPDPBUSD (256*i+128)(DI), Z1, t1; \
	VPDPBUSD (256*i+192)(DI), Z12, t1; \
	VCVTDQ2PS t1, t1; \
	VFMADD231PS t0, t1, acc

// O8ACTS runs O8ACT for the eight activations into Z16-Z23 and moves DI,
// R9 and R10 to the next group.
#define O8ACTS \
	O8ACT(0, Z16, Z3, Z4); \
	O8ACT(1, Z17, Z5, Z6); \
	O8ACT(2, Z18, Z7, Z8); \
	O8ACT(3, Z19, Z9, Z10); \
	O8ACT(4, Z20, Z3, Z4); \
	O8ACT(5, Z21, Z5, Z6); \
	O8ACT(6, Z22, Z7, Z8); \
	O8ACT(7, Z23, Z9, Z10); \
	ADDQ $2048, DI; \
	ADDQ $512, R9; \
	ADDQ $512, R10

// O8ALL is O8ACTS after spreading the eight float16 weight scales in X2
// over Z2.
#define O8ALL \
	VCVTPH2PS X2, Y2; \
	VPERMPS Z2, Z11, Z2; \
	O8ACTS

// Q80O8MIX turns the code registers of blocks 0-3 (Z0: values 0-15, Z1:
// 16-31) and 4-7 (Z12, Z13) into O8ACT's four unsigned registers.
#define Q80O8MIX \
	VPUNPCKLQDQ Z12, Z0, Z14; \
	VPUNPCKHQDQ Z12, Z0, Z0; \
	VPUNPCKHQDQ Z13, Z1, Z12; \
	VPUNPCKLQDQ Z13, Z1, Z1; \
	VPXORD Z15, Z14, Z14; \
	VPXORD Z15, Z0, Z0; \
	VPXORD Z15, Z1, Z1; \
	VPXORD Z15, Z12, Z12

// The two-row form of dotRows8Q4_0O8VNNI: each activation's 256 codes,
// 16 biases and 16 spread scales are loaded once for two weight rows,
// whose accumulators are Z16-Z23 and Z24-Z31. With one row at a time the
// kernel is bound by its loads (six 512-bit loads per activation, row and
// group against four VPDPBUSDs); two rows halve them.

// G8STORE0 and G8STORE1 are G8STORE for the accumulators Z16-Z23 and
// Z24-Z31, with Z0-Z7 as scratch.
#define G8STORE0 \
	VSHUFF64X2 $0x44, Z17, Z16, Z0; \
	VSHUFF64X2 $0xEE, Z17, Z16, Z1; \
	VADDPS Z1, Z0, Z0; \
	VSHUFF64X2 $0x44, Z19, Z18, Z1; \
	VSHUFF64X2 $0xEE, Z19, Z18, Z2; \
	VADDPS Z2, Z1, Z1; \
	VSHUFF64X2 $0x44, Z21, Z20, Z2; \
	VSHUFF64X2 $0xEE, Z21, Z20, Z3; \
	VADDPS Z3, Z2, Z2; \
	VSHUFF64X2 $0x44, Z23, Z22, Z3; \
	VSHUFF64X2 $0xEE, Z23, Z22, Z4; \
	VADDPS Z4, Z3, Z3; \
	VSHUFF64X2 $0x88, Z1, Z0, Z4; \
	VSHUFF64X2 $0xDD, Z1, Z0, Z5; \
	VADDPS Z5, Z4, Z4; \
	VSHUFF64X2 $0x88, Z3, Z2, Z5; \
	VSHUFF64X2 $0xDD, Z3, Z2, Z6; \
	VADDPS Z6, Z5, Z5; \
	VSHUFPS $0x44, Z5, Z4, Z6; \
	VSHUFPS $0xEE, Z5, Z4, Z7; \
	VADDPS Z7, Z6, Z6; \
	VSHUFPS $0xB1, Z6, Z6, Z7; \
	VADDPS Z7, Z6, Z6; \
	MOVQ BX, AX; \
	LEAQ (BX)(R13*4), DX; \
	VMOVSS X6, (AX); \
	VEXTRACTPS $2, X6, (DX); \
	VEXTRACTF32X4 $1, Z6, X7; \
	VMOVSS X7, (AX)(R13*1); \
	VEXTRACTPS $2, X7, (DX)(R13*1); \
	VEXTRACTF32X4 $2, Z6, X7; \
	VMOVSS X7, (AX)(R13*2); \
	VEXTRACTPS $2, X7, (DX)(R13*2); \
	VEXTRACTF32X4 $3, Z6, X7; \
	LEAQ (AX)(R13*2), AX; \
	LEAQ (DX)(R13*2), DX; \
	VMOVSS X7, (AX)(R13*1); \
	VEXTRACTPS $2, X7, (DX)(R13*1); \
	ADDQ $4, BX

#define G8STORE1 \
	VSHUFF64X2 $0x44, Z25, Z24, Z0; \
	VSHUFF64X2 $0xEE, Z25, Z24, Z1; \
	VADDPS Z1, Z0, Z0; \
	VSHUFF64X2 $0x44, Z27, Z26, Z1; \
	VSHUFF64X2 $0xEE, Z27, Z26, Z2; \
	VADDPS Z2, Z1, Z1; \
	VSHUFF64X2 $0x44, Z29, Z28, Z2; \
	VSHUFF64X2 $0xEE, Z29, Z28, Z3; \
	VADDPS Z3, Z2, Z2; \
	VSHUFF64X2 $0x44, Z31, Z30, Z3; \
	VSHUFF64X2 $0xEE, Z31, Z30, Z4; \
	VADDPS Z4, Z3, Z3; \
	VSHUFF64X2 $0x88, Z1, Z0, Z4; \
	VSHUFF64X2 $0xDD, Z1, Z0, Z5; \
	VADDPS Z5, Z4, Z4; \
	VSHUFF64X2 $0x88, Z3, Z2, Z5; \
	VSHUFF64X2 $0xDD, Z3, Z2, Z6; \
	VADDPS Z6, Z5, Z5; \
	VSHUFPS $0x44, Z5, Z4, Z6; \
	VSHUFPS $0xEE, Z5, Z4, Z7; \
	VADDPS Z7, Z6, Z6; \
	VSHUFPS $0xB1, Z6, Z6, Z7; \
	VADDPS Z7, Z6, Z6; \
	MOVQ BX, AX; \
	LEAQ (BX)(R13*4), DX; \
	VMOVSS X6, (AX); \
	VEXTRACTPS $2, X6, (DX); \
	VEXTRACTF32X4 $1, Z6, X7; \
	VMOVSS X7, (AX)(R13*1); \
	VEXTRACTPS $2, X7, (DX)(R13*1); \
	VEXTRACTF32X4 $2, Z6, X7; \
	VMOVSS X7, (AX)(R13*2); \
	VEXTRACTPS $2, X7, (DX)(R13*2); \
	VEXTRACTF32X4 $3, Z6, X7; \
	LEAQ (AX)(R13*2), AX; \
	LEAQ (DX)(R13*2), DX; \
	VMOVSS X7, (AX)(R13*1); \
	VEXTRACTPS $2, X7, (DX)(R13*1); \
	ADDQ $4, BX

// Q40X2MIX turns the code bytes of blocks 0-3 (a) and 4-7 (b) of a group
// into O8ACT's four unsigned registers, o0-o3 (o2 and o3 may be a and b).
// It clobbers t0 and t1.
#define Q40X2MIX(a, b, t0, t1, o0, o1, o2, o3) \
	VPSRLW $4, a, t0; \
	VPSRLW $4, b, t1; \
	VPANDD Z15, a, a; \
	VPANDD Z15, b, b; \
	VPANDD Z15, t0, t0; \
	VPANDD Z15, t1, t1; \
	VPUNPCKLQDQ b, a, o0; \
	VPUNPCKHQDQ b, a, o1; \
	VPUNPCKLQDQ t1, t0, o2; \
	VPUNPCKHQDQ t1, t0, o3

// Q40X2LOAD loads the group of eight block_q4_0 records at off(SI)(R8*k)
// (row 0 with k = 0 as 0(SI), row 1 as the next row): code bytes of blocks
// 0-3 in a, 4-7 in b, the eight float16 scales in the words of xs.
#define Q40X2LOAD(base, a, b, xa, xb, xs) \
	VMOVDQU 2 base, xa; \
	VINSERTI32X4 $1, 20 base, a, a; \
	VINSERTI32X4 $2, 38 base, a, a; \
	VINSERTI32X4 $3, 56 base, a, a; \
	VMOVDQU 74 base, xb; \
	VINSERTI32X4 $1, 92 base, b, b; \
	VINSERTI32X4 $2, 110 base, b, b; \
	VINSERTI32X4 $3, 128 base, b, b; \
	MOVWLZX base, AX; \
	VMOVD AX, xs; \
	VPINSRW $1, 18 base, xs, xs; \
	VPINSRW $2, 36 base, xs, xs; \
	VPINSRW $3, 54 base, xs, xs; \
	VPINSRW $4, 72 base, xs, xs; \
	VPINSRW $5, 90 base, xs, xs; \
	VPINSRW $6, 108 base, xs, xs; \
	VPINSRW $7, 126 base, xs, xs

// O8X2ACT adds activation i's share of the group to the two rows'
// accumulators acc0 and acc1: row 0's codes in Z2, Z3, Z0, Z1 and spread
// weight scales in Z8, row 1's in Z6, Z7, Z4, Z5 and Z9. It clobbers
// Z10-Z13.
#define O8X2ACT(i, acc0, acc1) \
	VMOVDQU32 (64*i)(R9), Z11; \
	VMOVDQA32 Z11, Z12; \
	VMOVDQU64 (256*i)(DI), Z13; \
	VPDPBUSD Z13, Z2, Z12; \
	VPDPBUSD Z13, Z6, Z11; \
	VMOVDQU64 (256*i+64)(DI), Z13; \
	VPDPBUSD Z13, Z3, Z12; \
	VPDPBUSD Z13, Z7, Z11; \
	VMOVDQU64 (256*i+128)(DI), Z13; \
	VPDPBUSD Z13, Z0, Z12; \
	VPDPBUSD Z13, Z4, Z11; \
	VMOVDQU64 (256*i+192)(DI), Z13; \
	VPDPBUSD Z13, Z1, Z12; \
	VPDPBUSD Z13, Z5, Z11; \
	VCVTDQ2PS Z12, Z12; \
	VCVTDQ2PS Z11, Z11; \
	VMOVUPS (64*i)(R10), Z10; \
	VMULPS Z10, Z8, Z13; \
	VFMADD231PS Z13, Z12, acc0; \
	VMULPS Z10, Z9, Z10; \
	VFMADD231PS Z10, Z11, acc1

// func dotRows8x2Q4_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int)
//
// dotRows8Q4_0O8VNNI with a negative rows (each row's whole groups of
// eight blocks only), two rows at a time: rows is even and positive.
TEXT ·dotRows8x2Q4_0O8VNNI(SB), NOSPLIT, $0-64
	MOVQ data+0(FP), SI
	MOVQ out+48(FP), BX
	MOVQ stride+56(FP), R13
	MOVQ nblocks+16(FP), R8
	IMULQ $18, R8
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	LEAQ o8lanes<>(SB), AX
	VMOVDQU64 (AX), Z14

x2pair:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xs+32(FP), R10
	MOVQ bias+40(FP), R9
	G8CLEAR
	VXORPS Z24, Z24, Z24
	VXORPS Z25, Z25, Z25
	VXORPS Z26, Z26, Z26
	VXORPS Z27, Z27, Z27
	VXORPS Z28, Z28, Z28
	VXORPS Z29, Z29, Z29
	VXORPS Z30, Z30, Z30
	VXORPS Z31, Z31, Z31

x2oct:
	CMPQ CX, $8
	JLT  x2next
	Q40X2LOAD((SI), Z0, Z1, X0, X1, X8)
	Q40X2LOAD((SI)(R8*1), Z4, Z5, X4, X5, X9)
	Q40X2MIX(Z0, Z1, Z10, Z11, Z2, Z3, Z0, Z1)
	Q40X2MIX(Z4, Z5, Z10, Z11, Z6, Z7, Z4, Z5)
	VCVTPH2PS X8, Y8
	VPERMPS Z8, Z14, Z8
	VCVTPH2PS X9, Y9
	VPERMPS Z9, Z14, Z9
	O8X2ACT(0, Z16, Z24)
	O8X2ACT(1, Z17, Z25)
	O8X2ACT(2, Z18, Z26)
	O8X2ACT(3, Z19, Z27)
	O8X2ACT(4, Z20, Z28)
	O8X2ACT(5, Z21, Z29)
	O8X2ACT(6, Z22, Z30)
	O8X2ACT(7, Z23, Z31)
	ADDQ $144, SI
	ADDQ $2048, DI
	ADDQ $512, R9
	ADDQ $512, R10
	SUBQ $8, CX
	JMP  x2oct

x2next:
	// Past the rest of row 0 and the whole of row 1.
	IMULQ $18, CX
	ADDQ CX, SI
	ADDQ R8, SI
	G8STORE0
	G8STORE1
	SUBQ $2, rows+8(FP)
	JNZ  x2pair
	VZEROUPPER
	RET

// Q80X2LOAD loads the group of eight block_q8_0 records at base: the
// first and last 16 codes of blocks 0-3 in a and b, of blocks 4-7 in c and
// d (lane b: block b's or b+4's), the eight float16 scales in the words of
// xs.
#define Q80X2LOAD(base, a, b, c, d, xa, xb, xc, xd, xs) \
	VMOVDQU 2 base, xa; \
	VINSERTI32X4 $1, 36 base, a, a; \
	VINSERTI32X4 $2, 70 base, a, a; \
	VINSERTI32X4 $3, 104 base, a, a; \
	VMOVDQU 18 base, xb; \
	VINSERTI32X4 $1, 52 base, b, b; \
	VINSERTI32X4 $2, 86 base, b, b; \
	VINSERTI32X4 $3, 120 base, b, b; \
	VMOVDQU 138 base, xc; \
	VINSERTI32X4 $1, 172 base, c, c; \
	VINSERTI32X4 $2, 206 base, c, c; \
	VINSERTI32X4 $3, 240 base, c, c; \
	VMOVDQU 154 base, xd; \
	VINSERTI32X4 $1, 188 base, d, d; \
	VINSERTI32X4 $2, 222 base, d, d; \
	VINSERTI32X4 $3, 256 base, d, d; \
	MOVWLZX base, AX; \
	VMOVD AX, xs; \
	VPINSRW $1, 34 base, xs, xs; \
	VPINSRW $2, 68 base, xs, xs; \
	VPINSRW $3, 102 base, xs, xs; \
	VPINSRW $4, 136 base, xs, xs; \
	VPINSRW $5, 170 base, xs, xs; \
	VPINSRW $6, 204 base, xs, xs; \
	VPINSRW $7, 238 base, xs, xs

// Q80X2MIX turns Q80X2LOAD's registers into O8X2ACT's order, made
// unsigned (Z15: bytes 0x80): c, d, a, b become the codes at offsets 0,
// 64, 128 and 192 of the activation's 256. It clobbers Z10 and Z11.
#define Q80X2MIX(a, b, c, d) \
	VPUNPCKLQDQ c, a, Z10; \
	VPUNPCKHQDQ c, a, Z11; \
	VPUNPCKLQDQ d, b, a; \
	VPUNPCKHQDQ d, b, b; \
	VPXORD Z15, Z10, c; \
	VPXORD Z15, Z11, d; \
	VPXORD Z15, a, a; \
	VPXORD Z15, b, b

// func dotRows8x2Q8_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int)
//
// dotRows8Q8_0O8VNNI with a negative rows (each row's whole groups of
// eight blocks only), two rows at a time: rows is even and positive.
TEXT ·dotRows8x2Q8_0O8VNNI(SB), NOSPLIT, $0-64
	MOVQ data+0(FP), SI
	MOVQ out+48(FP), BX
	MOVQ stride+56(FP), R13
	MOVQ nblocks+16(FP), R8
	IMULQ $34, R8
	MOVL $0x80808080, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	LEAQ o8lanes<>(SB), AX
	VMOVDQU64 (AX), Z14

y2pair:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xs+32(FP), R10
	MOVQ bias+40(FP), R9
	G8CLEAR
	VXORPS Z24, Z24, Z24
	VXORPS Z25, Z25, Z25
	VXORPS Z26, Z26, Z26
	VXORPS Z27, Z27, Z27
	VXORPS Z28, Z28, Z28
	VXORPS Z29, Z29, Z29
	VXORPS Z30, Z30, Z30
	VXORPS Z31, Z31, Z31

y2oct:
	CMPQ CX, $8
	JLT  y2next
	Q80X2LOAD((SI), Z0, Z1, Z2, Z3, X0, X1, X2, X3, X8)
	Q80X2LOAD((SI)(R8*1), Z4, Z5, Z6, Z7, X4, X5, X6, X7, X9)
	Q80X2MIX(Z0, Z1, Z2, Z3)
	Q80X2MIX(Z4, Z5, Z6, Z7)
	VCVTPH2PS X8, Y8
	VPERMPS Z8, Z14, Z8
	VCVTPH2PS X9, Y9
	VPERMPS Z9, Z14, Z9
	O8X2ACT(0, Z16, Z24)
	O8X2ACT(1, Z17, Z25)
	O8X2ACT(2, Z18, Z26)
	O8X2ACT(3, Z19, Z27)
	O8X2ACT(4, Z20, Z28)
	O8X2ACT(5, Z21, Z29)
	O8X2ACT(6, Z22, Z30)
	O8X2ACT(7, Z23, Z31)
	ADDQ $272, SI
	ADDQ $2048, DI
	ADDQ $512, R9
	ADDQ $512, R10
	SUBQ $8, CX
	JMP  y2oct

y2next:
	// Past the rest of row 0 and the whole of row 1.
	IMULQ $34, CX
	ADDQ CX, SI
	ADDQ R8, SI
	G8STORE0
	G8STORE1
	SUBQ $2, rows+8(FP)
	JNZ  y2pair
	VZEROUPPER
	RET

// func dotRows8Q8_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int)
TEXT ·dotRows8Q8_0O8VNNI(SB), NOSPLIT, $0-64
	// A negative rows skips each row's last one to four blocks (R12 = 1),
	// as in dotRows8Q4_0O8VNNI, for dotTail4Q8_0O8VNNI.
	XORQ R12, R12
	MOVQ rows+8(FP), AX
	TESTQ AX, AX
	JGE  p8pos
	NEGQ AX
	MOVQ AX, rows+8(FP)
	MOVQ $1, R12

p8pos:
	MOVQ data+0(FP), SI
	MOVQ out+48(FP), BX
	MOVQ stride+56(FP), R13
	MOVL $0x80808080, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	LEAQ o8lanes<>(SB), AX
	VMOVDQU64 (AX), Z11

p8row:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xs+32(FP), R10
	MOVQ bias+40(FP), R9
	G8CLEAR

p8oct:
	CMPQ CX, $8
	JLT  p8tail
	VMOVDQU 2(SI), X0
	VINSERTI32X4 $1, 36(SI), Z0, Z0
	VINSERTI32X4 $2, 70(SI), Z0, Z0
	VINSERTI32X4 $3, 104(SI), Z0, Z0
	VMOVDQU 18(SI), X1
	VINSERTI32X4 $1, 52(SI), Z1, Z1
	VINSERTI32X4 $2, 86(SI), Z1, Z1
	VINSERTI32X4 $3, 120(SI), Z1, Z1
	VMOVDQU 138(SI), X12
	VINSERTI32X4 $1, 172(SI), Z12, Z12
	VINSERTI32X4 $2, 206(SI), Z12, Z12
	VINSERTI32X4 $3, 240(SI), Z12, Z12
	VMOVDQU 154(SI), X13
	VINSERTI32X4 $1, 188(SI), Z13, Z13
	VINSERTI32X4 $2, 222(SI), Z13, Z13
	VINSERTI32X4 $3, 256(SI), Z13, Z13
	MOVWLZX (SI), AX
	VMOVD AX, X2
	VPINSRW $1, 34(SI), X2, X2
	VPINSRW $2, 68(SI), X2, X2
	VPINSRW $3, 102(SI), X2, X2
	VPINSRW $4, 136(SI), X2, X2
	VPINSRW $5, 170(SI), X2, X2
	VPINSRW $6, 204(SI), X2, X2
	VPINSRW $7, 238(SI), X2, X2
	Q80O8MIX
	O8ALL
	ADDQ $272, SI
	SUBQ $8, CX
	JMP  p8oct

p8tail:
	// One to seven blocks left: the missing blocks' codes are zero, their
	// weight scales 0, and they meet zero activation codes, biases and
	// scales, so they add exactly nothing. Up to four take the two-run
	// form.
	TESTQ CX, CX
	JZ   p8store
	TESTQ R12, R12
	JZ   p8notskip
	IMULQ $34, CX
	ADDQ CX, SI
	JMP  p8store

p8notskip:
	CMPQ CX, $4
	JGT  p8tail8
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXOR X2, X2, X2
	VINSERTI32X4 $0, 2(SI), Z0, Z0
	VINSERTI32X4 $0, 18(SI), Z1, Z1
	VPINSRW $0, (SI), X2, X2
	CMPQ CX, $1
	JEQ  p8half
	VINSERTI32X4 $1, 36(SI), Z0, Z0
	VINSERTI32X4 $1, 52(SI), Z1, Z1
	VPINSRW $1, 34(SI), X2, X2
	CMPQ CX, $2
	JEQ  p8half
	VINSERTI32X4 $2, 70(SI), Z0, Z0
	VINSERTI32X4 $2, 86(SI), Z1, Z1
	VPINSRW $2, 68(SI), X2, X2
	CMPQ CX, $3
	JEQ  p8half
	VINSERTI32X4 $3, 104(SI), Z0, Z0
	VINSERTI32X4 $3, 120(SI), Z1, Z1
	VPINSRW $3, 102(SI), X2, X2

p8half:
	VPXORD Z15, Z0, Z0
	VPXORD Z15, Z1, Z1
	H8ALL
	IMULQ $34, CX
	ADDQ CX, SI
	JMP  p8store

p8tail8:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXOR X2, X2, X2
	VINSERTI32X4 $0, 2(SI), Z0, Z0
	VINSERTI32X4 $0, 18(SI), Z1, Z1
	VPINSRW $0, (SI), X2, X2
	CMPQ CX, $1
	JEQ  p8last
	VINSERTI32X4 $1, 36(SI), Z0, Z0
	VINSERTI32X4 $1, 52(SI), Z1, Z1
	VPINSRW $1, 34(SI), X2, X2
	CMPQ CX, $2
	JEQ  p8last
	VINSERTI32X4 $2, 70(SI), Z0, Z0
	VINSERTI32X4 $2, 86(SI), Z1, Z1
	VPINSRW $2, 68(SI), X2, X2
	CMPQ CX, $3
	JEQ  p8last
	VINSERTI32X4 $3, 104(SI), Z0, Z0
	VINSERTI32X4 $3, 120(SI), Z1, Z1
	VPINSRW $3, 102(SI), X2, X2
	CMPQ CX, $4
	JEQ  p8last
	VINSERTI32X4 $0, 138(SI), Z12, Z12
	VINSERTI32X4 $0, 154(SI), Z13, Z13
	VPINSRW $4, 136(SI), X2, X2
	CMPQ CX, $5
	JEQ  p8last
	VINSERTI32X4 $1, 172(SI), Z12, Z12
	VINSERTI32X4 $1, 188(SI), Z13, Z13
	VPINSRW $5, 170(SI), X2, X2
	CMPQ CX, $6
	JEQ  p8last
	VINSERTI32X4 $2, 206(SI), Z12, Z12
	VINSERTI32X4 $2, 222(SI), Z13, Z13
	VPINSRW $6, 204(SI), X2, X2

p8last:
	Q80O8MIX
	O8ALL
	IMULQ $34, CX
	ADDQ CX, SI

p8store:
	G8STORE
	DECQ rows+8(FP)
	JNZ  p8row
	VZEROUPPER
	RET

// Q40O8MIX turns the code bytes of blocks 0-3 (Z0) and 4-7 (Z1) into
// O8ACT's four registers: low nibbles (values 0-15) and high nibbles
// (16-31), their quadwords interleaved.
#define Q40O8MIX \
	VPSRLW $4, Z0, Z12; \
	VPSRLW $4, Z1, Z13; \
	VPANDD Z15, Z0, Z0; \
	VPANDD Z15, Z1, Z1; \
	VPANDD Z15, Z12, Z12; \
	VPANDD Z15, Z13, Z13; \
	VPUNPCKLQDQ Z1, Z0, Z14; \
	VPUNPCKHQDQ Z1, Z0, Z0; \
	VPUNPCKLQDQ Z13, Z12, Z1; \
	VPUNPCKHQDQ Z13, Z12, Z12

// func dotRows8Q4_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int)
TEXT ·dotRows8Q4_0O8VNNI(SB), NOSPLIT, $0-64
	// A negative rows asks for the rows' groups of eight blocks only:
	// the one to four blocks after them are skipped (R12 = 1), for
	// dotTail4Q4_0O8VNNI to add four rows at a time.
	XORQ R12, R12
	MOVQ rows+8(FP), AX
	TESTQ AX, AX
	JGE  r8pos
	NEGQ AX
	MOVQ AX, rows+8(FP)
	MOVQ $1, R12

r8pos:
	MOVQ data+0(FP), SI
	MOVQ out+48(FP), BX
	MOVQ stride+56(FP), R13
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	LEAQ o8lanes<>(SB), AX
	VMOVDQU64 (AX), Z11

r8row:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xs+32(FP), R10
	MOVQ bias+40(FP), R9
	G8CLEAR

r8oct:
	CMPQ CX, $8
	JLT  r8tail
	VMOVDQU 2(SI), X0
	VINSERTI32X4 $1, 20(SI), Z0, Z0
	VINSERTI32X4 $2, 38(SI), Z0, Z0
	VINSERTI32X4 $3, 56(SI), Z0, Z0
	VMOVDQU 74(SI), X1
	VINSERTI32X4 $1, 92(SI), Z1, Z1
	VINSERTI32X4 $2, 110(SI), Z1, Z1
	VINSERTI32X4 $3, 128(SI), Z1, Z1
	MOVWLZX (SI), AX
	VMOVD AX, X2
	VPINSRW $1, 18(SI), X2, X2
	VPINSRW $2, 36(SI), X2, X2
	VPINSRW $3, 54(SI), X2, X2
	VPINSRW $4, 72(SI), X2, X2
	VPINSRW $5, 90(SI), X2, X2
	VPINSRW $6, 108(SI), X2, X2
	VPINSRW $7, 126(SI), X2, X2
	Q40O8MIX
	O8ALL
	ADDQ $144, SI
	SUBQ $8, CX
	JMP  r8oct

r8tail:
	// One to seven blocks left, as in dotRows8Q8_0O8VNNI.
	TESTQ CX, CX
	JZ   r8store
	TESTQ R12, R12
	JZ   r8notskip
	IMULQ $18, CX
	ADDQ CX, SI
	JMP  r8store

r8notskip:
	CMPQ CX, $4
	JGT  r8tail8
	VPXORD Z0, Z0, Z0
	VPXOR X2, X2, X2
	VINSERTI32X4 $0, 2(SI), Z0, Z0
	VPINSRW $0, (SI), X2, X2
	CMPQ CX, $1
	JEQ  r8half
	VINSERTI32X4 $1, 20(SI), Z0, Z0
	VPINSRW $1, 18(SI), X2, X2
	CMPQ CX, $2
	JEQ  r8half
	VINSERTI32X4 $2, 38(SI), Z0, Z0
	VPINSRW $2, 36(SI), X2, X2
	CMPQ CX, $3
	JEQ  r8half
	VINSERTI32X4 $3, 56(SI), Z0, Z0
	VPINSRW $3, 54(SI), X2, X2

r8half:
	VPSRLW $4, Z0, Z1
	VPANDD Z15, Z0, Z0
	VPANDD Z15, Z1, Z1
	H8ALL
	IMULQ $18, CX
	ADDQ CX, SI
	JMP  r8store

r8tail8:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXOR X2, X2, X2
	VINSERTI32X4 $0, 2(SI), Z0, Z0
	VPINSRW $0, (SI), X2, X2
	CMPQ CX, $1
	JEQ  r8last
	VINSERTI32X4 $1, 20(SI), Z0, Z0
	VPINSRW $1, 18(SI), X2, X2
	CMPQ CX, $2
	JEQ  r8last
	VINSERTI32X4 $2, 38(SI), Z0, Z0
	VPINSRW $2, 36(SI), X2, X2
	CMPQ CX, $3
	JEQ  r8last
	VINSERTI32X4 $3, 56(SI), Z0, Z0
	VPINSRW $3, 54(SI), X2, X2
	CMPQ CX, $4
	JEQ  r8last
	VINSERTI32X4 $0, 74(SI), Z1, Z1
	VPINSRW $4, 72(SI), X2, X2
	CMPQ CX, $5
	JEQ  r8last
	VINSERTI32X4 $1, 92(SI), Z1, Z1
	VPINSRW $5, 90(SI), X2, X2
	CMPQ CX, $6
	JEQ  r8last
	VINSERTI32X4 $2, 110(SI), Z1, Z1
	VPINSRW $6, 108(SI), X2, X2

r8last:
	Q40O8MIX
	O8ALL
	IMULQ $18, CX
	ADDQ CX, SI

r8store:
	G8STORE
	DECQ rows+8(FP)
	JNZ  r8row
	VZEROUPPER
	RET

// T4ACT adds activation i's share of tail block c of four rows to acc:
// the block's 16+16 codes (the last group's two runs, at 256i+16c and
// 256i+64+16c from DI), its four bias lanes (64i+16c from R9) and its
// scale (64i+16c from R10) are broadcast to the four 128-bit lanes, whose
// weight codes (Z0: values 0-15, Z1: 16-31) and scales (Z2) are those of
// rows 0-3.
#define T4ACT(i, c, acc) \
	VBROADCASTI32X4 (256*i+16*c)(DI), Z3; \
	VBROADCASTI32X4 (256*i+64+16*c)(DI), Z4; \
	VBROADCASTI32X4 (64*i+16*c)(R9), Z5; \
	VPDPBUSD Z3, Z0, Z5; \
	VPDPBUSD Z4, Z1, Z5; \
	VCVTDQ2PS Z5, Z5; \
	VMULPS.BCST (64*i+16*c)(R10), Z2, Z6; \
	VFMADD231PS Z6, Z5, acc

// T4BLK loads tail block c (at byte offset off of each row's tail, R11
// bytes apart) of the four rows at SI and adds its share for the eight
// activations to Z16-Z23.
#define T4BLK(c, off) \
	LEAQ (SI)(R11*2), AX; \
	VMOVDQU (off+2)(SI), X0; \
	VINSERTI32X4 $1, (off+2)(SI)(R11*1), Z0, Z0; \
	VINSERTI32X4 $2, (off+2)(AX), Z0, Z0; \
	VINSERTI32X4 $3, (off+2)(AX)(R11*1), Z0, Z0; \
	T4SCALES(off); \
	VPSRLW $4, Z0, Z1; \
	VPANDD Z15, Z0, Z0; \
	VPANDD Z15, Z1, Z1; \
	T4ACTS(c)

// T4BLK80 is T4BLK for block_q8_0 records: values 0-15 and 16-31 of the
// four rows' blocks, made unsigned (Z15 holds 0x80 bytes).
#define T4BLK80(c, off) \
	LEAQ (SI)(R11*2), AX; \
	VMOVDQU (off+2)(SI), X0; \
	VINSERTI32X4 $1, (off+2)(SI)(R11*1), Z0, Z0; \
	VINSERTI32X4 $2, (off+2)(AX), Z0, Z0; \
	VINSERTI32X4 $3, (off+2)(AX)(R11*1), Z0, Z0; \
	VMOVDQU (off+18)(SI), X1; \
	VINSERTI32X4 $1, (off+18)(SI)(R11*1), Z1, Z1; \
	VINSERTI32X4 $2, (off+18)(AX), Z1, Z1; \
	VINSERTI32X4 $3, (off+18)(AX)(R11*1), Z1, Z1; \
	T4SCALES(off); \
	VPXORD Z15, Z0, Z0; \
	VPXORD Z15, Z1, Z1; \
	T4ACTS(c)

// T4BLK50 is T4BLK for block_q5_0 records: the four rows' qh words give
// values 0-15 (Z0) and 16-31 (Z1) their fifth bits, 16 added under byte
// masks (Z14 holds 0x10 bytes), as in Q50O8MIX.
#define T4BLK50(c, off) \
	LEAQ (SI)(R11*2), AX; \
	VMOVDQU (off+6)(SI), X0; \
	VINSERTI32X4 $1, (off+6)(SI)(R11*1), Z0, Z0; \
	VINSERTI32X4 $2, (off+6)(AX), Z0, Z0; \
	VINSERTI32X4 $3, (off+6)(AX)(R11*1), Z0, Z0; \
	VMOVD (off+2)(SI), X3; \
	VPINSRD $1, (off+2)(SI)(R11*1), X3, X3; \
	VPINSRD $2, (off+2)(AX), X3, X3; \
	VPINSRD $3, (off+2)(AX)(R11*1), X3, X3; \
	T4SCALES(off); \
	VPSRLW $4, Z0, Z1; \
	VPANDD Z15, Z0, Z0; \
	VPANDD Z15, Z1, Z1; \
	VPSHUFB q50words<>(SB), X3, X3; \
	VMOVQ X3, AX; \
	KMOVQ AX, K1; \
	VPEXTRQ $1, X3, AX; \
	KMOVQ AX, K2; \
	VPADDB Z14, Z0, K1, Z0; \
	VPADDB Z14, Z1, K2, Z1; \
	T4ACTS(c)

// T4BLKNF is T4BLK for NF4/FP4 halves: tail half c's 16 code bytes of the
// four rows (R11 bytes apart from SI), their nibbles looked up in the
// int8 table Z29 (high nibbles, the even values, first), and the halves'
// float scales (R14 bytes apart from R12).
#define T4BLKNF(c) \
	LEAQ (SI)(R11*2), AX; \
	VMOVDQU (16*c)(SI), X1; \
	VINSERTI32X4 $1, (16*c)(SI)(R11*1), Z1, Z1; \
	VINSERTI32X4 $2, (16*c)(AX), Z1, Z1; \
	VINSERTI32X4 $3, (16*c)(AX)(R11*1), Z1, Z1; \
	LEAQ (R12)(R14*2), AX; \
	VMOVSS (4*c)(R12), X2; \
	VINSERTPS $0x10, (4*c)(R12)(R14*1), X2, X2; \
	VINSERTPS $0x20, (4*c)(AX), X2, X2; \
	VINSERTPS $0x30, (4*c)(AX)(R14*1), X2, X2; \
	VPERMPS Z2, Z13, Z2; \
	VPSRLW $4, Z1, Z0; \
	VPANDD Z15, Z0, Z0; \
	VPANDD Z15, Z1, Z1; \
	VPSHUFB Z0, Z29, Z0; \
	VPSHUFB Z1, Z29, Z1; \
	T4ACTS(c)

// T4SCALES spreads the float16 scales at off of the four rows (AX is the
// third row) over their lanes in Z2.
#define T4SCALES(off) \
	MOVWLZX off(SI), DX; \
	VMOVD DX, X2; \
	VPINSRW $1, off(SI)(R11*1), X2, X2; \
	VPINSRW $2, off(AX), X2, X2; \
	VPINSRW $3, off(AX)(R11*1), X2, X2; \
	VCVTPH2PS X2, X2; \
	VPERMPS Z2, Z13, Z2

// T4ACTS runs T4ACT for the eight activations.
#define T4ACTS(c) \
	T4ACT(0, c, Z16); \
	T4ACT(1, c, Z17); \
	T4ACT(2, c, Z18); \
	T4ACT(3, c, Z19); \
	T4ACT(4, c, Z20); \
	T4ACT(5, c, Z21); \
	T4ACT(6, c, Z22); \
	T4ACT(7, c, Z23)

// t4perm transposes four lanes of four floats.
DATA t4perm<>+0(SB)/8, $0x0000000400000000
DATA t4perm<>+8(SB)/8, $0x0000000c00000008
DATA t4perm<>+16(SB)/8, $0x0000000500000001
DATA t4perm<>+24(SB)/8, $0x0000000d00000009
DATA t4perm<>+32(SB)/8, $0x0000000600000002
DATA t4perm<>+40(SB)/8, $0x0000000e0000000a
DATA t4perm<>+48(SB)/8, $0x0000000700000003
DATA t4perm<>+56(SB)/8, $0x0000000f0000000b
GLOBL t4perm<>(SB), RODATA|NOPTR, $64

// T4ADD adds lane i of sums (activation i's four rows) to the four floats at
// BX + i·R13.
#define T4ADD(i, sums) \
	VEXTRACTF32X4 $i, sums, X7; \
	VADDPS (AX), X7, X7; \
	VMOVUPS X7, (AX); \
	ADDQ R13, AX

// T4STORE adds the eight activations' sums for four rows (per 128-bit
// lane r, row r, in Z16-Z23) to the four floats at BX + i·R13 of each
// activation i: per lane the sums of Z16-Z19 go to Z24 and of Z20-Z23 to
// Z25, activation by activation; transposed (Z12), lane i holds
// activation i's four rows.
#define T4STORE \
	VSHUFPS $0x88, Z17, Z16, Z24; \
	VSHUFPS $0xDD, Z17, Z16, Z26; \
	VADDPS Z26, Z24, Z24; \
	VSHUFPS $0x88, Z19, Z18, Z25; \
	VSHUFPS $0xDD, Z19, Z18, Z26; \
	VADDPS Z26, Z25, Z25; \
	VSHUFPS $0x88, Z25, Z24, Z26; \
	VSHUFPS $0xDD, Z25, Z24, Z27; \
	VADDPS Z27, Z26, Z24; \
	VSHUFPS $0x88, Z21, Z20, Z25; \
	VSHUFPS $0xDD, Z21, Z20, Z26; \
	VADDPS Z26, Z25, Z25; \
	VSHUFPS $0x88, Z23, Z22, Z26; \
	VSHUFPS $0xDD, Z23, Z22, Z27; \
	VADDPS Z27, Z26, Z26; \
	VSHUFPS $0x88, Z26, Z25, Z27; \
	VSHUFPS $0xDD, Z26, Z25, Z28; \
	VADDPS Z28, Z27, Z25; \
	VPERMPS Z24, Z12, Z24; \
	VPERMPS Z25, Z12, Z25; \
	MOVQ BX, AX; \
	T4ADD(0, Z24); \
	T4ADD(1, Z24); \
	T4ADD(2, Z24); \
	T4ADD(3, Z24); \
	T4ADD(0, Z25); \
	T4ADD(1, Z25); \
	T4ADD(2, Z25); \
	T4ADD(3, Z25)

// func dotTail4Q4_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int)
//
// Adds to out, four rows at a time (rows a positive multiple of 4), the
// products of each row's last nblocks%8 blocks (one to four) with eight
// activations in the last group's two-run form (act32g8), which
// dotRows8Q4_0O8VNNI skipped (negative rows): a register holds the same
// tail block of four rows, one per 128-bit lane, and meets the
// activation's block broadcast to all four, so that one pass serves four
// rows where dotRows8Q4_0O8VNNI's two-run form fills a quarter of its
// lanes per block of a single row. xq, xs and bias point at the last
// group; out and stride are as for dotRows8Q4_0O8VNNI.
TEXT ·dotTail4Q4_0O8VNNI(SB), NOSPLIT, $0-64
	MOVQ data+0(FP), SI
	MOVQ nblocks+16(FP), R11
	MOVQ R11, R8
	ANDQ $7, R8     // tail blocks
	IMULQ $18, R11  // row bytes
	MOVQ R11, DX
	MOVQ R8, AX
	IMULQ $18, AX
	SUBQ AX, DX
	ADDQ DX, SI     // the first row's tail
	MOVQ out+48(FP), BX
	MOVQ stride+56(FP), R13
	MOVQ xq+24(FP), DI
	MOVQ xs+32(FP), R10
	MOVQ bias+40(FP), R9
	MOVL $0x0f0f0f0f, DX
	VPBROADCASTD DX, Z15
	LEAQ h8lanes<>(SB), AX
	VMOVDQU64 (AX), Z13
	LEAQ t4perm<>(SB), AX
	VMOVDQU64 (AX), Z12
	MOVQ rows+8(FP), CX

t4quad:
	G8CLEAR
	T4BLK(0, 0)
	CMPQ R8, $1
	JEQ  t4sum
	T4BLK(1, 18)
	CMPQ R8, $2
	JEQ  t4sum
	T4BLK(2, 36)
	CMPQ R8, $3
	JEQ  t4sum
	T4BLK(3, 54)

t4sum:
	T4STORE
	ADDQ $16, BX
	LEAQ (SI)(R11*4), SI
	SUBQ $4, CX
	JNZ  t4quad
	VZEROUPPER
	RET

// func dotTail4Q8_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int)
//
// dotTail4Q4_0O8VNNI for block_q8_0 records (activations with k = 128),
// after dotRows8Q8_0O8VNNI given -rows.
TEXT ·dotTail4Q8_0O8VNNI(SB), NOSPLIT, $0-64
	MOVQ data+0(FP), SI
	MOVQ nblocks+16(FP), R11
	MOVQ R11, R8
	ANDQ $7, R8     // tail blocks
	IMULQ $34, R11  // row bytes
	MOVQ R11, DX
	MOVQ R8, AX
	IMULQ $34, AX
	SUBQ AX, DX
	ADDQ DX, SI     // the first row's tail
	MOVQ out+48(FP), BX
	MOVQ stride+56(FP), R13
	MOVQ xq+24(FP), DI
	MOVQ xs+32(FP), R10
	MOVQ bias+40(FP), R9
	MOVL $0x80808080, DX
	VPBROADCASTD DX, Z15
	LEAQ h8lanes<>(SB), AX
	VMOVDQU64 (AX), Z13
	LEAQ t4perm<>(SB), AX
	VMOVDQU64 (AX), Z12
	MOVQ rows+8(FP), CX

u4quad:
	G8CLEAR
	T4BLK80(0, 0)
	CMPQ R8, $1
	JEQ  u4sum
	T4BLK80(1, 34)
	CMPQ R8, $2
	JEQ  u4sum
	T4BLK80(2, 68)
	CMPQ R8, $3
	JEQ  u4sum
	T4BLK80(3, 102)

u4sum:
	T4STORE
	ADDQ $16, BX
	LEAQ (SI)(R11*4), SI
	SUBQ $4, CX
	JNZ  u4quad
	VZEROUPPER
	RET

// func dotTail4Q5_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int)
//
// dotTail4Q4_0O8VNNI for block_q5_0 records (activations with k = 16),
// after dotRows8Q5_0O8VNNI given -rows.
TEXT ·dotTail4Q5_0O8VNNI(SB), NOSPLIT, $0-64
	MOVQ data+0(FP), SI
	MOVQ nblocks+16(FP), R11
	MOVQ R11, R8
	ANDQ $7, R8     // tail blocks
	IMULQ $22, R11  // row bytes
	MOVQ R11, DX
	MOVQ R8, AX
	IMULQ $22, AX
	SUBQ AX, DX
	ADDQ DX, SI     // the first row's tail
	MOVQ out+48(FP), BX
	MOVQ stride+56(FP), R13
	MOVQ xq+24(FP), DI
	MOVQ xs+32(FP), R10
	MOVQ bias+40(FP), R9
	MOVL $0x0f0f0f0f, DX
	VPBROADCASTD DX, Z15
	MOVL $0x10101010, DX
	VPBROADCASTD DX, Z14
	LEAQ h8lanes<>(SB), AX
	VMOVDQU64 (AX), Z13
	LEAQ t4perm<>(SB), AX
	VMOVDQU64 (AX), Z12
	MOVQ rows+8(FP), CX

v4quad:
	G8CLEAR
	T4BLK50(0, 0)
	CMPQ R8, $1
	JEQ  v4sum
	T4BLK50(1, 22)
	CMPQ R8, $2
	JEQ  v4sum
	T4BLK50(2, 44)
	CMPQ R8, $3
	JEQ  v4sum
	T4BLK50(3, 66)

v4sum:
	T4STORE
	ADDQ $16, BX
	LEAQ (SI)(R11*4), SI
	SUBQ $4, CX
	JNZ  v4quad
	VZEROUPPER
	RET

// func dotTail4NF4O8VNNI(codes *byte, rows int, halves int, xq *int8, xs *float32, bias *int32, ws *float32, tab *[64]byte, out *float32, stride int)
//
// dotTail4Q4_0O8VNNI for NF4/FP4 rows of halves 32-value halves (the
// arguments of dot4bitRows8O8VNNI, ws holding the halves' scales of these
// rows), after dot4bitRows8O8VNNI given -rows.
TEXT ·dotTail4NF4O8VNNI(SB), NOSPLIT, $0-80
	MOVQ codes+0(FP), SI
	MOVQ halves+16(FP), R11
	MOVQ R11, R8
	ANDQ $7, R8     // tail halves
	MOVQ R11, R14
	SHLQ $2, R14    // scale bytes a row
	MOVQ ws+48(FP), R12
	MOVQ R11, AX
	SUBQ R8, AX     // the first tail half
	LEAQ (R12)(AX*4), R12
	SHLQ $4, AX
	ADDQ AX, SI
	SHLQ $4, R11    // code bytes a row
	MOVQ tab+56(FP), AX
	VMOVDQU64 (AX), Z29
	MOVQ out+64(FP), BX
	MOVQ stride+72(FP), R13
	MOVQ xq+24(FP), DI
	MOVQ xs+32(FP), R10
	MOVQ bias+40(FP), R9
	MOVL $0x0f0f0f0f, DX
	VPBROADCASTD DX, Z15
	LEAQ h8lanes<>(SB), AX
	VMOVDQU64 (AX), Z13
	LEAQ t4perm<>(SB), AX
	VMOVDQU64 (AX), Z12
	MOVQ rows+8(FP), CX

w4quad:
	G8CLEAR
	T4BLKNF(0)
	CMPQ R8, $1
	JEQ  w4sum
	T4BLKNF(1)
	CMPQ R8, $2
	JEQ  w4sum
	T4BLKNF(2)
	CMPQ R8, $3
	JEQ  w4sum
	T4BLKNF(3)

w4sum:
	T4STORE
	ADDQ $16, BX
	LEAQ (SI)(R11*4), SI
	LEAQ (R12)(R14*4), R12
	SUBQ $4, CX
	JNZ  w4quad
	VZEROUPPER
	RET

// The eight-activation NF4/FP4 prefill kernel: a group of eight 32-value
// halves is 128 contiguous code bytes, two loads; high nibbles (even
// values) and low nibbles (odd values) are looked up in the int8 table and
// their quadwords interleaved as in dotRows8Q8_0O8VNNI, so that the
// activation (act32g8 of the even-odd ordered vector, k = 128) meets them
// with four VPDPBUSDs per lane. The weight scale of every half, the table
// scale included, comes from ws (halves floats per row, rows in turn,
// followed by eight floats of padding), computed by the caller once per
// tile of rows: double quantisation costs nothing here.

// nf4masks[n] selects the first 16n bytes of 64, for n ≤ 4.
DATA nf4masks<>+0(SB)/8, $0
DATA nf4masks<>+8(SB)/8, $0x000000000000ffff
DATA nf4masks<>+16(SB)/8, $0x00000000ffffffff
DATA nf4masks<>+24(SB)/8, $0x0000ffffffffffff
DATA nf4masks<>+32(SB)/8, $-1
GLOBL nf4masks<>(SB), RODATA|NOPTR, $40

// NF4O8MIX looks up the nibbles of the code bytes of halves 0-3 (Z1) and
// 4-7 (Z13) in the table Z24 and leaves O8ACT's four registers.
#define NF4O8MIX \
	VPSRLW $4, Z1, Z0; \
	VPSRLW $4, Z13, Z12; \
	VPANDD Z15, Z0, Z0; \
	VPANDD Z15, Z1, Z1; \
	VPANDD Z15, Z12, Z12; \
	VPANDD Z15, Z13, Z13; \
	VPSHUFB Z0, Z24, Z0; \
	VPSHUFB Z1, Z24, Z1; \
	VPSHUFB Z12, Z24, Z12; \
	VPSHUFB Z13, Z24, Z13; \
	VPUNPCKLQDQ Z12, Z0, Z14; \
	VPUNPCKHQDQ Z12, Z0, Z0; \
	VPUNPCKHQDQ Z13, Z1, Z12; \
	VPUNPCKLQDQ Z13, Z1, Z1

// func dot4bitRows8O8VNNI(codes *byte, rows int, halves int, xq *int8, xs *float32, bias *int32, ws *float32, tab *[64]byte, out *float32, stride int)
TEXT ·dot4bitRows8O8VNNI(SB), NOSPLIT, $0-80
	// A negative rows skips each row's last one to four halves (R8 = 1),
	// for dotTail4NF4O8VNNI.
	XORQ R8, R8
	MOVQ rows+8(FP), AX
	TESTQ AX, AX
	JGE  n8pos
	NEGQ AX
	MOVQ AX, rows+8(FP)
	MOVQ $1, R8

n8pos:
	MOVQ codes+0(FP), SI
	MOVQ ws+48(FP), R11
	MOVQ tab+56(FP), R12
	MOVQ out+64(FP), BX
	MOVQ stride+72(FP), R13
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	LEAQ o8lanes<>(SB), AX
	VMOVDQU64 (AX), Z11

n8row:
	MOVQ halves+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xs+32(FP), R10
	MOVQ bias+40(FP), R9
	VMOVDQU64 (R12), Z24
	G8CLEAR

n8oct:
	CMPQ CX, $8
	JLT  n8tail
	VMOVDQU64 (SI), Z1
	VMOVDQU64 64(SI), Z13
	VMOVUPS (R11), Y2
	NF4O8MIX
	VPERMPS Z2, Z11, Z2
	O8ACTS
	ADDQ $128, SI
	ADDQ $32, R11
	SUBQ $8, CX
	JMP  n8oct

n8tail:
	// One to seven halves left, loaded under a mask so that nothing past
	// the row is read: the missing halves' codes meet zero activation
	// codes, biases and scales (and a finite weight scale), so they add
	// exactly nothing. Up to four take the two-run form.
	TESTQ CX, CX
	JZ   n8store
	TESTQ R8, R8
	JNZ  n8next
	CMPQ CX, $4
	JGT  n8tail8
	LEAQ nf4masks<>(SB), AX
	MOVQ (AX)(CX*8), AX
	KMOVQ AX, K1
	VMOVDQU8.Z (SI), K1, Z1
	VMOVUPS (R11), X2
	VPSRLW $4, Z1, Z0
	VPANDD Z15, Z0, Z0
	VPANDD Z15, Z1, Z1
	VPSHUFB Z0, Z24, Z0
	VPSHUFB Z1, Z24, Z1
	LEAQ h8lanes<>(SB), AX
	VMOVDQU64 (AX), Z13
	VPERMPS Z2, Z13, Z2
	H8ACT(0, Z16, Z3, Z4)
	H8ACT(1, Z17, Z5, Z6)
	H8ACT(2, Z18, Z7, Z8)
	H8ACT(3, Z19, Z9, Z10)
	H8ACT(4, Z20, Z3, Z4)
	H8ACT(5, Z21, Z5, Z6)
	H8ACT(6, Z22, Z7, Z8)
	H8ACT(7, Z23, Z9, Z10)
	JMP  n8next

n8tail8:
	LEAQ nf4masks<>(SB), AX
	MOVQ -32(AX)(CX*8), AX
	KMOVQ AX, K1
	VMOVDQU64 (SI), Z1
	VMOVDQU8.Z 64(SI), K1, Z13
	VMOVUPS (R11), Y2
	NF4O8MIX
	VPERMPS Z2, Z11, Z2
	O8ACTS

n8next:
	MOVQ CX, DX
	SHLQ $4, DX
	ADDQ DX, SI
	LEAQ (R11)(CX*4), R11

n8store:
	G8STORE
	DECQ rows+8(FP)
	JNZ  n8row
	VZEROUPPER
	RET

// NF4X2MIX looks up the nibbles of the code bytes of halves 0-3 (a) and
// 4-7 (b) of one row in the table Z10 and leaves O8X2ACT's four registers
// of that row: o0, o1, a, b (even values, then odd, as NF4O8MIX orders
// them). It clobbers Z11-Z13.
#define NF4X2MIX(a, b, o0, o1) \
	VPSRLW $4, a, Z11; \
	VPSRLW $4, b, Z12; \
	VPANDD Z15, a, a; \
	VPANDD Z15, b, b; \
	VPANDD Z15, Z11, Z11; \
	VPANDD Z15, Z12, Z12; \
	VPSHUFB Z11, Z10, Z11; \
	VPSHUFB Z12, Z10, Z12; \
	VPSHUFB a, Z10, a; \
	VPSHUFB b, Z10, b; \
	VPUNPCKLQDQ Z12, Z11, o0; \
	VPUNPCKHQDQ Z12, Z11, o1; \
	VPUNPCKHQDQ b, a, Z13; \
	VPUNPCKLQDQ b, a, a; \
	VMOVDQA64 Z13, b

// func dot4bitRows8x2O8VNNI(codes *byte, rows int, halves int, xq *int8, xs *float32, bias *int32, ws *float32, tab *[64]byte, out *float32, stride int)
//
// dot4bitRows8O8VNNI with a negative rows (each row's whole groups of
// eight halves only), two rows at a time, each activation's codes, biases
// and scales loaded once for both (as dotRows8x2Q4_0O8VNNI): rows is even
// and positive. Every lane does the one-row kernel's operations in its
// order, so the results are the same bit for bit.
TEXT ·dot4bitRows8x2O8VNNI(SB), NOSPLIT, $0-80
	MOVQ codes+0(FP), SI
	MOVQ ws+48(FP), R11
	MOVQ tab+56(FP), R12
	MOVQ out+64(FP), BX
	MOVQ stride+72(FP), R13
	MOVQ halves+16(FP), R8
	MOVQ R8, R14
	SHLQ $4, R8     // code bytes a row
	SHLQ $2, R14    // scale bytes a row
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	LEAQ o8lanes<>(SB), AX
	VMOVDQU64 (AX), Z14

m2pair:
	MOVQ halves+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xs+32(FP), R10
	MOVQ bias+40(FP), R9
	G8CLEAR
	VXORPS Z24, Z24, Z24
	VXORPS Z25, Z25, Z25
	VXORPS Z26, Z26, Z26
	VXORPS Z27, Z27, Z27
	VXORPS Z28, Z28, Z28
	VXORPS Z29, Z29, Z29
	VXORPS Z30, Z30, Z30
	VXORPS Z31, Z31, Z31

m2oct:
	CMPQ CX, $8
	JLT  m2next
	VMOVDQU64 (R12), Z10
	VMOVDQU64 (SI), Z0
	VMOVDQU64 64(SI), Z1
	VMOVDQU64 (SI)(R8*1), Z4
	VMOVDQU64 64(SI)(R8*1), Z5
	NF4X2MIX(Z0, Z1, Z2, Z3)
	NF4X2MIX(Z4, Z5, Z6, Z7)
	VMOVUPS (R11), Y8
	VPERMPS Z8, Z14, Z8
	VMOVUPS (R11)(R14*1), Y9
	VPERMPS Z9, Z14, Z9
	O8X2ACT(0, Z16, Z24)
	O8X2ACT(1, Z17, Z25)
	O8X2ACT(2, Z18, Z26)
	O8X2ACT(3, Z19, Z27)
	O8X2ACT(4, Z20, Z28)
	O8X2ACT(5, Z21, Z29)
	O8X2ACT(6, Z22, Z30)
	O8X2ACT(7, Z23, Z31)
	ADDQ $128, SI
	ADDQ $32, R11
	ADDQ $2048, DI
	ADDQ $512, R9
	ADDQ $512, R10
	SUBQ $8, CX
	JMP  m2oct

m2next:
	// Past the rest of row 0 and the whole of row 1, codes and scales.
	MOVQ CX, DX
	SHLQ $4, DX
	ADDQ DX, SI
	ADDQ R8, SI
	LEAQ (R11)(CX*4), R11
	ADDQ R14, R11
	G8STORE0
	G8STORE1
	SUBQ $2, rows+8(FP)
	JNZ  m2pair
	VZEROUPPER
	RET

// q50words gathers the low 16-bit words of four dwords into bytes 0-7 and
// their high words into bytes 8-15: the high bits of values 0-15 and
// 16-31 of four block_q5_0 records.
DATA q50words<>+0(SB)/8, $0x0d0c090805040100
DATA q50words<>+8(SB)/8, $0x0f0e0b0a07060302
GLOBL q50words<>(SB), RODATA|NOPTR, $16

// Q50O8MIX is Q40O8MIX for block_q5_0: the low and high nibbles of blocks
// 0-3 (Z0) and 4-7 (Z1) get their fifth bits from the records' qh words
// (X3: blocks 0-3, X4: 4-7), added as 16 under byte masks.
#define Q50O8MIX \
	VPSRLW $4, Z0, Z12; \
	VPSRLW $4, Z1, Z13; \
	VPANDD Z15, Z0, Z0; \
	VPANDD Z15, Z1, Z1; \
	VPANDD Z15, Z12, Z12; \
	VPANDD Z15, Z13, Z13; \
	VPSHUFB q50words<>(SB), X3, X3; \
	VPSHUFB q50words<>(SB), X4, X4; \
	VMOVQ X3, AX; \
	KMOVQ AX, K1; \
	VPEXTRQ $1, X3, AX; \
	KMOVQ AX, K2; \
	VMOVQ X4, AX; \
	KMOVQ AX, K3; \
	VPEXTRQ $1, X4, AX; \
	KMOVQ AX, K4; \
	VPADDB Z24, Z0, K1, Z0; \
	VPADDB Z24, Z12, K2, Z12; \
	VPADDB Z24, Z1, K3, Z1; \
	VPADDB Z24, Z13, K4, Z13; \
	VPUNPCKLQDQ Z1, Z0, Z14; \
	VPUNPCKHQDQ Z1, Z0, Z0; \
	VPUNPCKLQDQ Z13, Z12, Z1; \
	VPUNPCKHQDQ Z13, Z12, Z12

// Q50BLK loads block j's code bytes into 128-bit lane l of zr, its scale
// into word j of X2 and its qh into dword l of xq.
#define Q50BLK(j, l, zr, xq) \
	VINSERTI32X4 $l, (6+22*j)(SI), zr, zr; \
	VPINSRW $j, (22*j)(SI), X2, X2; \
	VPINSRD $l, (2+22*j)(SI), xq, xq

// func dotRows8Q5_0O8VNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, bias *int32, out *float32, stride int)
TEXT ·dotRows8Q5_0O8VNNI(SB), NOSPLIT, $0-64
	// A negative rows skips each row's last one to four blocks (R12 = 1),
	// as in dotRows8Q4_0O8VNNI, for dotTail4Q5_0O8VNNI.
	XORQ R12, R12
	MOVQ rows+8(FP), AX
	TESTQ AX, AX
	JGE  s8pos
	NEGQ AX
	MOVQ AX, rows+8(FP)
	MOVQ $1, R12

s8pos:
	MOVQ data+0(FP), SI
	MOVQ out+48(FP), BX
	MOVQ stride+56(FP), R13
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	LEAQ o8lanes<>(SB), AX
	VMOVDQU64 (AX), Z11

s8row:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xs+32(FP), R10
	MOVQ bias+40(FP), R9
	MOVL $0x10101010, DX
	VMOVD DX, X24
	VPBROADCASTD X24, Z24
	G8CLEAR

s8oct:
	CMPQ CX, $8
	JLT  s8tail
	VMOVDQU 6(SI), X0
	VINSERTI32X4 $1, 28(SI), Z0, Z0
	VINSERTI32X4 $2, 50(SI), Z0, Z0
	VINSERTI32X4 $3, 72(SI), Z0, Z0
	VMOVDQU 94(SI), X1
	VINSERTI32X4 $1, 116(SI), Z1, Z1
	VINSERTI32X4 $2, 138(SI), Z1, Z1
	VINSERTI32X4 $3, 160(SI), Z1, Z1
	MOVWLZX (SI), AX
	VMOVD AX, X2
	VPINSRW $1, 22(SI), X2, X2
	VPINSRW $2, 44(SI), X2, X2
	VPINSRW $3, 66(SI), X2, X2
	VPINSRW $4, 88(SI), X2, X2
	VPINSRW $5, 110(SI), X2, X2
	VPINSRW $6, 132(SI), X2, X2
	VPINSRW $7, 154(SI), X2, X2
	VMOVD 2(SI), X3
	VPINSRD $1, 24(SI), X3, X3
	VPINSRD $2, 46(SI), X3, X3
	VPINSRD $3, 68(SI), X3, X3
	VMOVD 90(SI), X4
	VPINSRD $1, 112(SI), X4, X4
	VPINSRD $2, 134(SI), X4, X4
	VPINSRD $3, 156(SI), X4, X4
	Q50O8MIX
	O8ALL
	ADDQ $176, SI
	SUBQ $8, CX
	JMP  s8oct

s8tail:
	// One to seven blocks left, as in dotRows8Q8_0O8VNNI: missing blocks
	// have zero codes, qh and scales. Up to four take the two-run form.
	TESTQ CX, CX
	JZ   s8store
	TESTQ R12, R12
	JZ   s8notskip
	IMULQ $22, CX
	ADDQ CX, SI
	JMP  s8store

s8notskip:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXOR X2, X2, X2
	VPXOR X3, X3, X3
	VPXOR X4, X4, X4
	Q50BLK(0, 0, Z0, X3)
	CMPQ CX, $1
	JEQ  s8short
	Q50BLK(1, 1, Z0, X3)
	CMPQ CX, $2
	JEQ  s8short
	Q50BLK(2, 2, Z0, X3)
	CMPQ CX, $3
	JEQ  s8short
	Q50BLK(3, 3, Z0, X3)
	CMPQ CX, $4
	JEQ  s8short
	Q50BLK(4, 0, Z1, X4)
	CMPQ CX, $5
	JEQ  s8long
	Q50BLK(5, 1, Z1, X4)
	CMPQ CX, $6
	JEQ  s8long
	Q50BLK(6, 2, Z1, X4)

s8long:
	Q50O8MIX
	O8ALL
	JMP  s8next

s8short:
	VPSRLW $4, Z0, Z1
	VPANDD Z15, Z0, Z0
	VPANDD Z15, Z1, Z1
	VPSHUFB q50words<>(SB), X3, X3
	VMOVQ X3, AX
	KMOVQ AX, K1
	VPEXTRQ $1, X3, AX
	KMOVQ AX, K2
	VPADDB Z24, Z0, K1, Z0
	VPADDB Z24, Z1, K2, Z1
	H8ALL

s8next:
	IMULQ $22, CX
	ADDQ CX, SI

s8store:
	G8STORE
	DECQ rows+8(FP)
	JNZ  s8row
	VZEROUPPER
	RET

// The eight-activation Q4_K prefill kernel. A block_q4_K record's 128 code
// bytes are two loads; their low and high nibbles are four registers of
// two 32-value sub-blocks each (sub-blocks 0|2, 1|3, 4|6 and 5|7), and the
// activation (act256, repacked by actK8 in the same order) meets them by
// VPMADDUBSW; VPMADDWD/VPDPWSSD then weight each pair of products with its
// sub-block's 6-bit scale, spread over the words by VPERMW, so that one
// conversion per activation and block serves 256 codes. The mins are done
// once per block for all eight activations, outside the per-activation
// work: the block's eight mins, repeated over the four 128-bit lanes, meet
// the activations' 32-value sums (eight words each, four activations to a
// register) by two VPMADDWDs, and the two products, times dmin and each
// activation's scale spread over its four lanes, are subtracted from two
// accumulators that are folded into the eight activations' accumulators,
// four lanes each, before the row's sums are reduced. Per activation and
// block: acc += xd·d·Σ sc·(q·x), and the mins' accumulator −= xd·dmin·Σ m·S.

// k8words spreads sub-block scales over the 32 words of a register: words
// 0-15 get scale a and 16-31 scale b, for (a, b) = (0, 2), (1, 3), (4, 6)
// and (5, 7) in turn.
DATA k8words<>+0(SB)/8, $0
DATA k8words<>+8(SB)/8, $0
DATA k8words<>+16(SB)/8, $0
DATA k8words<>+24(SB)/8, $0
DATA k8words<>+32(SB)/8, $0x0002000200020002
DATA k8words<>+40(SB)/8, $0x0002000200020002
DATA k8words<>+48(SB)/8, $0x0002000200020002
DATA k8words<>+56(SB)/8, $0x0002000200020002
DATA k8words<>+64(SB)/8, $0x0001000100010001
DATA k8words<>+72(SB)/8, $0x0001000100010001
DATA k8words<>+80(SB)/8, $0x0001000100010001
DATA k8words<>+88(SB)/8, $0x0001000100010001
DATA k8words<>+96(SB)/8, $0x0003000300030003
DATA k8words<>+104(SB)/8, $0x0003000300030003
DATA k8words<>+112(SB)/8, $0x0003000300030003
DATA k8words<>+120(SB)/8, $0x0003000300030003
DATA k8words<>+128(SB)/8, $0x0004000400040004
DATA k8words<>+136(SB)/8, $0x0004000400040004
DATA k8words<>+144(SB)/8, $0x0004000400040004
DATA k8words<>+152(SB)/8, $0x0004000400040004
DATA k8words<>+160(SB)/8, $0x0006000600060006
DATA k8words<>+168(SB)/8, $0x0006000600060006
DATA k8words<>+176(SB)/8, $0x0006000600060006
DATA k8words<>+184(SB)/8, $0x0006000600060006
DATA k8words<>+192(SB)/8, $0x0005000500050005
DATA k8words<>+200(SB)/8, $0x0005000500050005
DATA k8words<>+208(SB)/8, $0x0005000500050005
DATA k8words<>+216(SB)/8, $0x0005000500050005
DATA k8words<>+224(SB)/8, $0x0007000700070007
DATA k8words<>+232(SB)/8, $0x0007000700070007
DATA k8words<>+240(SB)/8, $0x0007000700070007
DATA k8words<>+248(SB)/8, $0x0007000700070007
GLOBL k8words<>(SB), RODATA|NOPTR, $256

// K8ACT adds activation i's share of the block whose codes are in Z0
// (sub-blocks 0|2), Z12 (1|3), Z1 (4|6) and Z13 (5|7), spread scales in
// Z2-Z5 and d broadcast in Z28, to acc: its 256 codes at 256i(DI) and its
// broadcast scale at 64i(R10).
#define K8ACT(i, acc, ta, tb) \
	VPMADDUBSW (256*i)(DI), Z0, ta; \
	VPMADDWD Z2, ta, tb; \
	VPMADDUBSW (256*i+64)(DI), Z12, ta; \
	VPDPWSSD Z3, ta, tb; \
	VPMADDUBSW (256*i+128)(DI), Z1, ta; \
	VPDPWSSD Z4, ta, tb; \
	VPMADDUBSW (256*i+192)(DI), Z13, ta; \
	VPDPWSSD Z5, ta, tb; \
	VCVTDQ2PS tb, tb; \
	VMULPS Z28, tb, tb; \
	VFMADD231PS (64*i)(R10), tb, acc

// func dotRows8Q4KVNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, s *int16, out *float32, stride int)
//
// Per block, the activations' codes at DI (2048 bytes), their 32-value
// sums at R9 (eight words each, activation a at word 8a: 128 bytes), and
// their scales at R10: 16 copies of each one's (64 bytes each), then four
// copies of each one's (16 bytes each), 640 bytes in all. The mins'
// accumulators are Z29 (activations 0-3, four lanes each) and Z31 (4-7);
// K1-K4 select lanes 0-3, 4-7, 8-11 and 12-15.
TEXT ·dotRows8Q4KVNNI(SB), NOSPLIT, $0-64
	MOVQ data+0(FP), SI
	MOVQ out+48(FP), BX
	MOVQ stride+56(FP), R13
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	MOVL $0x000f, AX
	KMOVW AX, K1
	MOVL $0x00f0, AX
	KMOVW AX, K2
	MOVL $0x0f00, AX
	KMOVW AX, K3
	MOVL $0xf000, AX
	KMOVW AX, K4

k8row:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xs+32(FP), R10
	MOVQ s+40(FP), R9
	LEAQ k8words<>(SB), AX
	VMOVDQU64 (AX), Z24
	VMOVDQU64 64(AX), Z25
	VMOVDQU64 128(AX), Z26
	VMOVDQU64 192(AX), Z27
	G8CLEAR
	VXORPS Z29, Z29, Z29
	VXORPS Z31, Z31, Z31

k8block:
	MOVL 4(SI), AX
	MOVL 8(SI), R8
	MOVL 12(SI), DX
	MOVL AX, R11
	ANDL $0x3f3f3f3f, R11
	MOVL R8, R12
	ANDL $0x3f3f3f3f, R12
	VMOVD R11, X14
	VMOVD R12, X6
	MOVL DX, R11
	ANDL $0x0f0f0f0f, R11
	SHRL $2, AX
	ANDL $0x30303030, AX
	ORL  AX, R11
	SHRL $4, DX
	ANDL $0x0f0f0f0f, DX
	SHRL $2, R8
	ANDL $0x30303030, R8
	ORL  R8, DX
	VPINSRD $1, R11, X14, X14
	VPINSRD $1, DX, X6, X6
	VPMOVZXBW X14, X14
	VPMOVZXBW X6, X6
	VPERMW Z14, Z24, Z2
	VPERMW Z14, Z25, Z3
	VPERMW Z14, Z26, Z4
	VPERMW Z14, Z27, Z5
	// The mins, for the eight activations at once.
	VSHUFI64X2 $0, Z6, Z6, Z6
	VPMADDWD (R9), Z6, Z7
	VPMADDWD 64(R9), Z6, Z8
	VCVTDQ2PS Z7, Z7
	VCVTDQ2PS Z8, Z8
	MOVWLZX 2(SI), AX
	VMOVD AX, X9
	VCVTPH2PS X9, X9
	VBROADCASTSS X9, Z9
	VMULPS 512(R10), Z9, Z10
	VMULPS 576(R10), Z9, Z9
	VFNMADD231PS Z10, Z7, Z29
	VFNMADD231PS Z9, Z8, Z31
	MOVWLZX (SI), AX
	VMOVD AX, X7
	VCVTPH2PS X7, X7
	VBROADCASTSS X7, Z28
	VMOVDQU64 16(SI), Z0
	VMOVDQU64 80(SI), Z1
	VPSRLW $4, Z0, Z12
	VPSRLW $4, Z1, Z13
	VPANDD Z15, Z0, Z0
	VPANDD Z15, Z1, Z1
	VPANDD Z15, Z12, Z12
	VPANDD Z15, Z13, Z13
	K8ACT(0, Z16, Z7, Z8)
	K8ACT(1, Z17, Z9, Z10)
	K8ACT(2, Z18, Z11, Z14)
	K8ACT(3, Z19, Z30, Z6)
	K8ACT(4, Z20, Z7, Z8)
	K8ACT(5, Z21, Z9, Z10)
	K8ACT(6, Z22, Z11, Z14)
	K8ACT(7, Z23, Z30, Z6)
	ADDQ $144, SI
	ADDQ $2048, DI
	ADDQ $128, R9
	ADDQ $640, R10
	DECQ CX
	JNZ  k8block

	VADDPS Z29, Z16, K1, Z16
	VADDPS Z29, Z17, K2, Z17
	VADDPS Z29, Z18, K3, Z18
	VADDPS Z29, Z19, K4, Z19
	VADDPS Z31, Z20, K1, Z20
	VADDPS Z31, Z21, K2, Z21
	VADDPS Z31, Z22, K3, Z22
	VADDPS Z31, Z23, K4, Z23
	G8STORE
	DECQ rows+8(FP)
	JNZ  k8row
	VZEROUPPER
	RET

// The eight-activation Q6_K prefill kernel. A block_q6_K record's 128
// low-nibble bytes are two loads (one per 128-value half) and each half's
// 32 high-bit bytes one load broadcast to both 256-bit halves of a
// register; per half, the low nibbles and the high nibbles of the ql bytes,
// each ORed with its two high bits (shifted by VPSLLVW/VPSRLVW by a
// different count in each 256-bit half), are 64 consecutive 6-bit codes
// (0-63), values 0-63 and 64-127 of the half, in the order act256 stores
// the activation. VPMADDUBSW multiplies them with the activation's codes,
// VPDPWSSD weights each pair of products with its 16-value sub-block's
// int8 scale (spread over the words by VPERMW), and the offset of 32 is
// taken out by starting each activation's sum from −32·Σ sc·S over the
// sub-blocks' 16-value sums S (one VPMADDWD), so that one conversion per
// activation and block serves 256 codes. Per activation and block:
// acc += xd·d·(Σ sc·(q·x) − 32·Σ sc·S).

// q6k8idx holds four VPERMW index vectors: vector k puts scale 4k + w/8
// in word w.
DATA q6k8idx<>+0(SB)/8, $0x0000000000000000
DATA q6k8idx<>+8(SB)/8, $0x0000000000000000
DATA q6k8idx<>+16(SB)/8, $0x0001000100010001
DATA q6k8idx<>+24(SB)/8, $0x0001000100010001
DATA q6k8idx<>+32(SB)/8, $0x0002000200020002
DATA q6k8idx<>+40(SB)/8, $0x0002000200020002
DATA q6k8idx<>+48(SB)/8, $0x0003000300030003
DATA q6k8idx<>+56(SB)/8, $0x0003000300030003
DATA q6k8idx<>+64(SB)/8, $0x0004000400040004
DATA q6k8idx<>+72(SB)/8, $0x0004000400040004
DATA q6k8idx<>+80(SB)/8, $0x0005000500050005
DATA q6k8idx<>+88(SB)/8, $0x0005000500050005
DATA q6k8idx<>+96(SB)/8, $0x0006000600060006
DATA q6k8idx<>+104(SB)/8, $0x0006000600060006
DATA q6k8idx<>+112(SB)/8, $0x0007000700070007
DATA q6k8idx<>+120(SB)/8, $0x0007000700070007
DATA q6k8idx<>+128(SB)/8, $0x0008000800080008
DATA q6k8idx<>+136(SB)/8, $0x0008000800080008
DATA q6k8idx<>+144(SB)/8, $0x0009000900090009
DATA q6k8idx<>+152(SB)/8, $0x0009000900090009
DATA q6k8idx<>+160(SB)/8, $0x000a000a000a000a
DATA q6k8idx<>+168(SB)/8, $0x000a000a000a000a
DATA q6k8idx<>+176(SB)/8, $0x000b000b000b000b
DATA q6k8idx<>+184(SB)/8, $0x000b000b000b000b
DATA q6k8idx<>+192(SB)/8, $0x000c000c000c000c
DATA q6k8idx<>+200(SB)/8, $0x000c000c000c000c
DATA q6k8idx<>+208(SB)/8, $0x000d000d000d000d
DATA q6k8idx<>+216(SB)/8, $0x000d000d000d000d
DATA q6k8idx<>+224(SB)/8, $0x000e000e000e000e
DATA q6k8idx<>+232(SB)/8, $0x000e000e000e000e
DATA q6k8idx<>+240(SB)/8, $0x000f000f000f000f
DATA q6k8idx<>+248(SB)/8, $0x000f000f000f000f
GLOBL q6k8idx<>(SB), RODATA|NOPTR, $256

DATA q6k8sh<>+0(SB)/8, $0x0004000400040004
DATA q6k8sh<>+8(SB)/8, $0x0004000400040004
DATA q6k8sh<>+16(SB)/8, $0x0004000400040004
DATA q6k8sh<>+24(SB)/8, $0x0004000400040004
DATA q6k8sh<>+32(SB)/8, $0x0002000200020002
DATA q6k8sh<>+40(SB)/8, $0x0002000200020002
DATA q6k8sh<>+48(SB)/8, $0x0002000200020002
DATA q6k8sh<>+56(SB)/8, $0x0002000200020002
DATA q6k8sh<>+64(SB)/8, $0x0000000000000000
DATA q6k8sh<>+72(SB)/8, $0x0000000000000000
DATA q6k8sh<>+80(SB)/8, $0x0000000000000000
DATA q6k8sh<>+88(SB)/8, $0x0000000000000000
DATA q6k8sh<>+96(SB)/8, $0x0002000200020002
DATA q6k8sh<>+104(SB)/8, $0x0002000200020002
DATA q6k8sh<>+112(SB)/8, $0x0002000200020002
DATA q6k8sh<>+120(SB)/8, $0x0002000200020002
GLOBL q6k8sh<>(SB), RODATA|NOPTR, $128

// q6k8sh holds the VPSLLVW counts (4 in words 0-15, 2 in 16-31) and the
// VPSRLVW counts (0, then 2) that bring a half's high bits to bits 4-5.

// Q6K8ACT adds activation i's share of the block whose codes are in Z0
// (values 0-63), Z2 (64-127), Z1 (128-191) and Z3 (192-255), spread
// scales in Z4-Z7, −32 times the scales as words in Y8 and d broadcast in
// Z9, to acc: its 256 codes at 256i(DI), its sixteen 16-value sums at
// 32i(R9) and its broadcast scale at 64i(R10). tby is tbz's low half.
#define Q6K8ACT(i, acc, ta, tby, tbz) \
	VPMADDWD (32*i)(R9), Y8, tby; \
	VPMADDUBSW (256*i)(DI), Z0, ta; \
	VPDPWSSD Z4, ta, tbz; \
	VPMADDUBSW (256*i+64)(DI), Z2, ta; \
	VPDPWSSD Z5, ta, tbz; \
	VPMADDUBSW (256*i+128)(DI), Z1, ta; \
	VPDPWSSD Z6, ta, tbz; \
	VPMADDUBSW (256*i+192)(DI), Z3, ta; \
	VPDPWSSD Z7, ta, tbz; \
	VCVTDQ2PS tbz, tbz; \
	VMULPS Z9, tbz, tbz; \
	VFMADD231PS (64*i)(R10), tbz, acc

// Q6K8HALF sets lo and hi to the codes of one half of a block: ql (64
// bytes) in lo, qh (32 bytes, in both 256-bit halves) in qh. It clobbers
// t0 and t1.
#define Q6K8HALF(lo, hi, qh, t0, t1) \
	VPSLLVW (R11), qh, t0; \
	VPANDD Z14, t0, t0; \
	VPSRLVW 64(R11), qh, t1; \
	VPANDD Z14, t1, t1; \
	VPSRLW $4, lo, hi; \
	VPANDD Z15, hi, hi; \
	VPORD t1, hi, hi; \
	VPANDD Z15, lo, lo; \
	VPORD t0, lo, lo

// func dotRows8Q6KVNNI(data *byte, rows int, nblocks int, xq *int8, xs *float32, s *int16, out *float32, stride int)
//
// Per block, the activations' codes at DI (2048 bytes), their 16-value
// sums at R9 (16 words each, activation a at word 16a: 256 bytes) and
// their scales at R10 (16 copies of each one's: 512 bytes).
TEXT ·dotRows8Q6KVNNI(SB), NOSPLIT, $0-64
	MOVQ data+0(FP), SI
	MOVQ out+48(FP), BX
	MOVQ stride+56(FP), R13
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X15
	VPBROADCASTD X15, Z15
	MOVL $0x30303030, DX
	VMOVD DX, X14
	VPBROADCASTD X14, Z14
	LEAQ q6k8sh<>(SB), R11

q8row:
	MOVQ nblocks+16(FP), CX
	MOVQ xq+24(FP), DI
	MOVQ xs+32(FP), R10
	MOVQ s+40(FP), R9
	LEAQ q6k8idx<>(SB), AX
	VMOVDQU64 (AX), Z24
	VMOVDQU64 64(AX), Z25
	VMOVDQU64 128(AX), Z26
	VMOVDQU64 192(AX), Z27
	G8CLEAR

q8block:
	VMOVDQU64 0(SI), Z0
	VMOVDQU64 64(SI), Z1
	VBROADCASTI64X4 128(SI), Z10
	VBROADCASTI64X4 160(SI), Z11
	Q6K8HALF(Z0, Z2, Z10, Z12, Z13)
	Q6K8HALF(Z1, Z3, Z11, Z12, Z13)
	VPMOVSXBW 192(SI), Y8
	VPERMW Z8, Z24, Z4
	VPERMW Z8, Z25, Z5
	VPERMW Z8, Z26, Z6
	VPERMW Z8, Z27, Z7
	VPSLLW $5, Y8, Y8
	VPXORD Y9, Y9, Y9
	VPSUBW Y8, Y9, Y8
	MOVWLZX 208(SI), AX
	VMOVD AX, X9
	VCVTPH2PS X9, X9
	VBROADCASTSS X9, Z9
	Q6K8ACT(0, Z16, Z10, Y11, Z11)
	Q6K8ACT(1, Z17, Z12, Y13, Z13)
	Q6K8ACT(2, Z18, Z28, Y29, Z29)
	Q6K8ACT(3, Z19, Z30, Y31, Z31)
	Q6K8ACT(4, Z20, Z10, Y11, Z11)
	Q6K8ACT(5, Z21, Z12, Y13, Z13)
	Q6K8ACT(6, Z22, Z28, Y29, Z29)
	Q6K8ACT(7, Z23, Z30, Y31, Z31)
	ADDQ $210, SI
	ADDQ $2048, DI
	ADDQ $256, R9
	ADDQ $512, R10
	DECQ CX
	JNZ  q8block

	G8STORE
	DECQ rows+8(FP)
	JNZ  q8row
	VZEROUPPER
	RET

// func packO8(nat *int8, groups int, k int32, q *int8, bias *int32)
//
// packO8 stores the activation codes at nat (groups groups of eight
// 32-code blocks, in x's order) in act32g8's order at q, with the same
// loads and quadword interleaving as the kernels, and each group's 16
// biases at bias: -k times the sum of the codes each lane meets (four
// VPDPBUSDs with bytes of 1).
TEXT ·packO8(SB), NOSPLIT, $0-40
	MOVQ nat+0(FP), SI
	MOVQ groups+8(FP), CX
	MOVL k+16(FP), AX
	NEGL AX
	VMOVD AX, X15
	VPBROADCASTD X15, Z15
	MOVL $0x01010101, DX
	VMOVD DX, X14
	VPBROADCASTD X14, Z14
	MOVQ q+24(FP), DI
	MOVQ bias+32(FP), BX

packloop:
	VMOVDQU 0(SI), X0
	VINSERTI32X4 $1, 32(SI), Z0, Z0
	VINSERTI32X4 $2, 64(SI), Z0, Z0
	VINSERTI32X4 $3, 96(SI), Z0, Z0
	VMOVDQU 16(SI), X1
	VINSERTI32X4 $1, 48(SI), Z1, Z1
	VINSERTI32X4 $2, 80(SI), Z1, Z1
	VINSERTI32X4 $3, 112(SI), Z1, Z1
	VMOVDQU 128(SI), X2
	VINSERTI32X4 $1, 160(SI), Z2, Z2
	VINSERTI32X4 $2, 192(SI), Z2, Z2
	VINSERTI32X4 $3, 224(SI), Z2, Z2
	VMOVDQU 144(SI), X3
	VINSERTI32X4 $1, 176(SI), Z3, Z3
	VINSERTI32X4 $2, 208(SI), Z3, Z3
	VINSERTI32X4 $3, 240(SI), Z3, Z3
	VPUNPCKLQDQ Z2, Z0, Z4
	VPUNPCKHQDQ Z2, Z0, Z5
	VPUNPCKLQDQ Z3, Z1, Z6
	VPUNPCKHQDQ Z3, Z1, Z7
	VMOVDQU64 Z4, (DI)
	VMOVDQU64 Z5, 64(DI)
	VMOVDQU64 Z6, 128(DI)
	VMOVDQU64 Z7, 192(DI)
	VPXORD Z8, Z8, Z8
	VPDPBUSD Z4, Z14, Z8
	VPDPBUSD Z5, Z14, Z8
	VPDPBUSD Z6, Z14, Z8
	VPDPBUSD Z7, Z14, Z8
	VPMULLD Z15, Z8, Z8
	VMOVDQU32 Z8, (BX)
	ADDQ $256, SI
	ADDQ $256, DI
	ADDQ $64, BX
	DECQ CX
	JNZ  packloop
	VZEROUPPER
	RET
