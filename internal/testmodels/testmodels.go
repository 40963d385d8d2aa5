// Package testmodels, the one way tests of every layer reach the shared models, finds the real tiny models that tests use, in the
// shared/models folder beside the repository (see its README), and skips
// the calling test with a clear message when that folder is absent, except
// under CI (the environment variable CI set, as .ci/run sets it), where a
// missing model fails the test: CI must never pass with the runtime
// untested.
package testmodels

import (
	"os"
	"path/filepath"
	"testing"
)

// Path returns the path of the named file in ../shared/models relative to
// the repository root (the folder holding go.mod above the test's working
// directory), or skips t when the file is not there.
func Path(t testing.TB, name string) string {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("CI") != "" {
		skip = t.Fatalf
	}
	root, err := repoRoot()
	if err != nil {
		skip("test model %s: %v", name, err)
	}
	p := filepath.Join(root, "..", "shared", "models", name)
	if _, err := os.Stat(p); err != nil {
		skip("test model %s is absent (%v); see shared/models/README.md", name, err)
	}
	return p
}

// repoRoot walks up from the working directory to the folder with go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

// Dir returns the shared models folder, after checking that it holds
// stories260K.bin (the model most tests use), with Path's skip-or-fail rule.
func Dir(t testing.TB) string {
	t.Helper()
	return filepath.Dir(Path(t, "stories260K.bin"))
}
