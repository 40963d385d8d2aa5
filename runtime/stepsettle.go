package runtime

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// The decode-step measurement repeats its round (48 steps of each model)
// until two successive rounds agree, because one round is at the mercy of
// whatever else the machine does during it: two single-round calibrations
// of the 110M Q8_0 shape five minutes apart on this project's quiet 2-vCPU
// VM predicted decode rates 30% apart. settle bounds the repetition by
// rounds and by time, and the plan says when the rounds kept disagreeing.
const (
	// stepMinRounds rounds always run: agreement needs two.
	stepMinRounds = 2
	// stepMaxRounds bounds the rounds of one measurement.
	stepMaxRounds = 6
	// stepAgree is how close (relatively) two successive rounds' median
	// steps must be, for each model, to count as agreeing.
	stepAgree = 0.05
	// stepSettleTime bounds the time spent on rounds after the first two:
	// no round starts once it has passed.
	stepSettleTime = 20 * time.Second
)

// settlePolicy is settle's bounds; the zero value is invalid.
type settlePolicy struct {
	MinRounds, MaxRounds int
	Agree                float64
	MaxTime              time.Duration
}

// defaultSettle is the policy measureStep uses.
var defaultSettle = settlePolicy{MinRounds: stepMinRounds, MaxRounds: stepMaxRounds, Agree: stepAgree, MaxTime: stepSettleTime}

// settled is what settle returns: the median over the rounds of each
// model's median step, the rounds run, whether the last two agreed, and
// the spread: (largest - smallest) / median of the rounds' steps, the
// larger of the two models'.
type settled struct {
	T [2]float64
	// First is the first round's medians: what one round alone measured.
	First  [2]float64
	Rounds int
	Agreed bool
	Spread float64
}

// settle runs round (one round of steps of the two models, returning each
// model's median step in seconds) until two successive rounds agree
// within p.Agree on both models, at least p.MinRounds and at most
// p.MaxRounds times, and starts no round after the first two once
// p.MaxTime has passed on now's clock.
func settle(round func() ([2]float64, error), now func() time.Time, p settlePolicy) (settled, error) {
	if p.MinRounds < 2 || p.MaxRounds < p.MinRounds || !(p.Agree > 0) {
		return settled{}, fmt.Errorf("settle: invalid policy %+v", p)
	}
	start := now()
	var rounds [2][]float64
	var out settled
	for n := 0; n < p.MaxRounds; n++ {
		if n >= p.MinRounds && now().Sub(start) >= p.MaxTime {
			break
		}
		t, err := round()
		if err != nil {
			return settled{}, err
		}
		for i := range t {
			if !(t[i] > 0) || math.IsInf(t[i], 0) {
				return settled{}, fmt.Errorf("settle: round %d measured a step of %g s", n+1, t[i])
			}
			rounds[i] = append(rounds[i], t[i])
		}
		out.Rounds = n + 1
		if n == 0 {
			out.First = t
		}
		if out.Rounds >= 2 {
			out.Agreed = close2(rounds[0], p.Agree) && close2(rounds[1], p.Agree)
			if out.Agreed && out.Rounds >= p.MinRounds {
				break
			}
		}
	}
	for i := range rounds {
		x := slices.Clone(rounds[i])
		slices.Sort(x)
		med := x[len(x)/2]
		if len(x)%2 == 0 {
			med = (x[len(x)/2-1] + x[len(x)/2]) / 2
		}
		out.T[i] = med
		out.Spread = max(out.Spread, (x[len(x)-1]-x[0])/med)
	}
	return out, nil
}

// close2 reports whether the last two values of x are within agree of
// each other, relative to the smaller.
func close2(x []float64, agree float64) bool {
	a, b := x[len(x)-2], x[len(x)-1]
	return math.Abs(a-b) <= agree*min(a, b)
}
