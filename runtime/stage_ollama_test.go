package runtime

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/runtime/export"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/serve"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// ollamaStore lays out an Ollama store under root holding blob as the
// model layer of NAME:latest (library namespace), with a template layer,
// as `ollama create` does.
func ollamaStore(t *testing.T, root, name, blob string) {
	t.Helper()
	put := func(data []byte) (string, int) {
		sum := sha256.Sum256(data)
		digest := "sha256:" + hex.EncodeToString(sum[:])
		p := filepath.Join(root, "blobs", "sha256-"+hex.EncodeToString(sum[:]))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return digest, len(data)
	}
	model, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	md, ms := put(model)
	td, ts := put([]byte("{{ .Prompt }}"))
	cd, cs := put([]byte(`{"model_format":"gguf","model_family":"llama"}`))
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",`+
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":%q,"size":%d},`+
		`{"mediaType":"application/vnd.ollama.image.template","digest":%q,"size":%d}]}`, cd, cs, md, ms, td, ts)
	p := filepath.Join(root, "manifests", "registry.ollama.ai", "library", name, "latest")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOllamaSource runs a generate stage on source = "ollama:tiny:latest",
// read from an Ollama store laid out (in a test folder named by
// OLLAMA_MODELS) from our own GGUF export of stories260K: it prints
// llama2.c's story byte for byte.
func TestOllamaSource(t *testing.T) {
	models := testmodels.Dir(t)
	ws, err := llama2c.Open(filepath.Join(models, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	tok, err := tokenizer.ReadLlama2CFile(filepath.Join(models, "tok512.bin"), ws.Config.Vocab)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plain, _ := serve.LookupTemplate("plain")
	w, err := export.Export(ws, tokenizer.GGUFVocab(tok), export.Options{Path: filepath.Join(dir, "export", "tiny.gguf"), Name: "tiny", DType: weights.F32, Template: plain})
	if err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "ollama")
	ollamaStore(t, store, "tiny", w.Model)
	t.Setenv("OLLAMA_MODELS", store)
	src := `model tiny {
  source = "ollama:tiny:latest"
}

generate story {
  model       = tiny
  prompt      = ""
  max_tokens  = 200
  temperature = 0
}
`
	path := filepath.Join(dir, "ollama.whisper")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, plan := mustPlan(t, path)
	if len(plan.Models) == 0 || plan.Models[0].Params == 0 {
		t.Errorf("the plan did not read the model from the store: %+v", plan.Models)
	}
	var out, errs bytes.Buffer
	if ds := Execute(context.Background(), plan, prog, Streams{Stdout: &out, Stderr: &errs}); len(ds) > 0 {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	want, err := os.ReadFile("engine/testdata/stories260K.golden")
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("stdout differs from llama2.c's:\n got %q\nwant %q", out.String(), want)
	}
	// A name the store does not have is a clear error.
	t.Setenv("OLLAMA_MODELS", filepath.Join(dir, "empty"))
	ds := Execute(context.Background(), plan, prog, Streams{Stdout: &out, Stderr: &errs})
	if text := diag.Text(prog.Files, ds); !strings.Contains(text, "E501") || !strings.Contains(text, "not in the store") {
		t.Errorf("missing store: %s", text)
	}
}
