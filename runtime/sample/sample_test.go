package sample

import (
	"math"
	"testing"
)

func logits() []float32 {
	l := make([]float32, 50)
	for i := range l {
		l[i] = float32(math.Sin(float64(i))) * 3
	}
	return l
}

func TestGreedy(t *testing.T) {
	s, err := New(Params{})
	if err != nil {
		t.Fatal(err)
	}
	l := logits()
	want := Argmax(l)
	for range 5 {
		if got := s.Sample(l); got != want {
			t.Fatalf("greedy = %d, want %d", got, want)
		}
	}
	if got := Argmax([]float32{1, 3, 3, 2}); got != 1 {
		t.Errorf("Argmax ties = %d, want the first, 1", got)
	}
}

func draw(t *testing.T, p Params, n int) []int {
	t.Helper()
	s, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	l := logits()
	out := make([]int, n)
	for i := range out {
		out[i] = s.Sample(l)
	}
	return out
}

func TestSeededReproducible(t *testing.T) {
	p := Params{Temperature: 1, TopP: 0.9, TopK: 10, Seed: 42}
	a, b := draw(t, p, 200), draw(t, p, 200)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("draw %d differs between runs: %d vs %d", i, a[i], b[i])
		}
	}
	p.Seed = 43
	c := draw(t, p, 200)
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same == len(a) {
		t.Errorf("seeds 42 and 43 drew the same 200 tokens")
	}
}

func TestTruncation(t *testing.T) {
	l := logits()
	// Rank the tokens by logit.
	s, _ := New(Params{Temperature: 1, TopK: 3, Seed: 7})
	allowed := map[int]bool{}
	tmp := append([]float32(nil), l...)
	for range 3 {
		i := Argmax(tmp)
		allowed[i] = true
		tmp[i] = float32(math.Inf(-1))
	}
	seen := map[int]bool{}
	for range 2000 {
		id := s.Sample(l)
		if !allowed[id] {
			t.Fatalf("top_k 3 drew token %d outside the top 3 %v", id, allowed)
		}
		seen[id] = true
	}
	if len(seen) != 3 {
		t.Errorf("top_k 3 drew %d distinct tokens in 2000 draws, want 3", len(seen))
	}
	// A tiny top_p keeps only the most likely token.
	s, _ = New(Params{Temperature: 1, TopP: 0.01, Seed: 7})
	for range 100 {
		if id := s.Sample(l); id != Argmax(l) {
			t.Fatalf("top_p 0.01 drew %d, want %d", id, Argmax(l))
		}
	}
	// Untruncated sampling at temperature 1 follows the softmax: the most
	// likely token's frequency is near its probability.
	s, _ = New(Params{Temperature: 1, Seed: 9})
	var sum float64
	for _, v := range l {
		sum += math.Exp(float64(v))
	}
	best := Argmax(l)
	want := math.Exp(float64(l[best])) / sum
	hits := 0
	const n = 20000
	for range n {
		if s.Sample(l) == best {
			hits++
		}
	}
	if got := float64(hits) / n; math.Abs(got-want) > 0.02 {
		t.Errorf("frequency of the top token = %.3f, want %.3f ± 0.02", got, want)
	}
}

func TestBadParams(t *testing.T) {
	for _, p := range []Params{{Temperature: -1}, {TopP: 2}, {TopK: -1}, {Temperature: math.NaN()}} {
		if _, err := New(p); err == nil {
			t.Errorf("New(%+v) accepted", p)
		}
	}
}

// argmaxRef is Argmax as one running maximum: the definition Argmax's
// four lanes must give bit for bit.
func argmaxRef(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// TestArgmaxMatchesOneMaximum checks Argmax against one running maximum
// on every length up to 70 and a vocabulary's, with values drawn from a
// few (so that ties between and within lanes are common), signed zeros,
// infinities and NaNs, the largest value at every lane and in the tail.
func TestArgmaxMatchesOneMaximum(t *testing.T) {
	pool := []float32{-1, 0, float32(math.Copysign(0, -1)), 2, 2, float32(math.Inf(-1)), float32(math.NaN()), 3, float32(math.Inf(1))}
	seed := uint32(1)
	next := func() uint32 { seed = seed*1664525 + 1013904223; return seed >> 8 }
	for n := 0; n <= 70; n++ {
		for trial := range 200 {
			x := make([]float32, n)
			for i := range x {
				x[i] = pool[next()%uint32(len(pool)-trial%3)]
			}
			if got, want := Argmax(x), argmaxRef(x); got != want {
				t.Fatalf("Argmax(%v) = %d, want %d", x, got, want)
			}
		}
	}
	x := make([]float32, 32000)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.37)) * 5
	}
	for _, at := range []int{0, 1, 2, 3, 4, 17, 31996, 31997, 31998, 31999} {
		y := append([]float32(nil), x...)
		y[at] = 9
		y[(at+5000)%32000] = 9 // a tie, later or earlier
		if got, want := Argmax(y), argmaxRef(y); got != want {
			t.Errorf("largest at %d and %d: Argmax = %d, want %d", at, (at+5000)%32000, got, want)
		}
	}
}

// BenchmarkArgmax times a greedy step's argmax over a 32,000-token
// vocabulary, against one running maximum.
func BenchmarkArgmax(b *testing.B) {
	x := make([]float32, 32000)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.37)) * 5
	}
	for _, f := range []struct {
		name string
		fn   func([]float32) int
	}{{"lanes", Argmax}, {"one", argmaxRef}} {
		b.Run(f.name, func(b *testing.B) {
			for b.Loop() {
				f.fn(x)
			}
		})
	}
}
