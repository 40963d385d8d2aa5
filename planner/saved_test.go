package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
)

// TestSavedPlanPaths checks that a saved plan stores its files relative to
// the plan file, hashes the tokenizer, finds everything again from another
// working directory, and says plainly when a file changed at the same size.
func TestSavedPlanPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, text string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("proj/m.bin", "weights")
	write("proj/tok.bin", "tokens-A")
	write("proj/main.whisper", "model m {\n  source = \"llama2c:m.bin\"\n  tokenizer = \"tok.bin\"\n}\ngenerate g { model = m, prompt = \"x\" }\n")
	root := filepath.Join(dir, "proj", "main.whisper")
	prog, ds := compiler.Check(root, compiler.Options{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	p := &Plan{FormatVersion: FormatVersion}
	planPath := filepath.Join(dir, "plans", "p.json")
	if err := os.MkdirAll(filepath.Dir(planPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := p.Save(planPath, prog, nil); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(planPath)
	for _, want := range []string{`"path": "../proj/main.whisper"`, `"path": "../proj/tok.bin"`, `"tokenizers"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("saved plan lacks %s:\n%s", want, data)
		}
	}
	// From another working directory, the paths resolve against the plan.
	t.Chdir(t.TempDir())
	loaded, err := Load(planPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := loaded.Saved.Inputs[0].Path; got != root {
		t.Errorf("input path %q, want %q", got, root)
	}
	if ch, err := loaded.Changes(prog, nil); err != nil || len(ch) != 0 {
		t.Errorf("unchanged plan reports %v, %v", ch, err)
	}
	// The tokenizer is hashed: changing it (at the same size) is a change.
	write("proj/tok.bin", "tokens-B")
	ch, err := loaded.Changes(prog, nil)
	if err != nil || len(ch) != 1 || !strings.Contains(ch[0], "tokenizer file") || !strings.Contains(ch[0], "same size, 8 bytes, different content") {
		t.Errorf("changes = %q, %v", ch, err)
	}
}
