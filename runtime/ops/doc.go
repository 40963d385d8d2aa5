// Package ops wraps the runtime's kernels as Gorgonia operations, with
// gradients, so that the engine's graphs run the fast kernels: Linear (fp32
// y = x·Wᵀ with gradients for x and W), QuantLinear (the same product with a
// frozen quantised W, as QLoRA trains through it, with a gradient for x
// only) and Attention (causal grouped-query attention, eager or
// FlashAttention-2, with gradients for q, k and v).
//
// Each constructor takes a name that must be unique in its graph; the node
// is named after it, and the name is part of the operation's hash so that
// Gorgonia never merges two distinct uses. Operations hold only immutable
// configuration, never per-run state.
package ops
