package testmodels

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRepoRoot(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("root %s has no go.mod", root)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "testmodels")); err != nil {
		t.Fatalf("root %s is not this repository", root)
	}
}

func TestPath(t *testing.T) {
	p := Path(t, "stories260K.bin") // skips where shared/models is absent
	if fi, err := os.Stat(p); err != nil || fi.Size() != 1056540 {
		t.Fatalf("%s: %v (size must be 1,056,540 bytes)", p, err)
	}
}
