package kernels

import (
	"math"
	"testing"
)

func TestPerplexityByHand(t *testing.T) {
	// Uniform logits over 4 tokens: perplexity 4 whatever the targets.
	p, err := Perplexity(make([]float32, 8), 4, []int{0, 3})
	if err != nil || math.Abs(p-4) > 1e-12 {
		t.Errorf("uniform: %v, %v; want 4", p, err)
	}
	// Logits ln(1), ln(3): probabilities 1/4 and 3/4. Targets 1 then 0:
	// perplexity = (4/3 · 4)^(1/2).
	l := []float32{0, float32(math.Log(3)), 0, float32(math.Log(3))}
	p, err = Perplexity(l, 2, []int{1, 0})
	if want := math.Sqrt(16.0 / 3); err != nil || math.Abs(p-want) > 1e-6 {
		t.Errorf("got %v, %v; want %v", p, err, want)
	}
	// Large logits do not overflow.
	if nll, err := NLL([]float32{1000, 0}, 0); err != nil || nll > 1e-12 {
		t.Errorf("NLL of a certain token = %v, %v", nll, err)
	}
	if _, err := Perplexity(l, 2, []int{2, 0}); err == nil {
		t.Error("target outside the vocabulary accepted")
	}
	if _, err := Perplexity(l[:3], 2, []int{1, 0}); err == nil {
		t.Error("short logits accepted")
	}
	inf := float32(math.Inf(1))
	if _, err := NLL([]float32{inf, 0}, 0); err == nil {
		t.Error("infinite logits accepted")
	}
}
