//go:build amd64

#include "textflag.h"

// func dotQ8AVX2(data *byte, nblocks int, x *float32) float32
TEXT ·dotQ8AVX2(SB), NOSPLIT, $0-28
	MOVQ data+0(FP), SI
	MOVQ nblocks+8(FP), CX
	MOVQ x+16(FP), DI
	VXORPS Y12, Y12, Y12

q8loop:
	TESTQ CX, CX
	JZ    q8done
	VPMOVSXBD 2(SI), Y0
	VCVTDQ2PS Y0, Y0
	VMULPS (DI), Y0, Y8
	VPMOVSXBD 10(SI), Y1
	VCVTDQ2PS Y1, Y1
	VFMADD231PS 32(DI), Y1, Y8
	VPMOVSXBD 18(SI), Y2
	VCVTDQ2PS Y2, Y2
	VMULPS 64(DI), Y2, Y9
	VPMOVSXBD 26(SI), Y3
	VCVTDQ2PS Y3, Y3
	VFMADD231PS 96(DI), Y3, Y9
	VADDPS Y9, Y8, Y8
	// The block's float16 scale, converted with F16C.
	MOVWLZX (SI), DX
	VMOVD DX, X4
	VCVTPH2PS X4, X4
	VBROADCASTSS X4, Y4
	VFMADD231PS Y4, Y8, Y12
	ADDQ $34, SI
	ADDQ $128, DI
	DECQ CX
	JMP  q8loop

q8done:
	VEXTRACTF128 $1, Y12, X1
	VADDPS X1, X12, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// SHUFHALF decodes the 32 4-bit indices (one per byte) in idx through the
// byte-plane tables Y12-Y15 (byte k of each code value's float32 bits, in
// both lanes) into 32 floats, and multiplies them with the 32 floats of xp
// at xoff(DI), accumulating into Y8 and Y9. It clobbers Y1-Y7.
#define SHUFHALF(idx, xoff) \
	VPSHUFB idx, Y12, Y2; \
	VPSHUFB idx, Y13, Y3; \
	VPSHUFB idx, Y14, Y4; \
	VPSHUFB idx, Y15, Y5; \
	VPUNPCKLBW Y3, Y2, Y6; \
	VPUNPCKHBW Y3, Y2, Y2; \
	VPUNPCKLBW Y5, Y4, Y3; \
	VPUNPCKHBW Y5, Y4, Y4; \
	VPUNPCKLWD Y3, Y6, Y5; \
	VPUNPCKHWD Y3, Y6, Y6; \
	VFMADD231PS xoff(DI), Y5, Y8; \
	VFMADD231PS xoff+32(DI), Y6, Y9; \
	VPUNPCKLWD Y4, Y2, Y7; \
	VPUNPCKHWD Y4, Y2, Y2; \
	VFMADD231PS xoff+64(DI), Y7, Y8; \
	VFMADD231PS xoff+96(DI), Y2, Y9

// func dot4bitAVX2(codes *byte, scales *float32, n64 int, xp *float32, planes *[64]byte) float32
//
// The table lookup is done by byte shuffles: each of the four bytes of a
// code value's float32 bits is looked up with VPSHUFB and the bytes are
// interleaved back into floats, which costs about half the shuffle-port
// operations of two VPERMPS and a blend per 8 values (measured: 1.9x the
// throughput). The low 128-bit lane ends up holding the first 32 values of
// each 64 and the high lane the last 32, so each half gets its own scale.
TEXT ·dot4bitAVX2(SB), NOSPLIT, $0-44
	MOVQ codes+0(FP), SI
	MOVQ scales+8(FP), BX
	MOVQ n64+16(FP), CX
	MOVQ xp+24(FP), DI
	MOVQ planes+32(FP), AX
	VBROADCASTI128 (AX), Y12
	VBROADCASTI128 16(AX), Y13
	VBROADCASTI128 32(AX), Y14
	VBROADCASTI128 48(AX), Y15
	MOVL $0x0f0f0f0f, DX
	VMOVD DX, X11
	VPBROADCASTD X11, Y11
	VXORPS Y10, Y10, Y10

shloop:
	TESTQ CX, CX
	JZ    shdone
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VMOVDQU (SI), Y0
	VPSRLW $4, Y0, Y1
	VPAND Y11, Y1, Y1
	VPAND Y11, Y0, Y0
	SHUFHALF(Y1, 0)
	SHUFHALF(Y0, 128)
	VADDPS Y9, Y8, Y8
	VBROADCASTSS (BX), X1
	VBROADCASTSS 4(BX), X2
	VINSERTF128 $1, X2, Y1, Y1
	VFMADD231PS Y1, Y8, Y10
	ADDQ $32, SI
	ADDQ $256, DI
	ADDQ $8, BX
	DECQ CX
	JMP  shloop

shdone:
	VEXTRACTF128 $1, Y10, X1
	VADDPS X1, X10, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+40(FP)
	RET
