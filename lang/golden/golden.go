// Package golden compares test output with golden files, so that tests
// across whisperc read alike: run a package's tests with -update to rewrite
// its golden files, then review the diff before committing.
package golden

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Compare reports a test error showing (-want +got) when got differs from
// the contents of the file at path. With update it writes got to path
// instead and reports nothing.
func Compare(t testing.TB, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return // also after Fatal, for a testing.TB that does not stop

	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
		return
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}
