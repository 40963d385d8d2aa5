package suggest

import "testing"

func TestClosest(t *testing.T) {
	cands := []string{"rank", "alpha", "dropout", "targets", "flash2", "sdpa", "eager"}
	tests := []struct{ in, want string }{
		{"rnak", "rank"},
		{"alpah", "alpha"},
		{"Flash2", "flash2"},
		{"flash", "flash2"},
		{"dropot", "dropout"},
		{"zzzzzz", ""},
		{"x", ""},
	}
	for _, tt := range tests {
		if got := Closest(tt.in, cands); got != tt.want {
			t.Errorf("Closest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := DidYouMean("rnak", cands); got != ` Did you mean "rank"?` {
		t.Errorf("DidYouMean = %q", got)
	}
}
