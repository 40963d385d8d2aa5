package parser

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/golden"
)

var update = flag.Bool("update", false, "rewrite golden files (testdata/render/*.txt, spec/grammar.ebnf)")

// TestRenderedDiagnostics compares the rendered diagnostics of each
// testdata/render/*.whisper with its .txt golden file. Run with -update to
// rewrite them, then review the diff.
func TestRenderedDiagnostics(t *testing.T) {
	files, err := filepath.Glob("testdata/render/*.whisper")
	if err != nil || len(files) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, fn := range files {
		t.Run(filepath.Base(fn), func(t *testing.T) {
			src, err := os.ReadFile(fn)
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Base(fn)
			f, ds := Parse(name, src)
			got := diag.Text(diag.FileMap{name: f.Source}, ds)
			golden.Compare(t, strings.TrimSuffix(fn, ".whisper")+".txt", got, *update)
		})
	}
}

// TestGrammarMatchesSpec keeps spec/grammar.ebnf equal to the parser's
// grammar. Run with -update to rewrite it.
func TestGrammarMatchesSpec(t *testing.T) {
	const path = "../../spec/grammar.ebnf"
	got := grammarFile()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("spec/grammar.ebnf is out of date (-want +got):\n%s", diff)
	}
}

// grammarFile is spec/grammar.ebnf: a header and the grammar.
func grammarFile() string {
	return `(* The grammar of .whisper files, in participle's EBNF notation.
   Generated from lang/parser/grammar.go by
   "go test ./lang/parser -run TestGrammarMatchesSpec -update"; do not edit.
   <ident>, <number>, <quantity> and <string> are tokens, and operator is
   one binary operator token: || && == != < <= > >= + - * /. Comments and
   whitespace (newlines included) separate tokens and are otherwise ignored.
   Expr holds its binary operators at one level; the parser then groups
   them by precedence, loosest first: || , && , == != < <= > >= , + - ,
   * / , each level left-associative (unary - and ! bind tighter still).
   spec/language.md explains the tokens and the meaning. *)

` + Grammar() + "\n"
}
