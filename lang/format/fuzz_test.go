package format

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzFormat checks Source on arbitrary input: it never reports an
// internal error (E198, its own check that the output parses to the same
// tree with the same comments), and its output formats to itself.
// lang/parser's FuzzParse checks the same properties from the parser's side.
func FuzzFormat(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/*.input")
	_ = filepath.WalkDir("../../examples", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".whisper") {
			inputs = append(inputs, path)
		}
		return err
	})
	for _, fn := range inputs {
		src, err := os.ReadFile(fn)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		out, ds := Source("fuzz.whisper", src)
		for _, d := range ds {
			if d.Code == "E198" {
				t.Fatalf("%s: %s\ninput:\n%q", d.Summary, d.Detail, src)
			}
		}
		if out == nil {
			if !ds.HasErrors() {
				t.Fatalf("no output and no error for %q", src)
			}
			return
		}
		again, ds := Source("fuzz.whisper", out)
		if ds.HasErrors() || !bytes.Equal(out, again) {
			t.Fatalf("not idempotent: %v\ninput:\n%q\nonce:\n%q\ntwice:\n%q", ds, src, out, again)
		}
	})
}
