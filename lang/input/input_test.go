package input

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// within fails the test when f takes longer than d: a read of a device
// or a FIFO must be refused at once, not after memory runs out.
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("did not return within %v", d)
	}
}

func TestReadFileRefusesDevices(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero on this system")
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "zero.whisper")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/dev/zero", link} {
		within(t, 2*time.Second, func() {
			_, err := ReadFile(path, "source file", 4<<20)
			if !errors.Is(err, ErrNotRegular) {
				t.Fatalf("ReadFile(%s) = %v, want ErrNotRegular", path, err)
			}
			if !strings.Contains(err.Error(), "character device") {
				t.Errorf("message %q does not say what the path is", err)
			}
		})
	}
}

func TestReadFileRefusesDirectory(t *testing.T) {
	_, err := ReadFile(t.TempDir(), "source file", 1<<20)
	if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "a directory") {
		t.Fatalf("got %v", err)
	}
}

func TestReadFileTooLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.whisper")
	if err := os.WriteFile(p, make([]byte, 1025), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(p, "source file", 1024)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if want := "larger than the 1 KiB limit for a source file"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q lacks %q", err, want)
	}
	data, err := ReadFile(p, "source file", 1025)
	if err != nil || len(data) != 1025 {
		t.Fatalf("at the limit: %d bytes, %v", len(data), err)
	}
}

func TestReadAllStopsAtLimit(t *testing.T) {
	// An endless reader (like stdin fed from /dev/zero) stops at the limit.
	within(t, 2*time.Second, func() {
		_, err := ReadAll(endless{}, "standard input", "source file", 1<<20)
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "standard input") {
			t.Fatalf("got %v", err)
		}
	})
	data, err := ReadAll(strings.NewReader("x = 1\n"), "standard input", "source file", 1<<20)
	if err != nil || string(data) != "x = 1\n" {
		t.Fatalf("got %q, %v", data, err)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) { return len(p), nil }

func TestReadPrefix(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.bin")
	if err := os.WriteFile(p, []byte("GG"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := ReadPrefix(p, "model", 4)
	if err != nil || string(b) != "GG" {
		t.Fatalf("got %q, %v", b, err)
	}
	if _, err := ReadPrefix("/dev/zero", "model", 4); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("ReadPrefix(/dev/zero) = %v", err)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{17: "17 bytes", 1024: "1 KiB", 1536: "1.5 KiB", 4 << 20: "4 MiB", 64 << 30: "64 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
