package kernels

import (
	"fmt"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// decodeSet returns copies of one rows×cols matrix of format m totalling
// at least minBytes, so that a pass over them streams from memory as a
// decode step of a model larger than the last-level cache does.
func decodeSet(b *testing.B, m Method, rows, cols, minBytes int) []*QMatrix {
	var q *QMatrix
	switch m {
	case NF4, FP4:
		var err error
		q, err = QuantizeConfig(randVec(3, rows*cols, 0.02), rows, cols, QuantConfig{Method: m, DoubleQuant: true})
		if err != nil {
			b.Fatal(err)
		}
	default:
		d := map[Method]weights.DType{Q8_0: weights.Q8_0, Q4_0: weights.Q4_0, Q5_0: weights.Q5_0, Q4_K: weights.Q4_K, Q6_K: weights.Q6_K}[m]
		var err error
		if q, err = FromGGML(d, rows, cols, randGGML(b, 3, d, rows, cols)); err != nil {
			b.Fatal(err)
		}
	}
	set := []*QMatrix{q}
	for total := q.Bytes(); total < minBytes; total += q.Bytes() {
		c := *q
		c.Data = append([]byte(nil), q.Data...)
		c.QAbsmax = append([]uint8(nil), q.QAbsmax...)
		c.Absmax = append([]float32(nil), q.Absmax...)
		set = append(set, &c)
	}
	return set
}

// BenchmarkIntDecode times the integer-dot decode products over 96 MB of
// 2048×768 matrices (110M's feed-forward shape), three times the last-level
// cache, comparing the four-block kernels with the pair-at-a-time ones side by side; MB/s is weight bytes
// streamed per second.
func BenchmarkIntDecode(b *testing.B) {
	if !(Exec{}).vnni() {
		b.Skip("no AVX-512 VNNI")
	}
	rows, cols := 2048, 768
	x := randVec(2, cols, 1)
	out := make([]float32, rows)
	for _, m := range []Method{Q8_0, Q4_0, NF4, Q4_K, Q6_K} {
		set := decodeSet(b, m, rows, cols, 96<<20)
		for _, g4 := range []bool{false, true} {
			b.Run(fmt.Sprintf("%v/g4=%v", m, g4), func(b *testing.B) {
				old := noG4
				noG4 = !g4
				defer func() { noG4 = old }()
				b.SetBytes(int64(set[0].Bytes()))
				defer cpuMetric(b)()
				i := 0
				for b.Loop() {
					_ = Exec{}.QMatVec(out, set[i], x)
					i = (i + 1) % len(set)
				}
			})
		}
	}
}
