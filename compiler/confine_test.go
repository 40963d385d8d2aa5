package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelwhisperer/whisperc/lang/diag"
)

// TestImportConfinement checks the import rule on real files: only
// .whisper files inside the root's directory tree (or an allowed
// directory) are read, links are followed before the check, and nothing of
// a refused file reaches a diagnostic.
func TestImportConfinement(t *testing.T) {
	top := t.TempDir()
	write := func(rel, text string) string {
		p := filepath.Join(top, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("secret.env", "AWS_SECRET=hunter2\n")
	write("outside.whisper", "model leaked { source = \"hf:SECRET/x\" }\n")
	write("proj/sub/ok.whisper", "model base { source = \"hf:a/b\" }\n")
	if err := os.Symlink(filepath.Join(top, "outside.whisper"), filepath.Join(top, "proj", "link.whisper")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(top, "proj", "zero.whisper")); err != nil {
		t.Fatal(err)
	}
	root := write("proj/main.whisper", `import "sub/ok.whisper"
import "../secret.env"
import "../outside.whisper"
import "`+filepath.Join(top, "outside.whisper")+`"
import "link.whisper"
import "zero.whisper"
generate g { model = base, prompt = "hi" }
`)
	var prog *Program
	var ds diag.Diagnostics
	done := make(chan struct{})
	go func() { prog, ds = Check(root, Options{}); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Check did not return: an import of /dev/zero must be refused, not read")
	}
	if diff := cmp.Diff([]string{"E218", "E218", "E218", "E218", "E218"}, codes(ds)); diff != "" {
		t.Fatalf("codes (-want +got):\n%s\n%s", diff, diag.Text(prog.Files, ds))
	}
	text := diag.Text(prog.Files, ds)
	for _, leak := range []string{"hunter2", "SECRET"} {
		if strings.Contains(text, leak) {
			t.Errorf("a refused file's content reached the diagnostics:\n%s", text)
		}
	}
	if !strings.Contains(text, "is not one, so whisperc does not read it") || !strings.Contains(text, "--import-dir") {
		t.Errorf("messages do not explain the rule:\n%s", text)
	}

	// --import-dir widens the rule to one more tree.
	root2 := write("proj/main2.whisper", "import \"../outside.whisper\"\nimport \"sub/ok.whisper\"\n")
	prog, ds = Check(root2, Options{ImportDirs: []string{top}})
	if len(ds) != 0 || prog.Model("leaked") == nil {
		t.Errorf("an allowed directory's import was refused:\n%s", diag.Text(prog.Files, ds))
	}
}

func TestImportTooLargeIsRefusedBeforeReading(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.whisper")
	if err := os.WriteFile(big, make([]byte, 5<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "main.whisper")
	if err := os.WriteFile(root, []byte("import \"big.whisper\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, ds := Check(root, Options{})
	if diff := cmp.Diff([]string{"E208"}, codes(ds)); diff != "" {
		t.Fatalf("codes (-want +got):\n%s\n%s", diff, diag.Text(prog.Files, ds))
	}
	if !strings.Contains(ds[0].Detail, "larger than the 4 MiB limit") {
		t.Errorf("detail: %s", ds[0].Detail)
	}
}

func TestImportAllowed(t *testing.T) {
	for _, tc := range []struct {
		target string
		ok     bool
	}{
		{"/p/a.whisper", true}, {"/p/x/y/a.whisper", true}, {"/a.whisper", false},
		{"/p/../q/a.whisper", false}, {"/pq/a.whisper", false}, {"/p/..x.whisper", true},
	} {
		if got := ImportAllowed(tc.target, []string{"/p"}); got != tc.ok {
			t.Errorf("ImportAllowed(%q) = %v, want %v", tc.target, got, tc.ok)
		}
	}
}
