//go:build !amd64

package kernels

func ropeAVX512(dst, src, cos, sin *float32, heads, half int, flip uint64) {}
