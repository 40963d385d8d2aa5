// Package sample chooses the next token from a model's logits: greedily
// at temperature 0, otherwise by seeded random sampling with temperature,
// top-k and nucleus (top-p) truncation.
//
// The algorithm is llama2.c's sampler, extended with top-k, so that a run
// is reproducible from its seed on every machine:
//
//  1. Temperature 0: the index of the largest logit (the first on ties).
//  2. Otherwise divide the logits by the temperature and softmax them.
//  3. Draw one coin in [0, 1) from the xorshift* generator (state ^= state>>12;
//     state ^= state<<25; state ^= state>>27; u32 = (state·0x2545F4914F6CDD1D)>>32;
//     coin = (u32>>8)/2^24), seeded with Params.Seed (0 stands for
//     0x853c49e6748fea9b, since xorshift cannot leave the zero state).
//  4. Without truncation (TopK ≤ 0 or ≥ vocabulary, TopP ≤ 0 or ≥ 1) return
//     the first index where the running sum of probabilities exceeds coin.
//  5. With truncation, keep the candidates (those with probability at least
//     (1-TopP)/(n-1) when TopP truncates, else all), sort them by
//     descending probability (ascending index on ties), keep the first TopK,
//     then the shortest prefix whose sum exceeds TopP; scale the coin by
//     that prefix's sum and walk its running sum as in step 4.
package sample

import (
	"fmt"
	"math"
	"slices"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// Params are the sampling settings.
type Params struct {
	Temperature float64 // 0 means greedy
	TopP        float64 // nucleus mass; 0 or 1 means no top-p truncation
	TopK        int     // 0 means no top-k truncation
	Seed        uint64
}

// Sampler draws tokens. It is not safe for concurrent use.
type Sampler struct {
	p     Params
	state uint64
	probs []float32
	cands []cand
}

type cand struct {
	id   int
	prob float32
}

// New returns a sampler for p, or an error for settings out of range.
func New(p Params) (*Sampler, error) {
	if p.Temperature < 0 || math.IsNaN(p.Temperature) || math.IsInf(p.Temperature, 0) {
		return nil, fmt.Errorf("sample: temperature %v must be finite and not negative", p.Temperature)
	}
	if p.TopP < 0 || p.TopP > 1 || math.IsNaN(p.TopP) {
		return nil, fmt.Errorf("sample: top_p %v must be between 0 and 1", p.TopP)
	}
	if p.TopK < 0 {
		return nil, fmt.Errorf("sample: top_k %d must not be negative", p.TopK)
	}
	s := &Sampler{p: p, state: p.Seed}
	if s.state == 0 {
		s.state = 0x853c49e6748fea9b
	}
	return s, nil
}

func (s *Sampler) u32() uint32 {
	s.state ^= s.state >> 12
	s.state ^= s.state << 25
	s.state ^= s.state >> 27
	return uint32((s.state * 0x2545F4914F6CDD1D) >> 32)
}

func (s *Sampler) coin() float32 { return float32(s.u32()>>8) / 16777216.0 }

// Sample returns the next token for logits. It does not modify logits.
// An empty slice yields -1.
func (s *Sampler) Sample(logits []float32) int {
	n := len(logits)
	if n == 0 {
		return -1
	}
	if s.p.Temperature == 0 {
		return Argmax(logits)
	}
	if cap(s.probs) < n {
		s.probs = make([]float32, n)
	}
	probs := s.probs[:n]
	temp := float32(s.p.Temperature)
	mx := float32(math.Inf(-1))
	if temp == 1 { // v/1 is v: skip the divisions
		copy(probs, logits)
		for _, v := range probs {
			mx = max(mx, v)
		}
	} else {
		for i, v := range logits {
			probs[i] = v / temp
			mx = max(mx, probs[i])
		}
	}
	// float32(math.Exp(float64(v - mx))) for every v, bit for bit, several
	// at a time.
	kernels.ExpShifted(probs, mx)
	var sum float32
	for _, p := range probs {
		sum += p
	}
	coin := s.coin()
	topP := s.p.TopP > 0 && s.p.TopP < 1
	topK := s.p.TopK > 0 && s.p.TopK < n
	if !topP && !topK {
		// Each probability is divided by the sum only when the walk
		// reaches it: the same quotients, without those past the draw.
		var cdf float32
		for i, p := range probs {
			cdf += p / sum
			if coin < cdf {
				return i
			}
		}
		return n - 1
	}
	for i := range probs {
		probs[i] /= sum
	}
	cutoff := float32(0)
	if topP && n > 1 {
		cutoff = float32(1-s.p.TopP) / float32(n-1)
	}
	cands := s.cands[:0]
	for i, p := range probs {
		if p >= cutoff {
			cands = append(cands, cand{i, p})
		}
	}
	s.cands = cands
	slices.SortFunc(cands, func(a, b cand) int {
		switch {
		case a.prob > b.prob:
			return -1
		case a.prob < b.prob:
			return 1
		}
		return a.id - b.id
	})
	if topK && len(cands) > s.p.TopK {
		cands = cands[:s.p.TopK]
	}
	if len(cands) == 0 { // every probability fell below the cut-off (NaN logits)
		return Argmax(logits)
	}
	last := len(cands) - 1
	var cum float32
	for i, c := range cands {
		cum += c.prob
		if topP && cum > float32(s.p.TopP) {
			last = i
			break
		}
	}
	r := coin * cum
	var cdf float32
	for _, c := range cands[:last+1] {
		cdf += c.prob
		if r < cdf {
			return c.id
		}
	}
	return cands[last].id
}

// Argmax returns the index of the largest value, the first on ties (0
// for an empty x; NaNs are passed over, and a NaN at index 0 is returned,
// as nothing compares greater than it).
//
// It keeps four running maxima, each over every fourth value with the
// first index where it was reached, and combines them at the end: a
// greedy decode step takes the argmax of the whole vocabulary on the
// caller's thread while a pool's workers wait, and with one maximum the
// next comparison waited on the load of the value at the last best index
// (27 µs for a 32,000-token vocabulary against 8 µs; BenchmarkArgmax).
func Argmax(x []float32) int {
	if len(x) == 0 || x[0] != x[0] {
		return 0
	}
	var m [4]float32
	var at [4]int
	for k := range m {
		m[k], at[k] = x[0], 0
	}
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		if v[0] > m[0] {
			m[0], at[0] = v[0], i
		}
		if v[1] > m[1] {
			m[1], at[1] = v[1], i+1
		}
		if v[2] > m[2] {
			m[2], at[2] = v[2], i+2
		}
		if v[3] > m[3] {
			m[3], at[3] = v[3], i+3
		}
	}
	best, bestAt := m[0], at[0]
	for k := 1; k < 4; k++ {
		if m[k] > best || m[k] == best && at[k] < bestAt {
			best, bestAt = m[k], at[k]
		}
	}
	for ; i < len(x); i++ {
		if x[i] > best {
			best, bestAt = x[i], i
		}
	}
	return bestAt
}
