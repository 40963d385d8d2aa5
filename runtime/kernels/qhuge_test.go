package kernels

import (
	"fmt"
	"math"
	"testing"
	"unsafe"

	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// TestHugeArena checks that an arena's copies hold the same bytes, start on
// 64-byte boundaries inside the arena, give bit-identical products, and
// that a matrix that does not fit, or an arena under hugeMin, copies
// nothing.
func TestHugeArena(t *testing.T) {
	var qs []*QMatrix
	var lens []int
	for i, sh := range [][2]int{{1024, 768}, {2048, 768}, {33, 288}, {4000, 512}} {
		q, err := FromGGML(weights.Q8_0, sh[0], sh[1], randGGML(t, uint64(i), weights.Q8_0, sh[0], sh[1]))
		if err != nil {
			t.Fatal(err)
		}
		qs = append(qs, q)
		lens = append(lens, len(q.Data))
	}
	size := HugeArenaSize(lens...)
	a := NewHugeArena(size)
	if !a.OnHugePages() {
		t.Skip("no transparent huge pages here: NewHugeArena is disabled")
	}
	want := make([][]float32, len(qs))
	olds := make([][]byte, len(qs))
	for i, q := range qs {
		x := randVec(uint64(i), q.Cols, 1)
		want[i] = make([]float32, q.Rows)
		if err := (Exec{}).QMatVec(want[i], q, x); err != nil {
			t.Fatal(err)
		}
		olds[i] = q.Data
		if !a.Copy(q) {
			t.Fatalf("matrix %d did not fit an arena sized for all", i)
		}
	}
	a.Seal()
	base := uintptr(unsafe.Pointer(unsafe.SliceData(a.buf)))
	if base%hugePage != 0 {
		t.Fatalf("arena at %#x is not aligned to a huge page", base)
	}
	for i, q := range qs {
		p := uintptr(unsafe.Pointer(unsafe.SliceData(q.Data)))
		if p%64 != 0 || p < base || p+uintptr(len(q.Data)) > base+uintptr(len(a.buf)) {
			t.Fatalf("matrix %d at %#x is not a 64-byte-aligned slice of the arena [%#x, +%d)", i, p, base, len(a.buf))
		}
		if string(q.Data) != string(olds[i]) {
			t.Fatalf("matrix %d: copied bytes differ", i)
		}
		x := randVec(uint64(i), q.Cols, 1)
		got := make([]float32, q.Rows)
		if err := (Exec{}).QMatVec(got, q, x); err != nil {
			t.Fatal(err)
		}
		for r := range got {
			if math.Float32bits(got[r]) != math.Float32bits(want[i][r]) {
				t.Fatalf("matrix %d row %d: %g on the arena, %g before", i, r, got[r], want[i][r])
			}
		}
	}
	extra := &QMatrix{Data: make([]byte, 64)}
	if a.Copy(extra) {
		t.Fatal("a full arena took another matrix")
	}
	small := NewHugeArena(hugeMin - 1)
	if small.OnHugePages() || small.Copy(&QMatrix{Data: make([]byte, 100)}) {
		t.Fatal("an arena under hugeMin copied a matrix")
	}
	var none *HugeArena
	if none.Copy(qs[0]) || none.OnHugePages() {
		t.Fatal("a nil arena copied a matrix")
	}
	none.Seal()
}

// BenchmarkIntDecodeHuge streams 96 MB of 2048×768 Q8_0 and Q4_0 matrices
// through the decode kernels from the Go heap (4 KiB pages) and from a
// HugeArena, side by side; MB/s is weight bytes per second.
func BenchmarkIntDecodeHuge(b *testing.B) {
	if !(Exec{}).vnni() {
		b.Skip("no AVX-512 VNNI")
	}
	rows, cols := 2048, 768
	x := randVec(2, cols, 1)
	out := make([]float32, rows)
	for _, m := range []Method{Q8_0, Q4_0, Q4_K} {
		heap := decodeSet(b, m, rows, cols, 96<<20)
		huge := make([]*QMatrix, len(heap))
		var lens []int
		for _, q := range heap {
			lens = append(lens, len(q.Data))
		}
		a := NewHugeArena(HugeArenaSize(lens...))
		for i, q := range heap {
			c := *q
			a.Copy(&c)
			huge[i] = &c
		}
		a.Seal()
		for _, v := range []struct {
			name string
			set  []*QMatrix
		}{{"heap", heap}, {"huge", huge}} {
			b.Run(fmt.Sprintf("%v/%s", m, v.name), func(b *testing.B) {
				if v.name == "huge" && !a.OnHugePages() {
					b.Skip("no transparent huge pages here")
				}
				b.SetBytes(int64(v.set[0].Bytes()))
				defer cpuMetric(b)()
				i := 0
				for b.Loop() {
					if err := (Exec{}).QMatVec(out, v.set[i], x); err != nil {
						b.Fatal(err)
					}
					i = (i + 1) % len(v.set)
				}
			})
		}
	}
}

// TestQuantizedLens checks that QuantizedLens gives the lengths of the
// buffers Quantize produces, odd shapes included, so that an arena sized
// from it holds every matrix quantised into it.
func TestQuantizedLens(t *testing.T) {
	for _, sh := range [][2]int{{1, 1}, {3, 33}, {64, 64}, {7, 96}, {300, 288}} {
		w := randVec(1, sh[0]*sh[1], 1)
		for _, cfg := range []QuantConfig{{Method: NF4, DoubleQuant: true}, {Method: NF4}, {Method: FP4, DoubleQuant: true}, {Method: Q8_0}, {Method: BF16}} {
			q, err := QuantizeConfig(w, sh[0], sh[1], cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := []int{len(q.Data)}
			if len(q.QAbsmax) > 0 {
				want = append(want, len(q.QAbsmax))
			}
			if len(q.Absmax) > 0 {
				want = append(want, 4*len(q.Absmax))
			}
			if got := QuantizedLens(sh[0], sh[1], cfg); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%v %+v: QuantizedLens = %v, Quantize gives %v", sh, cfg, got, want)
			}
		}
	}
}
