// Package attention is whisperc's one enum of attention kernels: what the
// language's attention attributes request (auto included), what the
// planner's graph and cost model decide, and what the runtime's engine
// and kernels execute (their names for it are aliases). It lives in
// stdlib, the lowest layer that compiler, planner and runtime all import.
package attention

import "fmt"

// Kernel is an attention kernel. The zero value is invalid.
type Kernel int

// The kernels.
const (
	Invalid Kernel = iota
	// Eager materialises the seq×seq scores (softmax kept in fp32).
	Eager
	// SDPA is a fused memory-efficient kernel: O(seq) memory.
	SDPA
	// Flash2 is FlashAttention-2: O(seq) memory, fastest on CC ≥ 8.0.
	Flash2
	// Auto lets the planner choose; it is never a planned kernel.
	Auto
)

var names = [...]string{"invalid", "eager", "sdpa", "flash2", "auto"}

// String returns the kernel's name as the language spells it.
func (k Kernel) String() string {
	if k < 0 || int(k) >= len(names) {
		return "invalid"
	}
	return names[k]
}

// Parse returns the kernel with the given name, auto included.
func Parse(s string) (Kernel, error) {
	for i, n := range names {
		if i > 0 && n == s {
			return Kernel(i), nil
		}
	}
	return Invalid, fmt.Errorf("unknown attention kernel %q (want eager, sdpa, flash2 or auto)", s)
}

// MarshalText renders the kernel by name.
func (k Kernel) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses a kernel name. A plan's graph never holds auto
// (the planner resolves it), so auto is refused here.
func (k *Kernel) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err == nil && v == Auto {
		err = fmt.Errorf("attention kernel auto is a request, not a planned kernel (want eager, sdpa or flash2)")
		v = Invalid
	}
	*k = v
	return err
}
