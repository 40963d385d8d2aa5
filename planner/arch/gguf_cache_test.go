package arch

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tinyGGUF returns a GGUF v3 file with no tensors and one string
// metadata pair, general.name = name.
func tinyGGUF(name string) []byte {
	var b bytes.Buffer
	str := func(s string) {
		binary.Write(&b, binary.LittleEndian, uint64(len(s)))
		b.WriteString(s)
	}
	b.WriteString("GGUF")
	binary.Write(&b, binary.LittleEndian, uint32(3)) // version
	binary.Write(&b, binary.LittleEndian, uint64(0)) // tensors
	binary.Write(&b, binary.LittleEndian, uint64(1)) // metadata pairs
	str("general.name")
	binary.Write(&b, binary.LittleEndian, uint32(8)) // string
	str(name)
	return b.Bytes()
}

// TestParseGGUFHeaderOnce checks that a file's header is parsed once while
// the file stays the same, and again when it is rewritten or replaced;
// and that an empty file, which cannot be mapped, still gets the reader's
// error.
func TestParseGGUFHeaderOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.gguf")
	if err := os.WriteFile(path, tinyGGUF("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := ParseGGUFHeader(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseGGUFHeader(path)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatal("the same file was parsed twice")
	}
	name := func(path string) string {
		gf, err := ParseGGUFHeader(path)
		if err != nil {
			t.Fatal(err)
		}
		v, _, _ := GGUFString(gf.Header.MetadataKV, "general.name")
		return v
	}
	if got := name(path); got != "first" {
		t.Fatalf("general.name = %q, want first", got)
	}
	// Rewritten in place, same size, a later modification time.
	if err := os.WriteFile(path, tinyGGUF("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if got := name(path); got != "other" {
		t.Fatalf("after a rewrite general.name = %q, want other", got)
	}
	// Replaced by another file under the same name.
	next := filepath.Join(dir, "next.gguf")
	if err := os.WriteFile(next, tinyGGUF("third!"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, path); err != nil {
		t.Fatal(err)
	}
	if got := name(path); got != "third!" {
		t.Fatalf("after a replacement general.name = %q, want third!", got)
	}
	empty := filepath.Join(dir, "empty.gguf")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseGGUFHeader(empty); err == nil || !strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "mmap") {
		t.Fatalf("an empty file: %v, want the reader's EOF", err)
	}
}

// TestHeaderCacheBounded checks that the cache keeps at most
// headerCacheSize headers, so that parsing many files holds few.
func TestHeaderCacheBounded(t *testing.T) {
	dir := t.TempDir()
	for i := range 3 * headerCacheSize {
		path := filepath.Join(dir, strings.Repeat("m", i+1)+".gguf")
		if err := os.WriteFile(path, tinyGGUF("m"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ParseGGUFHeader(path); err != nil {
			t.Fatal(err)
		}
	}
	headers.mu.Lock()
	n := len(headers.last)
	headers.mu.Unlock()
	if n != headerCacheSize {
		t.Fatalf("the cache holds %d headers, want %d", n, headerCacheSize)
	}
}
