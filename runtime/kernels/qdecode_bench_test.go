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
// cache, and over one 1024×768 matrix that stays in L2 (compute alone), comparing the four-block kernels with the pair-at-a-time ones side by side; MB/s is weight bytes
// streamed per second.
func BenchmarkIntDecode(b *testing.B) {
	if !(Exec{}).vnni() {
		b.Skip("no AVX-512 VNNI")
	}
	rows, cols := 2048, 768
	x := randVec(2, 2048, 1)
	out := make([]float32, rows)
	for _, c := range []struct {
		m    Method
		from string
	}{{Q8_0, "dram"}, {Q4_0, "dram"}, {NF4, "dram"}, {NF4, "dram-oddrows"}, {NF4, "l2-oddrows"}, {Q4_K, "dram"}, {Q6_K, "dram"}, {Q8_0, "l2"}, {Q4_0, "l2"}, {NF4, "l2"}, {Q4_K, "l2"}, {Q6_K, "l2"}} {
		m := c.m
		var set []*QMatrix
		if c.from == "l2" {
			set = decodeSet(b, m, rows/2, cols, 0)
		} else if c.from == "l2-oddrows" {
			set = decodeSet(b, m, 512, 1376, 0)
		} else if c.from == "dram-oddrows" {
			set = decodeSet(b, m, 768, 1376, 96<<20) // 42M's down projection: 43 halves a row
		} else {
			set = decodeSet(b, m, rows, cols, 96<<20)
		}
		for _, v := range []struct {
			name         string
			noG4, noVBMI bool
		}{{"pairs", true, true}, {"g4", false, true}, {"g4vbmi", false, false}} {
			b.Run(fmt.Sprintf("%v/%s/%s", m, c.from, v.name), func(b *testing.B) {
				oldG4, oldVBMI := noG4, noVBMI
				noG4, noVBMI = v.noG4, v.noVBMI
				defer func() { noG4, noVBMI = oldG4, oldVBMI }()
				b.SetBytes(int64(set[0].Bytes()))
				defer cpuMetric(b)()
				i := 0
				for b.Loop() {
					if err := (Exec{}).QMatVec(out[:set[i].Rows], set[i], x[:set[i].Cols]); err != nil {
						b.Fatal(err)
					}
					i = (i + 1) % len(set)
				}
			})
		}
	}
}

// BenchmarkIntDecodeThreads times the products of one decode step of a
// 110M-shaped model (12 layers of q, k, v, o, gate, up and down) in Q4_0
// on one thread, two threads on a Pool and two goroutines per call, and
// reports steps per wall and per CPU second.
func BenchmarkIntDecodeThreads(b *testing.B) {
	if !(Exec{}).vnni() {
		b.Skip("no AVX-512 VNNI")
	}
	const dim, hidden, layers = 768, 2048, 12
	var mats []*QMatrix
	for l := 0; l < layers; l++ {
		for _, sh := range [][2]int{{dim, dim}, {dim, dim}, {dim, dim}, {dim, dim}, {hidden, dim}, {hidden, dim}, {dim, hidden}} {
			q, err := FromGGML(weights.Q4_0, sh[0], sh[1], randGGML(b, uint64(len(mats)), weights.Q4_0, sh[0], sh[1]))
			if err != nil {
				b.Fatal(err)
			}
			mats = append(mats, q)
		}
	}
	x := randVec(2, hidden, 1)
	out := make([]float32, hidden)
	pool := NewPool(2)
	for _, c := range []struct {
		name string
		e    Exec
	}{{"1thread", Exec{}}, {"2pool", Exec{Threads: 2, Pool: pool}}, {"2goroutines", Exec{Threads: 2}}} {
		b.Run(c.name, func(b *testing.B) {
			cpu0 := processCPU()
			for b.Loop() {
				for _, q := range mats {
					_ = c.e.QMatVec(out[:q.Rows], q, x[:q.Cols])
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
			b.ReportMetric(float64(b.N)/(processCPU()-cpu0).Seconds(), "steps/cpu-s")
		})
	}
}

// BenchmarkIntPrefill times a 128-token batched product on one thread
// with 110M's feed-forward matrix (2048×768) and 15M's (768×288), the
// eight-activation kernels (g8) against the four-activation ones side by
// side: pairs is the pair-at-a-time four-activation form, g4 the
// four-block one (Q4_0 and NF4; Q8_0, Q5_0, Q4_K and Q6_K have none and run
// pairs), g4vbmi its VBMI form; g8-onerowtail is the g8 of Q8_0, Q4_0,
// Q5_0 or NF4 with each row's last blocks (15M's ninth) taken row by row,
// not four rows at a time (the dotTail4*O8VNNI kernels); g8-onerow is the
// g8 of Q4_0, Q8_0 or NF4 one weight row at a time, not two
// (dotRows8x2Q4_0O8VNNI, dotRows8x2Q8_0O8VNNI, dot4bitRows8x2O8VNNI).
func BenchmarkIntPrefill(b *testing.B) {
	if !(Exec{}).vnni() {
		b.Skip("no AVX-512 VNNI")
	}
	const n = 128
	for _, shape := range [][2]int{{2048, 768}, {768, 288}, {512, 1376}} {
		rows, cols := shape[0], shape[1]
		x := randVec(2, n*cols, 1)
		out := make([]float32, n*rows)
		for _, m := range []Method{Q4_0, Q8_0, Q5_0, Q4_K, Q6_K, NF4} {
			if (m == Q4_K || m == Q6_K) && cols%256 != 0 {
				continue
			}
			q := decodeSet(b, m, rows, cols, 0)[0]
			for _, v := range []struct {
				name                              string
				noG4, noVBMI, noG8, noTail4, noX2 bool
			}{{"pairs", true, true, true, false, false}, {"g4", false, true, true, false, false}, {"g4vbmi", false, false, true, false, false}, {"g8-onerowtail", false, false, false, true, false}, {"g8-onerow", false, false, false, false, true}, {"g8", false, false, false, false, false}} {
				if v.noX2 && m != Q4_0 && m != Q8_0 && m != NF4 {
					continue // no two-row kernel
				}
				if v.name != "pairs" && v.name != "g8" && !v.noTail4 && !v.noX2 && (m == Q8_0 || m == Q5_0 || m == Q4_K || m == Q6_K) {
					continue // no such kernel
				}
				if v.noTail4 && (m != Q4_0 && m != Q8_0 && m != Q5_0 && m != NF4 || (cols/32)%8 == 0 || (cols/32)%8 > 4) {
					continue // no four-row tail kernel, or no tail
				}
				b.Run(fmt.Sprintf("%dx%d/%v/%s", rows, cols, m, v.name), func(b *testing.B) {
					oldG4, oldVBMI, oldG8, oldTail4, oldX2 := noG4, noVBMI, noG8, noTail4, noX2
					noG4, noVBMI, noG8, noTail4, noX2 = v.noG4, v.noVBMI, v.noG8, v.noTail4, v.noX2
					defer func() { noG4, noVBMI, noG8, noTail4, noX2 = oldG4, oldVBMI, oldG8, oldTail4, oldX2 }()
					defer cpuMetric(b)()
					for b.Loop() {
						_ = Exec{}.QMatMul(out, x, q, n)
					}
					b.ReportMetric(float64(2*n*rows*cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
