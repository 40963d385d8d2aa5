package specdoc

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite spec/*.md from the stdlib schema")

// TestSpecUpToDate fails when spec/ differs from what the schema generates;
// run `go generate ./stdlib` or this test with -update.
func TestSpecUpToDate(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "spec")
	for name, want := range Files() {
		path := filepath.Join(dir, name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run `go generate ./stdlib`)", err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("%s is stale; run `go generate ./stdlib` (-generated +file):\n%s", path, diff)
		}
	}
}
