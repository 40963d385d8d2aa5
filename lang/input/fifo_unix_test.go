//go:build unix

package input

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestOpenFIFODoesNotBlock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "model.bin")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// No writer ever opens the FIFO: a blocking open would wait forever.
	within(t, 2*time.Second, func() {
		_, err := ReadFile(p, "model", 1<<20)
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "FIFO") {
			t.Fatalf("got %v", err)
		}
		if err := CheckRegular(p, "model"); !errors.Is(err, ErrNotRegular) {
			t.Fatalf("CheckRegular: %v", err)
		}
	})
}
