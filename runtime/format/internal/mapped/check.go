package mapped

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/modelwhisperer/whisperc/runtime/format/quant"
)

// CheckFiniteF32 reports the first NaN or infinite value in little-endian
// float32 data as an error naming the tensor and the element's index.
func CheckFiniteF32(name string, data []byte) error { return CheckFiniteF32Releasing(name, data, nil) }

// checkSlab is how many bytes CheckFiniteF32Releasing reads before
// releasing them.
const checkSlab = 8 << 20

// CheckFiniteF32Releasing is CheckFiniteF32 that, when release is not
// nil, hands each 8 MiB slab of data to release as soon as it has been
// read, so that checking a large mapped tensor never makes all of it
// resident at once.
func CheckFiniteF32Releasing(name string, data []byte, release func([]byte)) error {
	return CheckSlabs(data, 4, release, func(slab []byte, first int) error { return checkFiniteF32(name, slab, first) })
}

// CheckFiniteHalf is CheckFiniteF32Releasing for little-endian 16-bit
// floats: IEEE half precision, or bfloat16 when bf16 is set. A value is
// NaN or infinite when its exponent bits are all ones.
func CheckFiniteHalf(name string, data []byte, bf16 bool, release func([]byte)) error {
	mask, f32 := uint16(0x7C00), quant.F16ToF32
	if bf16 {
		mask, f32 = 0x7F80, quant.BF16ToF32
	}
	return CheckSlabs(data, 2, release, func(slab []byte, first int) error {
		for i := 0; i+2 <= len(slab); i += 2 {
			if h := binary.LittleEndian.Uint16(slab[i:]); h&mask == mask {
				return fmt.Errorf("tensor %q holds %v at element %d", name, f32(h), first+i/2)
			}
		}
		return nil
	})
}

// CheckSlabs calls check on data in slabs of at most 8 MiB, each a whole
// number of units of unit bytes (an element, or a quantised block), with
// the index of the slab's first unit in data, and hands each slab to
// release (when not nil) once it has been checked: a check of a mapped
// tensor then keeps at most a slab of it resident. It stops at the first
// error.
func CheckSlabs(data []byte, unit int, release func([]byte), check func(slab []byte, first int) error) error {
	unit = max(unit, 1)
	step := max(checkSlab/unit, 1) * unit
	for lo := 0; lo < len(data); lo += step {
		hi := min(lo+step, len(data))
		if err := check(data[lo:hi], lo/unit); err != nil {
			return err
		}
		if release != nil {
			release(data[lo:hi])
		}
	}
	return nil
}

// checkFiniteF32 checks data, whose first value is element base of the
// tensor.
func checkFiniteF32(name string, data []byte, base int) error {
	// Two values per 64-bit load: a value is non-finite when its exponent
	// bits are all set, that is when its half of (w & mask) ^ mask is zero.
	const mask = 0x7F8000007F800000
	// Sixty-four bytes at a time, without a branch per value: a half h of
	// (w & mask) ^ mask is at most 0x7F800000, so h − 1 has its top bit
	// set exactly when h is zero (the borrow out of a zero low half may
	// set the high half's too, but that block holds a bad value anyway).
	const one, top = 0x0000000100000001, 0x8000000080000000
	i := 0
	if n := len(data) &^ 127; useAVX2 && n > 0 && !nonFiniteAVX2(&data[0], n) {
		// 128 bytes per step with AVX2: about 4× the Go loop's speed on
		// a 110M model (80 → 20 ms), where the check was most of what a
		// run spends before its first token. When it finds a bad value
		// the loops below find which.
		i = n
	}
	for ; i+64 <= len(data); i += 64 {
		b := data[i : i+64 : i+64]
		var z uint64
		for k := 0; k < 64; k += 8 {
			z |= (binary.LittleEndian.Uint64(b[k:])&mask ^ mask) - one
		}
		if z&top != 0 {
			break // find the element below
		}
	}
	for ; i+4 <= len(data); i += 4 {
		if binary.LittleEndian.Uint32(data[i:])&0x7F800000 == 0x7F800000 {
			v := math.Float32frombits(binary.LittleEndian.Uint32(data[i:]))
			return fmt.Errorf("tensor %q holds %v at element %d", name, v, base+i/4)
		}
	}
	return nil
}
