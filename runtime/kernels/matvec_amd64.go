//go:build amd64

package kernels

// dotRowsSeqAVX512 sets out[r] to the dot product of row r of the rows rows
// that start at w and are stride elements apart with the first n elements
// of x, for r < rows, summed in llama2.c's order (see dotRowsSeq); any
// n ≥ 0. It needs AVX-512 F.
//
//go:noescape
func dotRowsSeqAVX512(w *float32, stride int, x *float32, n int, out *float32, rows int)

// dotRowsSeqAVX2 is dotRowsSeqAVX512 on 256-bit registers, with the same
// results.
//
//go:noescape
func dotRowsSeqAVX2(w *float32, stride int, x *float32, n int, out *float32, rows int)

// dotRows4SeqAVX512 sets out[q·h+i] for q < 4 and i < h to the dot product
// of row q·h+i of the rows that start at w and are stride elements apart
// with the first n elements of x, each summed as dotRowsSeqAVX512 sums it,
// reading the four quarters of the 4h rows side by side; h ≥ 1, any n ≥ 0.
// It needs AVX-512 F.
//
//go:noescape
func dotRows4SeqAVX512(w *float32, stride int, x *float32, n int, out *float32, h int)

// dotRows4SeqAVX2 is dotRows4SeqAVX512 on 256-bit registers, with the same
// results.
//
//go:noescape
func dotRows4SeqAVX2(w *float32, stride int, x *float32, n int, out *float32, h int)
