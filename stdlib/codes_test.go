package stdlib

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var codeShape = regexp.MustCompile(`^(E[0-9]{3}|ML[0-9]{3}|[A-Z][0-9]{3})$`)

func TestCodesWellFormed(t *testing.T) {
	seen := map[string]bool{}
	phases := map[string]bool{"syntax": true, "check": true, "rule": true, "plan": true, "run": true}
	for _, c := range Codes() {
		if !codeShape.MatchString(c.ID) {
			t.Errorf("code %q does not look like E123 or ML123", c.ID)
		}
		if seen[c.ID] {
			t.Errorf("code %s documented twice", c.ID)
		}
		seen[c.ID] = true
		if !phases[c.Phase] {
			t.Errorf("%s: unknown phase %q", c.ID, c.Phase)
		}
		if c.Title == "" || strings.ToLower(c.Title[:1]) != c.Title[:1] {
			t.Errorf("%s: title %q should be non-empty and lower case", c.ID, c.Title)
		}
		if !strings.HasSuffix(strings.TrimSpace(c.Explain), ".") {
			t.Errorf("%s: explanation should be sentences ending in a fix", c.ID)
		}
		if c.Phase == "rule" && (len(c.Citations) == 0 || c.Example == "" || !strings.Contains(c.Explain, "Fix")) {
			t.Errorf("%s: a rule needs citations, an example and a fix", c.ID)
		}
	}
	for _, id := range []string{"ML001", "ML002", "ML003", "ML004", "ML005", "ML006", "ML007", "ML008"} {
		if !seen[id] {
			t.Errorf("rule %s is not documented", id)
		}
	}
	if _, ok := LookupCode("ml003"); !ok {
		t.Error("LookupCode should ignore case")
	}
}

// TestEmittedCodesDocumented finds every diagnostic code the repository's
// non-test Go code can emit and checks that stdlib documents it. A code is a
// string literal shaped like E123 or ML123, or any X123 literal used as a
// Code field, as the code argument of diag.Errorf/Warningf/Infof, or as a
// constant whose name mentions "code".
func TestEmittedCodesDocumented(t *testing.T) {
	root := ".."
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Skip("repository root not found")
	}
	documented := map[string]bool{}
	for _, c := range Codes() {
		documented[c.ID] = true
	}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil // someone else's file mid-edit; the build reports it
		}
		for _, lit := range emittedCodes(f) {
			if !documented[lit.code] {
				t.Errorf("%s: code %s is emitted but not documented in stdlib/codes_*.go", fset.Position(lit.pos), lit.code)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

type codeLit struct {
	code string
	pos  token.Pos
}

var strongCode = regexp.MustCompile(`^(E[0-9]{3}|ML[0-9]{3})$`)

func emittedCodes(f *ast.File) []codeLit {
	var out []codeLit
	str := func(e ast.Expr) (string, token.Pos, bool) {
		bl, ok := e.(*ast.BasicLit)
		if !ok || bl.Kind != token.STRING {
			return "", 0, false
		}
		s, err := strconv.Unquote(bl.Value)
		return s, bl.Pos(), err == nil && codeShape.MatchString(s)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if s, pos, ok := str(n); ok && strongCode.MatchString(s) {
				out = append(out, codeLit{s, pos})
			}
		case *ast.KeyValueExpr:
			if id, ok := n.Key.(*ast.Ident); ok && id.Name == "Code" {
				if s, pos, ok := str(n.Value); ok {
					out = append(out, codeLit{s, pos})
				}
			}
		case *ast.CallExpr:
			name := ""
			switch fn := n.Fun.(type) {
			case *ast.SelectorExpr:
				name = fn.Sel.Name
			case *ast.Ident:
				name = fn.Name
			}
			if (name == "Errorf" || name == "Warningf" || name == "Infof") && len(n.Args) >= 2 {
				if s, pos, ok := str(n.Args[1]); ok {
					out = append(out, codeLit{s, pos})
				}
			}
		case *ast.ValueSpec:
			for i, id := range n.Names {
				if i < len(n.Values) && strings.Contains(strings.ToLower(id.Name), "code") {
					if s, pos, ok := str(n.Values[i]); ok {
						out = append(out, codeLit{s, pos})
					}
				}
			}
		}
		return true
	})
	return out
}
