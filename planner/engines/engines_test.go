package engines

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/golden"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/cost"
)

var update = flag.Bool("update", false, "rewrite the golden files and spec/engines.md")

// lowerFile checks, plans and lowers one .whisper file.
func lowerFile(t *testing.T, path string, e Engine) (*Export, diag.Diagnostics, *compiler.Program) {
	t.Helper()
	prog, ds := compiler.Check(path, compiler.Options{})
	if ds.HasErrors() {
		var b strings.Builder
		diag.WriteText(&b, prog.Files, ds, diag.TextOptions{})
		t.Fatalf("%s does not check:\n%s", path, b.String())
	}
	// Plan as `whisperc export --engine E` does (cmd/whisperc engineCost).
	opts := planner.Options{}
	switch e {
	case HF:
		opts.Engine = cost.EngineHF
	case Torchtune:
		opts.Engine = cost.EngineTorchtune
	}
	plan, _ := planner.Build(prog, nil, opts)
	x, lds := Lower(prog, plan, e, Options{Dir: filepath.Join(filepath.Dir(path), "export"), Source: filepath.ToSlash(strings.TrimPrefix(path, "../../"))})
	return x, lds, prog
}

// render writes an export as a txtar archive: the diagnostics and the
// commands in the comment, then every file.
func render(x *Export, ds diag.Diagnostics, files diag.Files) string {
	var b strings.Builder
	if len(ds) > 0 {
		diag.WriteText(&b, files, ds, diag.TextOptions{})
	}
	ar := &txtar.Archive{}
	if x != nil {
		for _, c := range x.Commands {
			fmt.Fprintf(&b, "command %s: %s (launcher %s)\n", c.Stage, shJoin(c.Argv), c.Launcher)
		}
		for _, f := range x.Files {
			ar.Files = append(ar.Files, txtar.File{Name: f.Path, Data: []byte(f.Data)})
		}
	}
	ar.Comment = []byte(b.String())
	return string(txtar.Format(ar))
}

func examples(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob("../../examples/*.whisper")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	return paths
}

// TestGolden lowers every example to every engine and compares with
// testdata/golden/EXAMPLE.ENGINE.txtar (go test -update rewrites them).
func TestGolden(t *testing.T) {
	finetunes := 0
	for _, path := range examples(t) {
		for _, e := range Engines {
			name := strings.TrimSuffix(filepath.Base(path), ".whisper")
			t.Run(name+"/"+e.String(), func(t *testing.T) {
				x, ds, prog := lowerFile(t, path, e)
				// Every GPU fine-tune example exports to hf; a CPU one (a
				// llama2.c model) is refused on its source, as the golden shows.
				if e == HF && len(prog.Finetunes) > 0 && prog.Target != nil {
					finetunes++
					if x == nil {
						t.Errorf("the hf export of %s failed: %v", path, ds)
					}
				}
				golden.Compare(t, filepath.Join("testdata", "golden", name+"."+e.String()+".txtar"), render(x, ds, prog.Files), *update)
			})
		}
	}
	if finetunes < 4 {
		t.Errorf("only %d examples have a finetune; the examples changed", finetunes)
	}
}

var python = flag.String("python", "", "the Python interpreter that must compile the generated scripts (CI: /usr/bin/python3); without it the check uses /usr/bin/python3 when present")

