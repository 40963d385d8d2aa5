package mapped

import (
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

// TestCheckFiniteEveryPosition places a NaN at every position of a buffer
// that covers the 16-byte fast path and the tail.
func TestCheckFiniteEveryPosition(t *testing.T) {
	for n := 1; n <= 13; n++ {
		for at := 0; at < n; at++ {
			data := make([]byte, 4*n)
			for i := 0; i < n; i++ {
				data[4*i+3] = 0x3F
			}
			data[4*at+2], data[4*at+3] = 0x80, 0xFF // -Inf
			err := CheckFiniteF32("w", data)
			if err == nil || !strings.Contains(err.Error(), "element "+strconv.Itoa(at)) {
				t.Fatalf("n=%d at=%d: %v", n, at, err)
			}
		}
	}
}
