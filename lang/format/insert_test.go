package format

import (
	"os"
	"testing"

	"github.com/modelwhisperer/whisperc/lang/parser"
)

// TestCommentsAnywhere inserts a block comment, and then a line comment,
// into every gap between tokens of a few files (the first position of each
// run of whitespace) and checks that formatting keeps the tree and every
// comment and is idempotent. The fuzzers rarely reach these inputs: a
// random mutation seldom yields a file without syntax errors.
func TestCommentsAnywhere(t *testing.T) {
	files := []string{"../../examples/story.whisper", "testdata/lists.input", "testdata/expressions.input", "testdata/comments.input", "testdata/one-line.input"}
	if testing.Short() {
		files = files[:2]
	}
	checked := 0
	for _, fn := range files {
		src, err := os.ReadFile(fn)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(src); i++ {
			if !isSpace(src[i]) || isSpace(src[i-1]) {
				continue
			}
			for _, c := range []string{" /* c */ ", " // c\n"} {
				in := append(append(append([]byte{}, src[:i]...), c...), src[i:]...)
				if _, ds := parser.Parse(fn, in); ds.HasErrors() {
					continue // inside a comment or string, or between a number and its unit
				}
				checked++
				checkProperties(t, fn+"+comment", in)
			}
		}
	}
	t.Logf("%d inputs checked", checked)
	if checked < 100 {
		t.Errorf("only %d inputs checked", checked)
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }
