// quantize writes a llama.cpp-quantised copy of a GGUF file with
// llama_model_quantize from the libllama that node-llama-cpp ships, so that
// bench.sh can compare whisperc with llama.cpp on llama.cpp's own Q4_K_M
// files (whisperc writes F32, Q8_0 and Q4_0 itself). FTYPE is llama.cpp's
// llama_ftype (15 = Q4_K_M, 17 = Q5_K_M, 18 = Q6_K).
//
// Only the two leading fields of llama_model_quantize_params are named
// (nthread, ftype: first in every llama.cpp release); the rest is kept as
// the library's defaults in an oversized buffer.
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
typedef struct { int32_t nthread; int32_t ftype; char rest[248]; } params;
params llama_model_quantize_default_params(void);
uint32_t llama_model_quantize(const char *in, const char *out, const params *p);
void llama_backend_init(void);
int main(int argc, char **argv) {
	if (argc != 4) { fprintf(stderr, "usage: %s IN.gguf OUT.gguf FTYPE\n", argv[0]); return 2; }
	llama_backend_init();
	params p = llama_model_quantize_default_params();
	p.ftype = atoi(argv[3]);
	p.nthread = 2;
	uint32_t rc = llama_model_quantize(argv[1], argv[2], &p);
	if (rc != 0) { fprintf(stderr, "llama_model_quantize failed (%u)\n", rc); return 1; }
	return 0;
}
