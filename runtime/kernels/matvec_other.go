//go:build !amd64

package kernels

func dotRowsSeqAVX512(w *float32, stride int, x *float32, n int, out *float32, rows int) {}

func dotRowsSeqAVX2(w *float32, stride int, x *float32, n int, out *float32, rows int) {}

func dotRows4SeqAVX512(w *float32, stride int, x *float32, n int, out *float32, h int) {}

func dotRows4SeqAVX2(w *float32, stride int, x *float32, n int, out *float32, h int) {}
