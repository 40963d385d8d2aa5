package arch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResolveOllamaRefuses checks that malformed references and stores
// are refused with clear errors.
func TestResolveOllamaRefuses(t *testing.T) {
	root := t.TempDir()
	digest := "sha256:" + strings.Repeat("ab", 32)
	write := func(name, manifest string) {
		p := filepath.Join(root, "manifests", "registry.ollama.ai", "library", name, "latest")
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(root, "blobs"), 0o755)
	os.WriteFile(filepath.Join(root, "blobs", "sha256-"+strings.Repeat("ab", 32)), []byte("GGUF...."), 0o644)
	write("ok", `{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"`+digest+`","size":8}]}`)
	write("size", `{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"`+digest+`","size":9}]}`)
	write("digest", `{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:../../etc","size":8}]}`)
	write("nomodel", `{"schemaVersion":2,"layers":[]}`)
	write("json", `{"schemaVersion":2,"layers":[`)
	m, err := ResolveOllama(root, "ok")
	if err != nil || filepath.Base(m.Model) != "sha256-"+strings.Repeat("ab", 32) {
		t.Errorf("ok: %+v %v", m, err)
	}
	for ref, want := range map[string]string{
		"size":         "manifest says 9",
		"digest":       "want sha256:<64 hex digits>",
		"nomodel":      "no model layer",
		"json":         "manifest",
		"absent:7b":    "not in the store",
		"../x":         "not a valid model name part",
		"a/b/c/d":      "is not NAME",
		"ok:..":        "not a valid model name part",
		"library/ok:x": "not in the store",
	} {
		if _, err := ResolveOllama(root, ref); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", ref, err, want)
		}
	}
}
