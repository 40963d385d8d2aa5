//go:build !amd64

package mapped

var useAVX2 = false

func nonFiniteAVX2(p *byte, n int) bool { return false }
