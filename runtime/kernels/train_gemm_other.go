//go:build !amd64

package kernels

func trainGemm8x32AVX512(a *float32, as, ak int, b *float32, bs int, k int, c *float32, cs int, run int, add bool) {
}

func trainPack32AVX2(w *float32, stride int, panel *float32, k8 int) {}

func trainPrefetchT1(p *float32, lines int) {}
