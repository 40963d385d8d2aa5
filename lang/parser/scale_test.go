package parser

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
)

// TestLargeFilesParsedByDeclaration checks that parsing a large file a
// declaration at a time (to bound participle's copies) gives the same tree
// as parsing it whole.
func TestLargeFilesParsedByDeclaration(t *testing.T) {
	src := benchProgram(2000)
	whole, wds := parse("big.whisper", src, 1<<30)
	pieces, pds := parse("big.whisper", src, 0)
	if len(wds) != 0 || len(pds) != 0 {
		t.Fatalf("diagnostics: %v / %v", wds, pds)
	}
	if diff := cmp.Diff(dumpItems(whole), dumpItems(pieces)); diff != "" {
		t.Errorf("trees differ (-whole +by declaration):\n%.3000s", diff)
	}
}

func dumpItems(f *ast.File) string {
	var b strings.Builder
	for _, it := range f.Items {
		b.WriteString(ast.Dump(it))
	}
	return b.String()
}

// TestTooManyErrorsStops checks the cap of diag.MaxPerFile: a file of a
// million mistakes gets 100 diagnostics and one E115 where the parser
// stopped, and nothing after it.
func TestTooManyErrorsStops(t *testing.T) {
	for name, src := range map[string]string{
		"closers":      strings.Repeat("}\n", 100000),
		"attributes":   strings.Repeat("x = 1\n", 100000),
		"single quote": strings.Repeat("model m { source = 'x' }\n", 100000),
	} {
		_, ds := Parse("many.whisper", []byte(src))
		if len(ds) != diag.MaxPerFile+1 {
			t.Errorf("%s: %d diagnostics, want %d", name, len(ds), diag.MaxPerFile+1)
			continue
		}
		last := ds[len(ds)-1]
		if last.Code != diag.TooManyCode || !GaveUp(ds) {
			t.Errorf("%s: last diagnostic %s %s, want E115", name, last.Code, last.Summary)
		}
		if prev := ds[len(ds)-2]; prev.Subject.Start.Byte > last.Subject.Start.Byte {
			t.Errorf("%s: E115 at %v is before the last shown diagnostic %v", name, last.Subject, prev.Subject)
		}
	}
}

// TestExpressionOperatorLimit checks that a chain of far more than
// MaxOperators operators is cut before participle sees it, with one E113,
// and that the items after it still parse.
func TestExpressionOperatorLimit(t *testing.T) {
	chain := strings.Repeat("1 + ", 200000) + "1"
	src := "generate g {\n  max_tokens = " + chain + "\n  prompt = \"p\"\n}\nmodel m { source = \"hf:a/b\" }\n"
	f, ds := Parse("chain.whisper", []byte(src))
	var codes []string
	for _, d := range ds {
		codes = append(codes, d.Code)
	}
	if diff := cmp.Diff([]string{"E113"}, codes); diff != "" {
		t.Fatalf("codes (-want +got):\n%s", diff)
	}
	// One diagnostic for the expression: the converter's, at the first
	// `+` past MaxChain.
	if want := strings.Index(src, "1 + ") + 4*MaxChain + 2; ds[0].Subject.Start.Byte != want {
		t.Errorf("E113 at byte %d, want %d (the operator past MaxChain)", ds[0].Subject.Start.Byte, want)
	}
	if len(f.Items) != 2 {
		t.Fatalf("%d items, want the generate and the model", len(f.Items))
	}
	g := f.Items[0].(*ast.Block)
	if attrs := g.Body.Attributes(); len(attrs) != 2 || attrs[1].Name.Name != "prompt" {
		t.Errorf("attributes after the cut expression were lost: %s", ast.Dump(g))
	}
	// Every precedence level under MaxChain, but more than MaxOperators in
	// all: the cut reports it.
	product := "2" + strings.Repeat(" * 2", MaxChain-1)
	mixed := "a = " + strings.Repeat(product+" + ", 11) + "1\n"
	if _, ds := Parse("mixed.whisper", []byte("generate g {\n"+mixed+"}\n")); len(ds) != 1 || ds[0].Code != "E113" ||
		!strings.Contains(ds[0].Detail, "at most 10000 binary operators") {
		t.Errorf("mixed: %v", ds)
	}
	// Just under the limit per precedence level and in total: no error.
	ok := "a = " + strings.Repeat("2 * 3 * 4 + ", 900) + "1\n"
	if _, ds := Parse("ok.whisper", []byte("generate g {\n"+ok+"}\n")); len(ds) != 0 {
		t.Errorf("a long but allowed expression: %v", ds)
	}
}
