package mapped

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(f.Data) != "hello" || !f.mapped {
		t.Errorf("data %q mapped %v", f.Data, f.mapped)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil || f.Data != nil {
		t.Errorf("second Close: %v, data %v", err, f.Data)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	if f, err := Open(empty); err != nil || len(f.Data) != 0 {
		t.Errorf("empty file: %v", err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestCheckFiniteF32(t *testing.T) {
	if err := CheckFiniteF32("w", []byte{0, 0, 0x80, 0x3F, 0, 0, 0x80, 0x7F}); err == nil || !strings.Contains(err.Error(), `"w" holds +Inf at element 1`) {
		t.Errorf("got %v", err)
	}
	if err := CheckFiniteF32("w", []byte{0, 0, 0x80, 0x3F}); err != nil {
		t.Error(err)
	}
}

func BenchmarkCheckFiniteF32(b *testing.B) {
	data := make([]byte, 4<<20)
	for i := 0; i < len(data); i += 4 {
		data[i+3] = 0x3F
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := CheckFiniteF32("w", data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCheckFiniteEveryPosition places -Inf, +Inf and a NaN at every
// position of buffers that cover the 128-byte AVX2 blocks (three), the
// 64-byte fast path and the tail, among the largest finite values of both
// signs, which must pass.
// With AVX2 the first 128-byte blocks go through nonFiniteAVX2; both
// paths are checked.
func TestCheckFiniteEveryPosition(t *testing.T) {
	for _, asm := range []bool{false, true} {
		if asm && !useAVX2 {
			continue
		}
		t.Run(fmt.Sprintf("avx2=%v", asm), func(t *testing.T) {
			defer func(old bool) { useAVX2 = old }(useAVX2)
			useAVX2 = asm
			checkFiniteEveryPosition(t)
		})
	}
}

func checkFiniteEveryPosition(t *testing.T) {
	for n := 1; n <= 100; n++ {
		data := make([]byte, 4*n)
		for i := 0; i < n; i++ {
			v := uint32(0x7F7FFFFF) // the largest finite float32
			if i%3 == 1 {
				v = 0xFF7FFFFF
			}
			binary.LittleEndian.PutUint32(data[4*i:], v)
		}
		if err := CheckFiniteF32("w", data); err != nil {
			t.Fatalf("n=%d, all finite: %v", n, err)
		}
		for _, bad := range []uint32{0xFF800000, 0x7F800000, 0x7FC00001} {
			for at := 0; at < n; at++ {
				d := append([]byte(nil), data...)
				binary.LittleEndian.PutUint32(d[4*at:], bad)
				err := CheckFiniteF32("w", d)
				if err == nil || !strings.Contains(err.Error(), "element "+strconv.Itoa(at)) {
					t.Fatalf("n=%d at=%d bad=%#x: %v", n, at, bad, err)
				}
			}
		}
	}
}

// TestCheckFiniteReleasingSlabs checks a tensor longer than one slab: the
// index of a bad value past the first slab is the tensor's, and every byte
// is handed to release exactly once, in order.
func TestCheckFiniteReleasingSlabs(t *testing.T) {
	n := checkSlab/4*2 + 100 // two whole slabs and a short one
	data := make([]byte, 4*n)
	var released int
	release := func(b []byte) {
		if &b[0] != &data[released] {
			t.Errorf("release got bytes from %p, want the next slab at offset %d", &b[0], released)
		}
		released += len(b)
	}
	if err := CheckFiniteF32Releasing("w", data, release); err != nil || released != len(data) {
		t.Fatalf("all zeros: %v, released %d of %d bytes", err, released, len(data))
	}
	bad := checkSlab/4 + 7
	binary.LittleEndian.PutUint32(data[4*bad:], math.Float32bits(float32(math.Inf(-1))))
	released = 0
	err := CheckFiniteF32Releasing("w", data, release)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("at element %d", bad)) {
		t.Errorf("-Inf at element %d: got %v", bad, err)
	}
	if released != checkSlab {
		t.Errorf("released %d bytes before the bad slab, want %d", released, checkSlab)
	}
}
