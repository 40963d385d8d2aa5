//go:build amd64

package kernels

// trainGemm8x32AVX512 sets (add false) or adds to (add true) C[i][0:32],
// for the eight rows i < 8 of C that are cs elements apart, the sum
// Σ_{p<k} A[i·as + p·ak]·B[p·bs : p·bs+32]: in runs of run values of p,
// each summed in order in one FMA chain from zero and then added to C (the
// first stored when add is false); k and run must be positive. It needs
// AVX-512 F.
//
//go:noescape
func trainGemm8x32AVX512(a *float32, as, ak int, b *float32, bs int, k int, c *float32, cs int, run int, add bool)

// trainPack32AVX2 sets panel[p·32+j] = w[j·stride+p] for the 32 rows j of
// W that are stride elements apart and the columns p < k8; k8 must be a
// positive multiple of 8.
//
//go:noescape
func trainPack32AVX2(w *float32, stride int, panel *float32, k8 int)

// trainPrefetchT1 asks for the lines 64-byte cache lines from p to be
// brought into L2; it reads nothing and faults on nothing.
//
//go:noescape
func trainPrefetchT1(p *float32, lines int)
