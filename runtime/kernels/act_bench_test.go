package kernels

import "testing"

// BenchmarkActQuant times the activation quantisation of a 768-value
// vector (the 110M shape's dim), per 32 and per 256 values.
func BenchmarkActQuant(b *testing.B) {
	x := randVec(1, 768, 1)
	b.Run("act32", func(b *testing.B) {
		for b.Loop() {
			actPool.Put(act32(x, 8, false))
		}
	})
	b.Run("act32-evenodd", func(b *testing.B) {
		for b.Loop() {
			a := act32(x, 128, true)
			a.laneScales()
			actPool.Put(a)
		}
	})
	b.Run("act256", func(b *testing.B) {
		for b.Loop() {
			actPool.Put(act256(x))
		}
	})
}
