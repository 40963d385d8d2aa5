package parser

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
)

// sameTree reports how got, from Reparse, differs from want, from
// ParseTree: items and comments with their offsets, and diagnostics with
// their ranges; "" when they are equal.
func sameTree(got, want *Tree) string {
	if !reflect.DeepEqual(got.File.Items, want.File.Items) {
		for i := 0; i < max(len(got.File.Items), len(want.File.Items)); i++ {
			if i >= len(got.File.Items) || i >= len(want.File.Items) || !reflect.DeepEqual(got.File.Items[i], want.File.Items[i]) {
				var g, w string
				if i < len(got.File.Items) {
					s, e := got.File.Items[i].Span()
					g = fmt.Sprintf("%d..%d %s", s, e, ast.Dump(got.File.Items[i]))
				}
				if i < len(want.File.Items) {
					s, e := want.File.Items[i].Span()
					w = fmt.Sprintf("%d..%d %s", s, e, ast.Dump(want.File.Items[i]))
				}
				return fmt.Sprintf("item %d differs: got %s\nwant %s", i, g, w)
			}
		}
	}
	if !reflect.DeepEqual(got.File.Comments, want.File.Comments) {
		return "comments differ"
	}
	if got.File.Extent != want.File.Extent || string(got.File.Source.Src) != string(want.File.Source.Src) {
		return "file extent or source differ"
	}
	render := func(ds diag.Diagnostics) string {
		var b strings.Builder
		for _, d := range ds {
			fmt.Fprintf(&b, "%v %+v %s %s %+v", d, *d.Subject, d.Summary, d.Detail, d.Notes)
			if d.Context != nil {
				fmt.Fprintf(&b, " context %+v", *d.Context)
			}
			if d.Suggestion != nil {
				fmt.Fprintf(&b, " fix %+v", *d.Suggestion)
			}
			b.WriteString("\n")
		}
		return b.String()
	}
	if g, w := render(got.Diags), render(want.Diags); g != w {
		return "diagnostics differ:\n" + g + "want:\n" + w
	}
	return ""
}

// reparseCorpus is the text the edits below start from: the parser's test
// files and the examples.
func reparseCorpus(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, pat := range []string{"testdata/*.whisper", "../../examples/*.whisper", "../../examples/*/*.whisper"} {
		names, _ := filepath.Glob(pat)
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				t.Fatal(err)
			}
			out[n] = string(b)
		}
	}
	if len(out) < 5 {
		t.Fatalf("only %d files in the corpus", len(out))
	}
	return out
}

// edits are the fragments the random edits insert: tokens, brackets,
// comment and string openers, line breaks, and whole declarations.
var edits = []string{"", "x", "1", " ", "\n", "}", "{", "=", "\"", "/*", "*/", "//", "#", "model m {\n  source = \"hf:a/b\"\n}\n",
	"lora { rank = 8 }", "é", "\r\n", "batch = ", "[", "]", ",", "(", "2e-4", "5%", "24GiB", "import \"x.whisper\"\n", "\x00", "\xff"}

// TestReparseEqualsParse checks Reparse against ParseTree on thousands of
// random edits of real files, chained (each edit applies to the previous
// result, as typing does): the trees, comments and diagnostics must be
// identical, offsets included.
func TestReparseEqualsParse(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	n := 800
	if testing.Short() {
		n = 200
	}
	corpus := reparseCorpus(t)
	names := make([]string, 0, len(corpus))
	for k := range corpus {
		names = append(names, k)
	}
	sort.Strings(names)
	var pieces, full int
	for i := 0; i < n; i++ {
		name := names[rng.Intn(len(names))]
		text := corpus[name]
		tree := ParseTree(name, []byte(text))
		for k := 0; k < 5; k++ {
			a := rng.Intn(len(text) + 1)
			b := min(len(text), a+rng.Intn(4)*rng.Intn(12))
			ins := edits[rng.Intn(len(edits))]
			next := text[:a] + ins + text[b:]
			got, st := Reparse(tree, name, []byte(next))
			want := ParseTree(name, []byte(next))
			if why := sameTree(got, want); why != "" {
				t.Fatalf("%s: replacing %q at %d..%d by %q (stats %+v): %s\ntext after:\n%q", name, text[a:b], a, b, ins, st, why, next)
			}
			if st.Full {
				full++
			} else {
				pieces++
			}
			text, tree = next, got
		}
	}
	t.Logf("%d edits re-parsed piecewise, %d whole", pieces, full)
	// Random bytes often unbalance a bracket or open a comment, which
	// rightly means a whole parse; still, many edits must be piecewise.
	if pieces < (pieces+full)/4 {
		t.Errorf("only %d of %d edits re-parsed piecewise", pieces, pieces+full)
	}
}

