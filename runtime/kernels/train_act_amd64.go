//go:build amd64

package kernels

// trainScaleAVX512 multiplies the first n elements of x by s; n must be a
// positive multiple of 16.
//
//go:noescape
func trainScaleAVX512(x *float32, n int, s float32)
