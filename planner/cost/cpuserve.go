package cost

import (
	"math"
	"sort"
)

// MeasuredServe is what the CPU runtime's server does with one model
// shape on this machine, measured at plan time (runtime.MeasureServe):
// the batched decode step (every active sequence advanced by one token in
// one pass over the weights, then sampled) at several batch sizes, and
// the prefill of one prompt chunk. Each is one layer's seconds and the
// rest's (embedding lookups, final norm, classifier, sampling).
type MeasuredServe struct {
	// Batches are the decode steps measured, by batch size.
	Batches []MeasuredBatch `json:"batches"`
	// PrefillTokens is the prompt chunk measured, and PrefillLayer and
	// PrefillHead its seconds.
	PrefillTokens int     `json:"prefill_tokens"`
	PrefillLayer  float64 `json:"prefill_layer_s"`
	PrefillHead   float64 `json:"prefill_head_s"`
	// Rounds is how many rounds of steps were timed in all, and Spread
	// the largest relative spread between one measurement's rounds.
	Rounds int     `json:"rounds"`
	Spread float64 `json:"spread"`
	// Layers is how many layers the measured models had at most: the
	// served model's own count when its file fits the calibration's
	// budget, else three.
	Layers int `json:"layers"`
	// Scaled is set when the shape was too wide to measure within the
	// calibration's budget and was measured on a narrower one (same head
	// size), its times scaled by the weights' bytes.
	Scaled bool `json:"scaled,omitempty"`
}

// MeasuredBatch is one measured batched decode step: Sequences advanced
// by one token each, at about position StepPosition.
type MeasuredBatch struct {
	Sequences int     `json:"sequences"`
	Layer     float64 `json:"layer_s"`
	Head      float64 `json:"head_s"`
}

// batchStep returns the measured step of b sequences: interpolated
// linearly between the measured batch sizes, flat beyond them (a plan
// measures up to its max_batch, so no server goes beyond).
func (m MeasuredServe) batchStep(b int) (layer, head float64) {
	pts := append([]MeasuredBatch(nil), m.Batches...)
	sort.Slice(pts, func(i, j int) bool { return pts[i].Sequences < pts[j].Sequences })
	if len(pts) == 0 {
		return 0, 0
	}
	if len(pts) == 1 || b <= pts[0].Sequences {
		return pts[0].Layer, pts[0].Head
	}
	i := 1
	for i < len(pts)-1 && b > pts[i].Sequences {
		i++
	}
	lo, hi := pts[i-1], pts[i]
	t := min(float64(b-lo.Sequences)/float64(max(hi.Sequences-lo.Sequences, 1)), 1)
	return max(lo.Layer+t*(hi.Layer-lo.Layer), 0), max(lo.Head+t*(hi.Head-lo.Head), 0)
}

// ServeStep predicts one step of the CPU runtime's server advancing b
// sequences by one token each at context position pos, from the measured
// batched step (MeasuredServe): the layers' time, corrected for the
// caches as the decode step is (the measured models of at most three
// layers may keep in cache weights that the whole model streams from
// memory; once per step, since a batched step streams the weights once
// for all its sequences), plus each sequence's attention over its longer
// context at the measured growth per position (StepPositionSeconds, from
// the single-sequence decode step), plus the rest. A step measured on all
// the model's layers (MeasuredServe.Layers) needs no correction.
func (w *Workload) ServeStep(r *CPURates, m MeasuredServe, b int, pos int) float64 {
	if len(m.Batches) == 0 {
		return 0
	}
	layer, head := m.batchStep(b)
	total := 0.0
	for _, x := range w.streamed() {
		total += x
	}
	kw := *w
	kw.Batch = b
	kv := float64(kw.KVCacheBytes(pos))
	kw.StepLayerSeconds = layer
	if r != nil && m.Layers < w.Arch.Layers {
		layer = kw.stepLayer(r, total, kv)
	}
	grow := float64(b) * w.StepPositionSeconds * (float64(pos) - StepPosition)
	return max(float64(w.Arch.Layers)*(layer+grow)+head, head)
}

// ServeTokensPerSecond predicts the CPU runtime server's aggregate decode
// rate with b sequences decoding together at position pos.
func (w *Workload) ServeTokensPerSecond(r *CPURates, m MeasuredServe, b int, pos int) float64 {
	s := w.ServeStep(r, m, b, pos)
	if !(s > 0) || math.IsInf(s, 0) {
		return 0
	}
	return float64(b) / s
}

// ServePrefill predicts the CPU runtime server's prefill of one prompt
// chunk of n tokens from position 0: the measured chunk's layer time in
// proportion to the tokens, plus, for a chunk longer than the measured
// one, the attention over the longer prefix at the decode step's growth
// per position, plus the rest (one row's classifier and sampling).
func (w *Workload) ServePrefill(m MeasuredServe, n int) float64 {
	if m.PrefillTokens <= 0 || n <= 0 {
		return 0
	}
	k := float64(m.PrefillTokens)
	layer := m.PrefillLayer * float64(n) / k
	if float64(n) > k {
		// Tokens at positions 0..n-1 against the measured 0..k-1, scaled:
		// Σp over n tokens minus n/k times Σp over k.
		layer += w.StepPositionSeconds * float64(n) * (float64(n) - k) / 2
	}
	return float64(w.Arch.Layers)*layer + m.PrefillHead
}

// ServeBatches returns the numbers of concurrent sequences whose step a
// CPU server's calibration measures (runtime.MeasureServe) and its plan
// predicts, for a server of maxBatch slots: 1, then doubling, and
// maxBatch itself; the steps between are interpolated.
func ServeBatches(maxBatch int) []int {
	maxBatch = max(maxBatch, 1)
	out := []int{1}
	for b := 2; b < maxBatch; b *= 2 {
		out = append(out, b)
	}
	if maxBatch > 1 {
		out = append(out, maxBatch)
	}
	return out
}
