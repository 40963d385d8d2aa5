package parser_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/chunkedfile"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/format"
	"github.com/modelwhisperer/whisperc/lang/parser"
	"github.com/modelwhisperer/whisperc/lang/source"
)

// seeds returns the fuzzing seed corpus: every example, every chunk of the
// parser's test files and every formatter golden input. The crashers found
// so far live in testdata/fuzz, which go test runs as well.
func seeds(f *testing.F) [][]byte {
	var out [][]byte
	add := func(path string) {
		src, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, src)
	}
	err := filepath.WalkDir("../../examples", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".whisper") {
			add(path)
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	chunked, _ := filepath.Glob("testdata/*.whisper")
	for _, fn := range chunked {
		for _, c := range chunkedfile.Read(f, fn) {
			out = append(out, c.Source)
		}
	}
	more, _ := filepath.Glob("testdata/render/*.whisper")
	inputs, _ := filepath.Glob("../format/testdata/*.input")
	for _, fn := range append(more, inputs...) {
		add(fn)
	}
	if len(out) < 20 {
		f.Fatalf("seed corpus too small: %d", len(out))
	}
	return out
}

// FuzzParse checks that Parse never panics (an internal error, E199, counts
// as a failure), that every diagnostic's ranges lie within the file, and
// that a file without syntax errors formats to a file that parses to the
// same tree with the same comments, and formats to itself again.
func FuzzParse(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, ds := parser.Parse("fuzz.whisper", src)
		if file == nil || file.Source == nil {
			t.Fatal("Parse returned no file")
		}
		for _, d := range ds {
			if d.Code == "E199" {
				t.Fatalf("internal error: %s", d.Detail)
			}
			checkDiagnostic(t, src, d)
		}
		if ds.HasErrors() {
			// A partial tree must not crash the formatter either.
			_ = format.File(file)
			return
		}
		checkFormat(t, file)
	})
}

// checkDiagnostic checks that every range of d lies within src and that
// its line and column agree with its byte offset.
func checkDiagnostic(t *testing.T, src []byte, d *diag.Diagnostic) {
	t.Helper()
	if d.Severity == diag.SeverityInvalid || d.Code == "" || d.Summary == "" {
		t.Errorf("incomplete diagnostic %+v", d)
	}
	f := source.NewFile("fuzz.whisper", src)
	check := func(what string, r *source.Range) {
		if r == nil {
			return
		}
		if r.Start.Byte < 0 || r.Start.Byte > r.End.Byte || r.End.Byte > len(src) {
			t.Errorf("%s: %s range [%d,%d) outside the file of %d bytes", d.Code, what, r.Start.Byte, r.End.Byte, len(src))
			return
		}
		if want := f.Range(r.Start.Byte, r.End.Byte); want != *r {
			t.Errorf("%s: %s range %+v, want %+v", d.Code, what, *r, want)
		}
	}
	if d.Subject == nil {
		t.Errorf("%s: no subject", d.Code)
	}
	check("subject", d.Subject)
	check("context", d.Context)
	for i := range d.Notes {
		check("note", &d.Notes[i].Range)
	}
	if d.Suggestion != nil {
		check("suggestion", &d.Suggestion.Range)
	}
}

// checkFormat checks that formatting the error-free file keeps its tree and
// comments and is idempotent.
func checkFormat(t *testing.T, file *ast.File) {
	t.Helper()
	once := format.File(file)
	g, ds := parser.Parse("fuzz.whisper", once)
	if ds.HasErrors() {
		t.Fatalf("formatted output does not parse: %v\ninput:\n%s\noutput:\n%s", ds, file.Source.Src, once)
	}
	if diff := cmp.Diff(ast.Dump(file), ast.Dump(g)); diff != "" {
		t.Fatalf("formatting changed the tree (-before +after):\n%s\ninput:\n%q\noutput:\n%q", diff, file.Source.Src, once)
	}
	if len(file.Comments) != len(g.Comments) {
		t.Fatalf("formatting changed the number of comments from %d to %d\ninput:\n%q\noutput:\n%q",
			len(file.Comments), len(g.Comments), file.Source.Src, once)
	}
	if twice := format.File(g); !bytes.Equal(once, twice) {
		t.Fatalf("formatting is not idempotent (-once +twice):\n%s\ninput:\n%q", cmp.Diff(string(once), string(twice)), file.Source.Src)
	}
}
