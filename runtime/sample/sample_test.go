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
