package runtime

import (
	"errors"
	"math"
	"testing"
	"time"
)

// fakeRounds returns a round function that yields the given medians in
// turn and advances clock by per each round, and counts its calls.
func fakeRounds(vals [][2]float64, clock *time.Time, per time.Duration, calls *int) func() ([2]float64, error) {
	return func() ([2]float64, error) {
		v := vals[min(*calls, len(vals)-1)]
		*calls++
		*clock = clock.Add(per)
		return v, nil
	}
}

func TestSettle(t *testing.T) {
	p := settlePolicy{MinRounds: 2, MaxRounds: 6, Agree: 0.05, MaxTime: 20 * time.Second}
	cases := []struct {
		name       string
		vals       [][2]float64
		per        time.Duration
		wantRounds int
		wantAgreed bool
		wantT      [2]float64
		wantSpread float64
	}{
		// Two quiet rounds agree at once.
		{"quiet", [][2]float64{{0.010, 0.020}, {0.0102, 0.0201}}, time.Second, 2, true, [2]float64{0.0101, 0.02005}, 0.02},
		// A disturbed first round: the next two agree, and the median of
		// three ignores the outlier.
		{"one outlier", [][2]float64{{0.013, 0.026}, {0.010, 0.020}, {0.0101, 0.0202}}, time.Second, 3, true, [2]float64{0.0101, 0.0202}, 0.003 / 0.0101},
		// Only the second model disagrees: that is enough to go on.
		{"second model", [][2]float64{{0.010, 0.020}, {0.010, 0.024}, {0.010, 0.0241}}, time.Second, 3, true, [2]float64{0.010, 0.024}, 0.0041 / 0.024},
		// Never agreeing: stops at MaxRounds, not agreed.
		{"noisy", [][2]float64{{0.010, 0.020}, {0.012, 0.024}, {0.010, 0.020}, {0.012, 0.024}, {0.010, 0.020}, {0.012, 0.024}, {0.010, 0.020}},
			time.Second, 6, false, [2]float64{0.011, 0.022}, 0.2 / 1.1},
		// Slow rounds: once MaxTime has passed no round starts after the
		// first two.
		{"slow", [][2]float64{{0.010, 0.020}, {0.012, 0.024}, {0.010, 0.020}, {0.012, 0.024}}, 15 * time.Second, 2, false, [2]float64{0.011, 0.022}, 0.2 / 1.1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := time.Unix(1000, 0)
			calls := 0
			got, err := settle(fakeRounds(c.vals, &clock, c.per, &calls), func() time.Time { return clock }, p)
			if err != nil {
				t.Fatal(err)
			}
			if got.Rounds != c.wantRounds || calls != c.wantRounds || got.Agreed != c.wantAgreed {
				t.Errorf("rounds %d (calls %d), agreed %t; want %d, %t", got.Rounds, calls, got.Agreed, c.wantRounds, c.wantAgreed)
			}
			for i := range got.T {
				if math.Abs(got.T[i]-c.wantT[i]) > 1e-12 {
					t.Errorf("T[%d] = %g, want %g", i, got.T[i], c.wantT[i])
				}
			}
			if math.Abs(got.Spread-c.wantSpread) > 1e-3 {
				t.Errorf("spread %g, want %g", got.Spread, c.wantSpread)
			}
		})
	}
}

func TestSettleRefuses(t *testing.T) {
	clock := time.Unix(0, 0)
	now := func() time.Time { return clock }
	if _, err := settle(func() ([2]float64, error) { return [2]float64{1, 1}, nil }, now, settlePolicy{MinRounds: 1, MaxRounds: 3, Agree: 0.1}); err == nil {
		t.Error("a policy of one round was accepted: agreement needs two")
	}
	boom := errors.New("boom")
	if _, err := settle(func() ([2]float64, error) { return [2]float64{}, boom }, now, defaultSettle); !errors.Is(err, boom) {
		t.Errorf("the round's error was lost: %v", err)
	}
	for _, bad := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := settle(func() ([2]float64, error) { return [2]float64{0.01, bad}, nil }, now, defaultSettle); err == nil {
			t.Errorf("a step of %g s was accepted", bad)
		}
	}
}
