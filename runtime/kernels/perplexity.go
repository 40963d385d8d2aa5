package kernels

import (
	"fmt"
	"math"
)

// NLL returns the negative log-likelihood −log softmax(logits)[target] of
// one position, computed in float64 with the maximum subtracted.
func NLL(logits []float32, target int) (float64, error) {
	if target < 0 || target >= len(logits) {
		return 0, fmt.Errorf("kernels.NLL: target %d outside the vocabulary [0, %d)", target, len(logits))
	}
	m := math.Inf(-1)
	for _, x := range logits {
		m = math.Max(m, float64(x))
	}
	if math.IsInf(m, 0) || math.IsNaN(m) {
		return 0, fmt.Errorf("kernels.NLL: logits are not finite (max %v)", m)
	}
	var sum float64
	for _, x := range logits {
		sum += math.Exp(float64(x) - m)
	}
	return m + math.Log(sum) - float64(logits[target]), nil
}

// Perplexity returns exp of the mean negative log-likelihood of targets,
// where row i of logits (shape [len(targets), vocab]) is the model's
// prediction for targets[i].
func Perplexity(logits []float32, vocab int, targets []int) (float64, error) {
	if len(targets) == 0 {
		return 0, fmt.Errorf("kernels.Perplexity: no targets")
	}
	if vocab <= 0 {
		return 0, fmt.Errorf("kernels.Perplexity: vocabulary size %d", vocab)
	}
	if err := checkLen("Perplexity", "logits", len(logits), len(targets)*vocab); err != nil {
		return 0, err
	}
	var total float64
	for i, t := range targets {
		nll, err := NLL(logits[i*vocab:(i+1)*vocab], t)
		if err != nil {
			return 0, fmt.Errorf("position %d: %w", i, err)
		}
		total += nll
	}
	return math.Exp(total / float64(len(targets))), nil
}
