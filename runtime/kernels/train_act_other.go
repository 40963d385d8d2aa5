//go:build !amd64

package kernels

func trainScaleAVX512(x *float32, n int, s float32) {}

func trainSigmoidAVX512(dst, x *float32, n int) {}

func trainSigmoidGradAVX512(dst, x, y, gy *float32, n int) {}
