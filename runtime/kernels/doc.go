// Package kernels holds the numeric kernels the runtime executes: fp32
// matrix-vector and matrix-matrix products (AVX2+FMA assembly on amd64 with
// a pure-Go fallback that agrees up to float rounding), the QLoRA/bitsandbytes
// 4-bit formats NF4 and FP4 with double quantisation and GGML's Q8_0, fused
// dequantise-and-multiply kernels that never materialise an fp32 weight
// matrix, causal grouped-query attention in an eager form and in
// FlashAttention-2's tiled online-softmax form (forward and backward), and
// perplexity.
//
// The package does not import Gorgonia; runtime/engine wraps these kernels as
// Gorgonia operations. Every function reports bad shapes as errors rather
// than panicking, and no function keeps state between calls.
package kernels
