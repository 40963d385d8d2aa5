#include "textflag.h"

// func tscAux() uint32
TEXT ·tscAux(SB), NOSPLIT, $0-4
	RDTSCP
	MOVL CX, ret+0(FP)
	RET

// func segCPU() uint32
TEXT ·segCPU(SB), NOSPLIT, $0-4
	MOVL $0x7b, AX
	LSLL AX, AX
	MOVL AX, ret+0(FP)
	RET
