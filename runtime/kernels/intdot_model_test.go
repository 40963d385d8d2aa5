package kernels_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// decodePerplexity returns the held-out perplexity of m fed one token at a
// time (each product a matrix-vector product, the path the integer-dot
// kernels take), and the largest logit difference from other, fed the
// same way, when other is not nil.
func decodePerplexity(t *testing.T, m, other *refModel, ids [][]int) (ppl, maxDiff, maxLogit float64) {
	t.Helper()
	var total float64
	n := 0
	for _, seq := range ids {
		for i := 0; i+1 < len(seq); i++ {
			l, err := m.forward(seq[i:i+1], i)
			if err != nil {
				t.Fatal(err)
			}
			l = append([]float32(nil), l...)
			if other != nil {
				lo, err := other.forward(seq[i:i+1], i)
				if err != nil {
					t.Fatal(err)
				}
				for j := range l {
					maxDiff = max(maxDiff, math.Abs(float64(l[j]-lo[j])))
					maxLogit = max(maxLogit, math.Abs(float64(lo[j])))
				}
			}
			nll, err := kernels.NLL(l, seq[i+1])
			if err != nil {
				t.Fatal(err)
			}
			total += nll
			n++
		}
	}
	return math.Exp(total / float64(n)), maxDiff, maxLogit
}

// TestIntDotPerplexity measures what the integer-dot kernels' 8-bit
// activations cost on stories260K, every linear layer and the classifier
// quantised, decoding token by token: the held-out perplexity with the
// integer kernels must be within 0.5% of the float kernels' on the same
// weights (Q8_0, NF4, FP4; NF4/FP4 also round their code tables to int8).
// Only the products whose rows are multiples of 32 values take the
// integer path here (all but the feed-forward's 172-wide w2).
func TestIntDotPerplexity(t *testing.T) {
	dir := filepath.Dir(testmodels.Path(t, "stories260K.bin"))
	s, err := llama2c.Open(filepath.Join(dir, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if s.Close != nil {
			s.Close()
		}
	}()
	_, tok := loadRef(t, kernels.MethodInvalid)
	var ids [][]int
	for _, text := range heldOut {
		ids = append(ids, tok.Encode(text, true, false))
	}
	for _, m := range []kernels.Method{kernels.Q8_0, kernels.NF4, kernels.FP4} {
		get := func(name string) []float32 { return tensorF32(t, s, name) }
		intModel := buildRef(t, s.Config, m, true, get)
		floatModel := buildRef(t, s.Config, m, true, get)
		floatModel.exec.NoVNNI = true
		pf, _, _ := decodePerplexity(t, floatModel, nil, ids)
		pi, d, ml := decodePerplexity(t, intModel, floatModel, ids)
		t.Logf("%v: perplexity %.4f with the float kernels, %.4f with the integer ones (%+.3f%%); max logit difference %.4f (max |logit| %.2f)", m, pf, pi, 100*(pi/pf-1), d, ml)
		if math.Abs(pi/pf-1) > 0.005 {
			t.Errorf("%v: integer-dot perplexity %.4f is %.2f%% from the float kernels' %.4f; want within 0.5%%", m, pi, 100*(pi/pf-1), pf)
		}
	}
}
