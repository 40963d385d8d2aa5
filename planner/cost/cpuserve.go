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

// ServePromptTokens is the short prompt a CPU serving plan assumes before
// each reply (BOS and a few words).
const ServePromptTokens = 8

// ServeRequestTokensPerSecond predicts the CPU server's aggregate rate of
// generated tokens with b clients each asking for gen tokens after a
// prompt of prompt tokens, one request after another, as a client measures
// it: each reply's first token comes from its prompt's prefill (the b
// prompts prefilled together, at the measured chunk's rate per token), the
// other gen-1 from decode steps of b sequences at about position pos. With
// the server's steps of about 16 ms (15M, 16 sequences, compile = none) a
// 64-token reply's prefill is about a tenth of its time.
func (w *Workload) ServeRequestTokensPerSecond(r *CPURates, m MeasuredServe, b, pos, gen, prompt int) float64 {
	step := w.ServeStep(r, m, b, pos)
	if !(step > 0) || math.IsInf(step, 0) || gen < 1 {
		return 0
	}
	t := float64(gen-1)*step + w.ServePrefill(m, b*max(prompt, 1))
	return float64(b*gen) / t
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

// serving reports whether w is a CPU server's memory workload: one prompt
// chunk (Seq) prefilled while CacheBatch slots hold their caches.
func (w *Workload) serving() bool { return w.CacheBatch > 0 }

// ServePassRows returns the most rows one pass of the CPU server computes:
// a prompt chunk of Seq tokens (the scheduler's prefill budget per step)
// with every other slot's sequence decoding one token beside it.
func (w *Workload) ServePassRows() int {
	return max(w.Seq, 1) + max(w.CacheBatch-1, 0)
}

// passActivationBytes returns what one forward pass of the CPU engine over
// rows tokens holds at its peak under compile = none or default, whose
// multi-row graphs allocate every op's output afresh: per row and layer
// the q/k/v/o, gate/up/down products, the SiLU's sigmoid, the two norms
// and their scales, the rotated q and k, and the attention output (3 q +
// 3 kv + 6 dim + 3 hidden floats); one layer's attention scores (heads ×
// rows × context, made and dropped layer by layer); and the logits of the
// rows that want them (at most outs). Measured with the heap profile of a
// 256-token 15M pass (34.4 MiB of op outputs, 1.7 MiB of scores) and a
// 512-token stories260K one (12.1 MiB, 8 MiB).
func (w *Workload) passActivationBytes(rows, outs, ctx int) int64 {
	c := w.Arch
	q := int64(c.Heads * c.HeadSize())
	kv := int64(c.KVHeads * c.HeadSize())
	perRow := int64(c.Layers) * (3*q + 3*kv + 6*int64(c.Dim) + 3*int64(c.HiddenDim))
	scores := int64(c.Heads) * int64(rows) * int64(max(ctx, rows))
	return 4 * (int64(rows)*perRow + scores + int64(outs)*int64(c.Vocab))
}

// arenaPassBytes returns one layer's share of a forward pass's
// activations over rows tokens, with a layer's attention scores and the
// last row's logits: what the engine's arena holds under reduce_overhead
// and max_autotune, whose op buffers the layers share.
func (w *Workload) arenaPassBytes(rows int) int64 {
	c := w.Arch
	q := int64(c.Heads * c.HeadSize())
	kv := int64(c.KVHeads * c.HeadSize())
	perRow := 3*q + 3*kv + 6*int64(c.Dim) + 3*int64(c.HiddenDim)
	scores := int64(c.Heads) * int64(rows) * int64(rows)
	return 4 * (int64(rows)*perRow + scores + int64(c.Vocab))
}

// serveHeapPeak returns the Go heap's peak in a CPU server whose heap
// holds live bytes once its model and caches are ready: the live heap
// plus one pass's activations (ServePassRows of them, with the logits of
// every slot), grown by the collector's headroom. The runtime fixes the
// collector's percentage from the live heap when serving starts
// (runtime.boundHeap with DecodeHeapHeadroom), so the headroom is that
// fraction of the larger heap a prefill pass makes: for a small model
// (4 MiB over a live heap of a few MiB) it is most of a pass's
// activations again. It returns the activations and the headroom.
func (w *Workload) serveHeapPeak(live int64, ctx int) (act, headroom int64) {
	act = w.passActivationBytes(w.ServePassRows(), max(w.CacheBatch, 1), ctx)
	pct := min(float64(DecodeHeapHeadroom(live))/float64(max(live, 1)), 1)
	return act, int64(pct * float64(live+act))
}
