package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/stdlib"
)

// TestCodeExamplesTrigger checks each documented example of the checker's
// and the rules' codes as a one-file program and expects the code among
// its diagnostics, so that `whisperc explain` never shows an example that
// does not do what it says.
func TestCodeExamplesTrigger(t *testing.T) {
	for _, c := range stdlib.Codes() {
		if c.Example == "" || (c.Phase != "check" && c.Phase != "rule") {
			continue
		}
		if c.ID == "E209" { // needs two files; TestImportCycle covers it
			continue
		}
		src := c.Example
		read := func(name string) ([]byte, error) {
			if name == "example.whisper" {
				return []byte(src), nil
			}
			return nil, errNotFound
		}
		prog, ds := Check("example.whisper", Options{ReadFile: read})
		found := false
		for _, d := range ds {
			found = found || d.Code == c.ID
		}
		if !found {
			t.Errorf("%s: example does not trigger it; got:\n%s", c.ID, diag.Text(prog.Files, ds))
		}
	}
}

type notFound struct{}

func (notFound) Error() string { return "file does not exist" }

var errNotFound error = notFound{}

// TestEveryCodeTested fails when a code of the checker or the rules is not
// exercised by any test of this package (its ID must appear in a test file
// or a testdata file).
func TestEveryCodeTested(t *testing.T) {
	var corpus strings.Builder
	for _, pat := range []string{"*_test.go", "testdata/*/*.whisper", "testdata/*/*.golden"} {
		files, _ := filepath.Glob(pat)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			corpus.Write(b)
		}
	}
	all := corpus.String()
	for _, c := range stdlib.Codes() {
		if c.Phase != "check" && c.Phase != "rule" {
			continue
		}
		if !strings.Contains(all, c.ID) {
			t.Errorf("%s (%s) is not exercised by any test", c.ID, c.Title)
		}
	}
}

func TestReportCycle(t *testing.T) {
	c := newChecker(Options{})
	a, b := &Decl{Name: "a", Kind: "export"}, &Decl{Name: "b", Kind: "export"}
	a.Deps, b.Deps = []*Decl{b}, []*Decl{a}
	c.prog.Decls = []*Decl{a, b}
	c.buildGraph()
	if len(c.diags) != 1 || c.diags[0].Code != "E207" || len(c.diags[0].Notes) != 2 ||
		!strings.Contains(c.diags[0].Summary, "between b and a") {
		t.Fatalf("got %v", c.diags)
	}
}
