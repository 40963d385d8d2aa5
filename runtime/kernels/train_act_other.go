//go:build !amd64

package kernels

func trainScaleAVX512(x *float32, n int, s float32) {}

func trainSigmoidAVX512(dst, x *float32, n int) {}

func trainSigmoidGradAVX512(dst, x, y, gy *float32, n int) {}

func axpyRowsAVX2(y *float32, c *float32, cs int, x *float32, xs int, rows, n8 int) {}
