package kernels

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzQMatrix builds QMatrix values from arbitrary bytes, as a loader of a
// quantised file would, and checks that Validate either rejects them or
// that every kernel runs on them without panicking.
func FuzzQMatrix(f *testing.F) {
	for _, m := range []Method{NF4, FP4, Q8_0} {
		q, _ := Quantize(randVec(1, 3*64, 1), 3, 64, m)
		f.Add(uint8(m), uint16(3), uint16(64), q.Data, true)
	}
	f.Add(uint8(NF4), uint16(2), uint16(33), make([]byte, 33), false)
	f.Fuzz(func(t *testing.T, method uint8, rows, cols uint16, data []byte, dq bool) {
		q := &QMatrix{Method: Method(method % 5), Rows: int(rows % 300), Cols: int(cols % 300), Data: data}
		switch q.Method {
		case NF4, FP4:
			q.BlockSize = Block4Bit
		case Q8_0:
			q.BlockSize = BlockQ8_0
		}
		nb := 0
		if q.BlockSize > 0 {
			nb = q.Blocks()
		}
		if dq {
			q.DoubleQuant = true
			q.QAbsmax = make([]uint8, nb)
			for i := range q.QAbsmax {
				q.QAbsmax[i] = uint8(i * 37)
			}
			q.Absmax2 = make([]float32, (nb+BlockDQ-1)/BlockDQ)
			for i := range q.Absmax2 {
				q.Absmax2[i] = 0.5
			}
		} else {
			q.Absmax = make([]float32, nb)
			for i := range q.Absmax {
				if 4*i+4 <= len(data) {
					q.Absmax[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
				}
			}
		}
		if q.Validate() != nil {
			return
		}
		x := make([]float32, q.Cols)
		for i := range x {
			x[i] = float32(i%7) - 3
		}
		out := make([]float32, q.Rows)
		if err := (Exec{}).QMatVec(out, q, x); err != nil {
			t.Fatal(err)
		}
		if err := (Exec{NoAsm: true}).QMatVec(out, q, x); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Dequantize(); err != nil {
			t.Fatal(err)
		}
		if q.Rows > 0 {
			if err := (Exec{}).QMatMul(make([]float32, 2*q.Rows), append(x, x...), q, 2); err != nil {
				t.Fatal(err)
			}
		}
	})
}
