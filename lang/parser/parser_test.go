package parser

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/chunkedfile"
)

// exampleFiles returns every .whisper file under examples/.
func exampleFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir("../../examples", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".whisper") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no examples found")
	}
	return files
}

func TestSyntaxErrors(t *testing.T) {
	for _, name := range []string{"testdata/errors.whisper", "testdata/valid.whisper"} {
		for _, c := range chunkedfile.Read(t, name) {
			_, ds := Parse("chunk.whisper", c.Source)
			c.Check(t, ds)
		}
	}
}

func TestExamplesParseClean(t *testing.T) {
	for _, fn := range exampleFiles(t) {
		src, err := os.ReadFile(fn)
		if err != nil {
			t.Fatal(err)
		}
		f, ds := Parse(fn, src)
		if len(ds) > 0 {
			t.Errorf("%s: %v", fn, ds)
		}
		if len(f.Items) == 0 {
			t.Errorf("%s: no items", fn)
		}
	}
}

// TestExtents checks that every node's extent lies within its parent's and
// that leaves cover exactly their text.
func TestExtents(t *testing.T) {
	for _, fn := range append(exampleFiles(t), "testdata/valid.whisper") {
		src, err := os.ReadFile(fn)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range chunkedfile.Read(t, fn) {
			f, _ := Parse(fn, c.Source)
			checkExtents(t, fn, c.Source, f)
		}
		_ = src
	}
}

func checkExtents(t *testing.T, fn string, src []byte, f *ast.File) {
	t.Helper()
	var stack []ast.Node
	ast.Walk(visitFunc(func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		s, e := n.Span()
		if s < 0 || e > len(src) || s > e {
			t.Errorf("%s: %T extent [%d,%d) outside the file", fn, n, s, e)
			return false
		}
		if len(stack) > 0 {
			ps, pe := stack[len(stack)-1].Span()
			if s < ps || e > pe {
				t.Errorf("%s: %T [%d,%d) %q outside its parent %T [%d,%d)", fn, n, s, e, src[s:e], stack[len(stack)-1], ps, pe)
			}
		}
		text := string(src[s:e])
		switch n := n.(type) {
		case *ast.Ident:
			if text != n.Name {
				t.Errorf("%s: ident %q covers %q", fn, n.Name, text)
			}
		case *ast.Number:
			if text != n.Text {
				t.Errorf("%s: number %q covers %q", fn, n.Text, text)
			}
		case *ast.String:
			if text != n.Raw {
				t.Errorf("%s: string %q covers %q", fn, n.Raw, text)
			}
		case *ast.Body, *ast.Object:
			if !strings.HasPrefix(text, "{") || !strings.HasSuffix(text, "}") {
				t.Errorf("%s: %T covers %q, not a braced text", fn, n, text)
			}
		case *ast.List:
			if !strings.HasPrefix(text, "[") || !strings.HasSuffix(text, "]") {
				t.Errorf("%s: list covers %q", fn, text)
			}
		}
		stack = append(stack, n)
		return true
	}), f)
}

type visitFunc func(ast.Node) bool

func (v visitFunc) Visit(n ast.Node) ast.Visitor {
	if v(n) {
		return v
	}
	return nil
}