// TestGeneratedFilesParse compiles every generated Python file with
// py_compile, parses every YAML and JSON file, and checks every shell
// script with bash -n. With -python the tools are required.
func TestGeneratedFilesParse(t *testing.T) {
	py := *python
	required := py != ""
	if py == "" {
		py = "/usr/bin/python3"
	}
	if _, err := os.Stat(py); err != nil {
		if required {
			t.Fatalf("the Python interpreter %s is missing: %v (CI installs python3 and python3-yaml)", py, err)
		}
		t.Skipf("no %s: run with -python to require it", py)
	}
	if err := runTool(py, "-c", "import yaml, json, py_compile"); err != nil {
		if required {
			t.Fatalf("%s cannot import yaml: %v (install python3-yaml)", py, err)
		}
		t.Skipf("%s has no yaml module: %v", py, err)
	}
	dir := t.TempDir()
	var pys, yamls, jsons, shs []string
	for _, path := range examples(t) {
		for _, e := range Engines {
			x, _, _ := lowerFile(t, path, e)
			if x == nil {
				continue
			}
			base := filepath.Join(dir, strings.TrimSuffix(filepath.Base(path), ".whisper")+"-"+e.String())
			for _, f := range x.Files {
				p := filepath.Join(base, filepath.FromSlash(f.Path))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(f.Data), 0o644); err != nil {
					t.Fatal(err)
				}
				switch filepath.Ext(p) {
				case ".py":
					pys = append(pys, p)
				case ".yaml":
					yamls = append(yamls, p)
				case ".json":
					jsons = append(jsons, p)
				case ".sh":
					shs = append(shs, p)
				}
			}
		}
	}
	if len(pys) == 0 || len(yamls) == 0 || len(jsons) == 0 || len(shs) == 0 {
		t.Fatalf("expected Python, YAML, JSON and shell files; got %d, %d, %d, %d", len(pys), len(yamls), len(jsons), len(shs))
	}
	check := `import json, py_compile, sys, yaml
for p in sys.argv[1:]:
    if p.endswith(".py"):
        py_compile.compile(p, doraise=True)
    elif p.endswith(".yaml"):
        doc = yaml.safe_load(open(p))
        assert isinstance(doc, dict) and doc, p
        # numbers must load as numbers: "1e-05" is a string to YAML 1.1
        for block in ("optimizer", "model", "lr_scheduler"):
            for k, v in (doc.get(block) or {}).items():
                if k in ("lr", "weight_decay", "lora_alpha", "lora_dropout", "warmup_ratio"):
                    assert isinstance(v, (int, float)), (p, block, k, v)
    elif p.endswith(".json"):
        json.load(open(p))
print("checked", len(sys.argv) - 1, "files")
`
	// Round trip of the quoting: tricky strings written as YAML and Python
	// literals must read back as themselves.
	tricky := []string{"plain", "a: b", "# c", "it's", `q"uote\`, "new\nline", "tab\t", "\x00\x1f\x7f", "\u0085nel", "\u2028ls",
		"héllo ✓", "-dash", "true", "null", "1e5", " lead", "trail ", "[x]", "{y}", "@z", "%w", "*a", "&b", "!c", "|d", ">e"}
	var yb, pb strings.Builder
	pb.WriteString("import json, sys, yaml\nwant = json.loads(sys.argv[1])\ndoc = yaml.safe_load(open(sys.argv[2]))\nlits = [\n")
	for i, s := range tricky {
		fmt.Fprintf(&yb, "k%d: %s\n", i, yamlStr(s))
		fmt.Fprintf(&pb, "    %s,\n", pyStr(s))
	}
	pb.WriteString("]\nfor i, w in enumerate(want):\n    assert doc['k%d' % i] == w, (i, doc['k%d' % i], w)\n    assert lits[i] == w, (i, lits[i], w)\nprint('quoting ok')\n")
	yp, pp := filepath.Join(dir, "tricky.yaml"), filepath.Join(dir, "tricky.py")
	if err := os.WriteFile(yp, []byte(yb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pp, []byte(pb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(tricky)
	if err := runTool(py, pp, string(want), yp); err != nil {
		t.Fatal(err)
	}

	args := append([]string{"-c", check}, pys...)
	args = append(append(args, yamls...), jsons...)
	if err := runTool(py, args...); err != nil {
		t.Fatal(err)
	}
	for _, s := range shs {
		if err := runTool("bash", "-n", s); err != nil {
			t.Errorf("bash -n %s: %v", s, err)
		}
	}
	t.Logf("py_compile: %d files, YAML: %d, JSON: %d, bash -n: %d", len(pys), len(yamls), len(jsons), len(shs))
}

// TestTableComplete fails when a decision has no mapping for an engine,
// when a row is malformed, or when a row maps no decision of the domain.
func TestTableComplete(t *testing.T) {
	want := map[string]bool{}
	for _, d := range decisionDomain {
		for _, v := range d.Values {
			for _, e := range []Engine{HF, Torchtune} {
				want[fmt.Sprintf("%s=%s@%s", d.Decision, v, e)] = true
				if _, ok := lookup(d.Decision, v, e); !ok {
					t.Errorf("%s has no mapping for %s = %s", e, d.Decision, v)
				}
			}
		}
	}
	for _, d := range serveDomain {
		for _, v := range d.Values {
			want[fmt.Sprintf("%s=%s@%s", d.Decision, v, VLLM)] = true
			if _, ok := lookup(d.Decision, v, VLLM); !ok {
				t.Errorf("vllm has no mapping for %s = %s", d.Decision, v)
			}
		}
	}
	seen := map[string]bool{}
	for _, m := range table {
		k := fmt.Sprintf("%s=%s@%s", m.Decision, m.Value, m.Engine)
		if !want[k] {
			t.Errorf("row %s maps no decision of the domain", k)
		}
		if seen[k] {
			t.Errorf("row %s appears twice", k)
		}
		seen[k] = true
		switch m.Support {
		case Exact:
			if m.Key == "" {
				t.Errorf("%s: exact without a key", k)
			}
		case Approximate:
			if m.Key == "" || m.Note == "" {
				t.Errorf("%s: approximate needs a key and a note", k)
			}
		case Unsupported:
			if m.Note == "" || !strings.HasSuffix(m.Note, ".") {
				t.Errorf("%s: unsupported needs a note that ends in a fix", k)
			}
		default:
			t.Errorf("%s: invalid support", k)
		}
	}
}

// TestSpecUpToDate fails when spec/engines.md differs from the table.
func TestSpecUpToDate(t *testing.T) {
	var b strings.Builder
	if err := WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	golden.Compare(t, filepath.Join("..", "..", "spec", "engines.md"), b.String(), *update)
	if strings.Contains(b.String(), "**missing**") {
		t.Error("spec/engines.md has a missing mapping")
	}
}

func runTool(name string, args ...string) error {
	out, err := execCommand(name, args...)
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", name, err, out)
	}
	return nil
}
