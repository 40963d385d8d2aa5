//go:build !amd64

package kernels

func trainScaleAVX512(x *float32, n int, s float32) {}
