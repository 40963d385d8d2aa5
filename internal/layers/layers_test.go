// Package layers holds the test that keeps whisperc's dependency direction:
// lang ← stdlib ← compiler ← planner ← runtime, with lsp beside runtime (it
// never imports it) and cmd/whisperc on top. Only runtime imports Gorgonia.
package layers

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/modelwhisperer/whisperc"

// testModels is the one way tests reach the shared models (skip locally,
// fail under CI); it imports nothing of the module, so tests of every layer
// may use it.
const testModels = module + "/internal/testmodels"

// allowed lists, for each layer, the layers it may import.
var allowed = map[string][]string{
	"lang":     {"lang"},
	"stdlib":   {"lang", "stdlib"},
	"compiler": {"lang", "stdlib", "compiler"},
	"planner":  {"lang", "stdlib", "compiler", "planner"},
	"runtime":  {"lang", "stdlib", "compiler", "planner", "runtime"},
	"lsp":      {"lang", "stdlib", "compiler", "planner", "lsp"},
	"internal": {"lang", "stdlib", "compiler", "planner", "runtime", "lsp", "internal"},
	"cmd":      {"lang", "stdlib", "compiler", "planner", "runtime", "lsp", "internal", "cmd"},
}

// layer returns the top-level directory of a package of this module.
func layer(path string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
	top, _, _ := strings.Cut(rel, "/")
	return top
}

type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports", module+"/...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("go command unavailable: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	return pkgs
}

func TestDependencyDirection(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		from := layer(p.ImportPath)
		ok, known := allowed[from]
		if !known {
			t.Errorf("%s: top-level directory %q has no place in the layering; add it to allowed", p.ImportPath, from)
			continue
		}
		imports := append(append(append([]string{}, p.Imports...), p.TestImports...), p.XTestImports...)
		if p.ImportPath == testModels {
			for _, imp := range p.Imports {
				if strings.HasPrefix(imp, module+"/") {
					t.Errorf("%s imports %s: the shared test-model finder must stay a leaf", p.ImportPath, imp)
				}
			}
		}
		for _, imp := range p.Imports {
			if imp == testModels {
				t.Errorf("%s imports %s outside its tests", p.ImportPath, imp)
			}
		}
		for _, imp := range imports {
			if imp == testModels {
				continue // tests of every layer find the shared models through it
			}
			if strings.HasPrefix(imp, "gorgonia.org/") && from != "runtime" {
				t.Errorf("%s imports %s: only runtime/ may import Gorgonia", p.ImportPath, imp)
			}
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to := layer(imp)
			if !contains(ok, to) {
				t.Errorf("%s imports %s: %s may not depend on %s (lang ← stdlib ← compiler ← planner ← runtime)", p.ImportPath, imp, from, to)
			}
		}
	}
}

func TestLayerOf(t *testing.T) {
	if got := layer(module + "/planner/hw"); got != "planner" {
		t.Errorf("layer = %q", got)
	}
	if contains(allowed["lsp"], "runtime") || contains(allowed["stdlib"], "compiler") {
		t.Error("the layering table itself is wrong")
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
