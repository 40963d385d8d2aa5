package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// recorder captures what Compare reports instead of failing the test.
type recorder struct {
	testing.TB
	errors, fatals int
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.errors++ }
func (r *recorder) Fatalf(string, ...any) { r.fatals++ }
func (r *recorder) Fatal(...any)          { r.fatals++ }

func TestCompare(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.golden")
	r := &recorder{TB: t}
	Compare(r, path, "hello\n", false)
	if r.fatals != 1 {
		t.Errorf("a missing golden file must be fatal; got %d", r.fatals)
	}
	Compare(r, path, "hello\n", true)
	if b, _ := os.ReadFile(path); string(b) != "hello\n" {
		t.Errorf("update wrote %q", b)
	}
	Compare(r, path, "hello\n", false)
	if r.errors != 0 {
		t.Errorf("equal output reported %d errors", r.errors)
	}
	Compare(r, path, "goodbye\n", false)
	if r.errors != 1 {
		t.Errorf("different output must be an error; got %d", r.errors)
	}
}
