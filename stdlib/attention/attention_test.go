package attention

import "testing"

// TestNames round-trips every kernel's name and keeps auto out of plans.
func TestNames(t *testing.T) {
	for k := Eager; k <= Auto; k++ {
		if got, err := Parse(k.String()); err != nil || got != k {
			t.Errorf("Parse(%q) = %v, %v", k.String(), got, err)
		}
	}
	for k := Eager; k <= Flash2; k++ {
		var u Kernel
		if b, _ := k.MarshalText(); u.UnmarshalText(b) != nil || u != k {
			t.Errorf("%v: text round trip gave %v", k, u)
		}
	}
	var u Kernel
	if err := u.UnmarshalText([]byte("auto")); err == nil || u != Invalid {
		t.Errorf("a planned kernel of auto was accepted: %v", u)
	}
	if Invalid.String() != "invalid" || Kernel(9).String() != "invalid" {
		t.Error("zero and unknown kernels must print invalid")
	}
	if _, err := Parse("sdp"); err == nil {
		t.Error("Parse accepted sdp")
	}
}
