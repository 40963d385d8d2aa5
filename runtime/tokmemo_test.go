package runtime

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTokenizerMemo checks that opening the same tokenizer file twice
// builds it once, and that a changed file is read again.
func TestTokenizerMemo(t *testing.T) {
	src, err := os.ReadFile("../../shared/models/tok512.bin")
	if err != nil {
		t.Fatalf("stories260K's tokenizer is missing: %v", err)
	}
	path := filepath.Join(t.TempDir(), "tok.bin")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	var m tokenizerMemo
	a, err := m.open(path, 512)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.open(path, 512)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("the same unchanged file was built twice")
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	c, err := m.open(path, 512)
	if err != nil {
		t.Fatal(err)
	}
	if c == a {
		t.Error("a file with a new modification time was not read again")
	}
	if _, err := m.open(path, 1000); err == nil {
		t.Error("a vocabulary size the file does not hold was accepted from the memo")
	}
}
