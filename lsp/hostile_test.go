//go:build unix

package lsp

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"
)

// TestHostileImports opens documents whose imports name a device, a FIFO,
// a file outside the document's directory and a file that is not .whisper
// source: diagnostics arrive at once, nothing blocks, memory stays flat,
// and no line of a refused file appears in any message.
func TestHostileImports(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.whisper")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	secret := filepath.Join(filepath.Dir(dir), "secret-"+filepath.Base(dir)+".whisper")
	if err := os.WriteFile(secret, []byte("password = hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(secret) })
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("token = hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"device":            `import "/dev/zero"`,
		"device as whisper": `import "/dev/stdin.whisper"`,
		"fifo":              `import "fifo.whisper"`,
		"outside":           `import "../` + filepath.Base(secret) + `"`,
		"not source":        `import "notes.txt"`,
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := newSession(t, testOpts())
	for name, imp := range cases {
		t.Run(name, func(t *testing.T) {
			u := uri.File(filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".whisper"))
			text := imp + "\nmodel m {\n  source = \"hf:a/b\"\n}\n"
			start := time.Now()
			s.open(u, text)
			diags := s.waitDiagnostics(u, 1)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("diagnostics after %v", d)
			}
			if len(diags) == 0 {
				t.Fatal("no diagnostic for the import")
			}
			for _, d := range diags {
				if strings.Contains(string(d.Message.(protocol.String)), "hunter2") {
					t.Errorf("a refused file's content in a diagnostic: %q", d.Message)
				}
			}
			h, err := s.server.Hover(s.ctx, &protocol.HoverParams{TextDocumentPositionParams: s.tdpp(u, s.pos(text, `"`, 1))})
			if err != nil {
				t.Fatal(err)
			}
			if h != nil && strings.Contains(h.Contents.(*protocol.MarkupContent).Value, "hunter2") {
				t.Errorf("a refused file's content in hover: %q", h.Contents)
			}
		})
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 64<<20 {
		t.Errorf("heap grew by %d MiB", grew>>20)
	}
}

// TestLargeHostileDocuments opens the inputs that once took the command
// line tens of seconds and gigabytes (issue 13): two million stray braces,
// half a million attributes, a chain of 400,000 additions. Each gets its
// capped diagnostics, completion answers from the tolerant view, and the
// CPU spent stays within seconds. The CPU times are logged.
func TestLargeHostileDocuments(t *testing.T) {
	cases := []struct{ name, text string }{
		{"braces", strings.Repeat("}\n", 1000000)},
		{"attributes", strings.Repeat("x = 1\n", 500000)},
		{"additions", "variable v { default = " + strings.Repeat("1+", 400000) + "1 }\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSession(t, testOpts())
			u := testURI(t, "big.whisper")
			cpu0, ok := processCPU()
			s.open(u, c.text)
			if _, err := s.server.Completion(s.ctx, &protocol.CompletionParams{TextDocumentPositionParams: s.tdpp(u, protocol.Position{Line: 3})}); err != nil {
				t.Fatal(err)
			}
			ds := s.waitDiagnostics(u, 1)
			if len(ds) == 0 || len(ds) > 101 {
				t.Errorf("%d diagnostics", len(ds))
			}
			if cpu1, ok1 := processCPU(); ok && ok1 {
				cpu := time.Duration(cpu1 - cpu0)
				t.Logf("%d bytes: %d diagnostics, %v CPU", len(c.text), len(ds), cpu)
				if cpu > 20*time.Second {
					t.Errorf("%v of CPU", cpu)
				}
			}
		})
	}
}