// TestReparseParsesOnlyTheEditedDeclaration counts: an edit inside one
// declaration of a large file parses that declaration alone.
func TestReparseParsesOnlyTheEditedDeclaration(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&b, "model m%d {\n  source = \"hf:org/m%d\"\n  quantize { method = nf4 }\n}\n\n", i, i)
	}
	text := b.String()
	tree := ParseTree("big.whisper", []byte(text))
	at := strings.Index(text, "hf:org/m1234\"") + len("hf:org/m1234")
	next := text[:at] + "5" + text[at:]
	got, st := Reparse(tree, "big.whisper", []byte(next))
	if st.Full || st.Parsed != 1 || st.Reused != 1999 {
		t.Errorf("stats %+v, want 1 item parsed and 1999 reused", st)
	}
	if why := sameTree(got, ParseTree("big.whisper", []byte(next))); why != "" {
		t.Error(why)
	}
	// An edit that breaks the declaration still parses it alone.
	at = strings.Index(next, "method = nf4") + len("method =")
	broken := next[:at] + next[at+len(" nf4"):]
	got, st = Reparse(got, "big.whisper", []byte(broken))
	if st.Full || st.Parsed != 1 {
		t.Errorf("stats %+v after breaking a declaration, want 1 item parsed", st)
	}
	if why := sameTree(got, ParseTree("big.whisper", []byte(broken))); why != "" {
		t.Error(why)
	}
	// An unclosed bracket may reach any later declaration: all of it.
	at = strings.Index(broken, "model m1500 {") + len("model m1500 {")
	unclosed := broken[:at] + " [ " + broken[at:]
	if _, st = Reparse(got, "big.whisper", []byte(unclosed)); !st.Full {
		t.Errorf("stats %+v after an unclosed bracket, want a full parse", st)
	}
}

// FuzzReparse checks Reparse against ParseTree on any text and any edit of
// it.
func FuzzReparse(f *testing.F) {
	f.Add("model m {\n  source = \"hf:a/b\"\n}\n\nmodel n {\n  source = \"hf:c/d\"\n}\n", 20, 2, "x")
	f.Add("model m {\n  source = \"hf:a/b\"\n}\n\nmodel\nn {\n}\n", 0, 0, "// ")
	f.Add("dataset d { source = \"a\" }\n/* c */\nmodel m {}\n", 30, 3, "/*")
	f.Fuzz(func(t *testing.T, text string, at, n int, ins string) {
		if len(text) > 4096 || len(ins) > 64 {
			return
		}
		at = min(max(at, 0), len(text))
		end := min(at+max(n, 0), len(text))
		next := text[:at] + ins + text[end:]
		got, st := Reparse(ParseTree("f.whisper", []byte(text)), "f.whisper", []byte(next))
		if why := sameTree(got, ParseTree("f.whisper", []byte(next))); why != "" {
			t.Fatalf("stats %+v: %s", st, why)
		}
	})
}

// BenchmarkReparse4MiB measures Reparse after a one-byte edit in the
// middle of a 4 MiB file (the declarations after it are moved).
func BenchmarkReparse4MiB(b *testing.B) {
	src := benchProgram(1)
	for len(src) < 4<<20-64<<10 {
		src = append(src, benchProgram(2000)...)
	}
	src = src[:bytes.LastIndex(src[:4<<20-64<<10], []byte("\nmodel "))+1]
	tree := ParseTree("big.whisper", src)
	mid := len(src)/2 + bytes.Index(src[len(src)/2:], []byte("seq_len = 1_024")) + len("seq_len = 1_02")
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		next := append(append(append([]byte{}, src[:mid]...), byte('0'+n%10)), src[mid+1:]...)
		if _, st := Reparse(tree, "big.whisper", next); st.Full || st.Parsed != 1 {
			b.Fatalf("stats %+v", st)
		}
	}
}
