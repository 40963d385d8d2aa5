package format

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/chunkedfile"
	"github.com/modelwhisperer/whisperc/lang/golden"
	"github.com/modelwhisperer/whisperc/lang/parser"
)

var update = flag.Bool("update", false, "rewrite the golden files testdata/*.golden")

// TestGolden formats each testdata/*.input and compares the result with
// its .golden file. Run with -update to rewrite them, then review the diff.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.input")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			out, ds := Source(in, src)
			if len(ds) > 0 {
				t.Fatalf("unexpected diagnostics: %v", ds)
			}
			golden.Compare(t, strings.TrimSuffix(in, ".input")+".golden", string(out), *update)
		})
	}
}

// TestCommandLineCase is the case of cmd/whisperc/testdata/script/fmt.txtar,
// spelt out here so the package alone pins it.
func TestCommandLineCase(t *testing.T) {
	in := "// the optimiser\noptimizer {\nname = adamw\n    lr=2e-4    # learning rate\n  schedule =   cosine\n}\n"
	want := "// the optimiser\noptimizer {\n  name     = adamw\n  lr       = 2e-4 # learning rate\n  schedule = cosine\n}\n"
	got, ds := Source("opt.whisper", []byte(in))
	if len(ds) > 0 {
		t.Fatal(ds)
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// corpus returns every example, every golden input and every valid chunk of
// the parser's tests, by name.
func corpus(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	var names []string
	err := filepath.WalkDir("../../examples", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".whisper") {
			names = append(names, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	inputs, _ := filepath.Glob("testdata/*.input")
	names = append(names, inputs...)
	for _, n := range names {
		src, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		files[n] = src
	}
	for _, c := range chunkedfile.Read(t, "../parser/testdata/valid.whisper") {
		files[c.Filename+":"+strconv.Itoa(c.StartLine)] = c.Source
	}
	if len(files) < 20 {
		t.Fatalf("corpus too small: %d files", len(files))
	}
	return files
}

// TestProperties checks, on every file of the corpus, that formatting
// keeps the syntax tree and every comment, and is idempotent.
func TestProperties(t *testing.T) {
	for name, src := range corpus(t) {
		checkProperties(t, name, src)
	}
}

// TestExamplesAreFormatted keeps examples/ in the canonical layout, since
// users copy them.
func TestExamplesAreFormatted(t *testing.T) {
	for name, src := range corpus(t) {
		if !strings.HasPrefix(name, "../../examples/") {
			continue
		}
		out, ds := Source(name, src)
		if len(ds) > 0 {
			t.Errorf("%s: %v", name, ds)
			continue
		}
		if diff := cmp.Diff(string(src), string(out)); diff != "" {
			t.Errorf("%s is not formatted; run whisperc fmt on it (-file +formatted):\n%s", name, diff)
		}
	}
}

func checkProperties(t *testing.T, name string, src []byte) {
	t.Helper()
	f, ds := parser.Parse(name, src)
	if ds.HasErrors() {
		t.Errorf("%s: %v", name, ds)
		return
	}
	once := File(f)
	g, ds := parser.Parse(name, once)
	if ds.HasErrors() {
		t.Errorf("%s: formatted output does not parse: %v\n%s", name, ds, once)
		return
	}
	if diff := cmp.Diff(ast.Dump(f), ast.Dump(g)); diff != "" {
		t.Errorf("%s: formatting changed the tree (-before +after):\n%s\noutput:\n%s", name, diff, once)
	}
	if diff := cmp.Diff(commentTexts(f), commentTexts(g)); diff != "" {
		t.Errorf("%s: formatting changed the comments (-before +after):\n%s\noutput:\n%s", name, diff, once)
	}
	twice := File(g)
	if !bytes.Equal(once, twice) {
		t.Errorf("%s: not idempotent (-once +twice):\n%s", name, cmp.Diff(string(once), string(twice)))
	}
	// Source agrees with File and its safety net stays quiet.
	viaSource, ds := Source(name, src)
	if len(ds) > 0 || !bytes.Equal(viaSource, once) {
		t.Errorf("%s: Source differs from File: %v", name, ds)
	}
}

// commentTexts returns the file's comments, each line without trailing
// spaces (the formatter trims them).
func commentTexts(f *ast.File) []string {
	out := make([]string, 0, len(f.Comments))
	for _, c := range f.Comments {
		lines := strings.Split(c.Text, "\n")
		for i, l := range lines {
			lines[i] = strings.TrimRight(l, " \t\r")
		}
		out = append(out, strings.Join(lines, "\n"))
	}
	return out
}

// TestRefusesSyntaxErrors checks that Source returns nothing for a file with
// syntax errors, and the errors.
func TestRefusesSyntaxErrors(t *testing.T) {
	out, ds := Source("bad.whisper", []byte("model base {\n  source = \n}\n"))
	if out != nil {
		t.Errorf("formatted a broken file:\n%s", out)
	}
	if !ds.HasErrors() {
		t.Errorf("no error reported")
	}
}

// TestWidth checks the MaxWidth boundary: a one-line list that ends exactly
// at MaxWidth stays on one line, one character more breaks it.
func TestWidth(t *testing.T) {
	for _, extra := range []int{0, 1} {
		prefix := "target {\n  require = ["
		elem := strings.Repeat("a", MaxWidth-len("  require = [")-len("]")+extra)
		src := prefix + elem + "]\n}\n"
		out, ds := Source("w.whisper", []byte(src))
		if len(ds) > 0 {
			t.Fatal(ds)
		}
		oneLine := strings.Contains(string(out), "["+elem+"]")
		if oneLine != (extra == 0) {
			t.Errorf("extra=%d: one line = %v:\n%s", extra, oneLine, out)
		}
	}
}

// TestFileOnBrokenTree checks that File never panics and keeps what it can
// on partial trees from files with syntax errors.
func TestFileOnBrokenTree(t *testing.T) {
	for _, c := range chunkedfile.Read(t, "../parser/testdata/errors.whisper") {
		f, _ := parser.Parse("bad.whisper", c.Source)
		_ = File(f)
	}
	if got := File(nil); got != nil {
		t.Errorf("File(nil) = %q", got)
	}
}
