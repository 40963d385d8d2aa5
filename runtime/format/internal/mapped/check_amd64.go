//go:build amd64

package mapped

import "golang.org/x/sys/cpu"

// useAVX2 reports whether nonFiniteAVX2 may run; tests turn it off to
// check the Go loop alone.
var useAVX2 = cpu.X86.HasAVX2

// nonFiniteAVX2 reports whether any float32 in the n bytes at p, n a
// multiple of 128, is ±Inf or NaN.
//
//go:noescape
func nonFiniteAVX2(p *byte, n int) bool
