package arch

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// OllamaModel is a model in an Ollama store, resolved from its manifest.
type OllamaModel struct {
	// Manifest is the manifest file read.
	Manifest string
	// Model is the GGUF blob of the weights.
	Model string
	// Adapters are GGUF adapter blobs, in manifest order.
	Adapters []string
}

// OllamaRoot returns the Ollama store: $OLLAMA_MODELS, else
// ~/.ollama/models.
func OllamaRoot() (string, error) {
	if d := os.Getenv("OLLAMA_MODELS"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".ollama", "models"), nil
}

var (
	ollamaPart   = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$`)
	ollamaDigest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// maxManifest bounds a manifest's size.
const maxManifest = 1 << 20

// ResolveOllama finds ref ("NAME", "NAME:TAG", "NAMESPACE/NAME:TAG" or
// "HOST/NAMESPACE/NAME:TAG"; the tag defaults to latest, the namespace to
// library and the host to registry.ollama.ai) in the store at root: it
// reads the manifest under manifests/HOST/NAMESPACE/NAME/TAG and returns
// the blobs of its model and adapter layers, checking that each exists
// with the size the manifest gives.
func ResolveOllama(root, ref string) (OllamaModel, error) {
	var m OllamaModel
	name, tag, ok := strings.Cut(ref, ":")
	if !ok {
		tag = "latest"
	}
	parts := strings.Split(name, "/")
	switch len(parts) {
	case 1:
		parts = []string{"registry.ollama.ai", "library", parts[0]}
	case 2:
		parts = []string{"registry.ollama.ai", parts[0], parts[1]}
	case 3:
	default:
		return m, fmt.Errorf("ollama: %q is not NAME, NAMESPACE/NAME or HOST/NAMESPACE/NAME", name)
	}
	for _, p := range append(append([]string(nil), parts...), tag) {
		if !ollamaPart.MatchString(p) || strings.Contains(p, "..") {
			return m, fmt.Errorf("ollama: %q is not a valid model name part", p)
		}
	}
	m.Manifest = filepath.Join(append([]string{root, "manifests"}, append(parts, tag)...)...)
	f, err := os.Open(m.Manifest)
	if err != nil {
		return m, fmt.Errorf("ollama: model %s:%s is not in the store at %s: %w", name, tag, root, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return m, err
	}
	if !info.Mode().IsRegular() || info.Size() > maxManifest {
		return m, fmt.Errorf("ollama: %s is not a manifest (a regular file of at most %d bytes)", m.Manifest, maxManifest)
	}
	data := make([]byte, info.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return m, fmt.Errorf("ollama: %s: %w", m.Manifest, err)
	}
	var man struct {
		SchemaVersion int `json:"schemaVersion"`
		Layers        []struct {
			MediaType string `json:"mediaType"`
			Digest    string `json:"digest"`
			Size      int64  `json:"size"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(data, &man); err != nil {
		return m, fmt.Errorf("ollama: manifest %s: %w", m.Manifest, err)
	}
	if man.SchemaVersion != 2 {
		return m, fmt.Errorf("ollama: manifest %s has schemaVersion %d, want 2", m.Manifest, man.SchemaVersion)
	}
	for i, l := range man.Layers {
		var dst *string
		switch l.MediaType {
		case "application/vnd.ollama.image.model":
			if m.Model != "" {
				return m, fmt.Errorf("ollama: manifest %s has two model layers", m.Manifest)
			}
			dst = &m.Model
		case "application/vnd.ollama.image.adapter":
			m.Adapters = append(m.Adapters, "")
			dst = &m.Adapters[len(m.Adapters)-1]
		default:
			continue // template, system, params, license: not needed to load
		}
		if !ollamaDigest.MatchString(l.Digest) {
			return m, fmt.Errorf("ollama: manifest %s layer %d has digest %q, want sha256:<64 hex digits>", m.Manifest, i, l.Digest)
		}
		blob := filepath.Join(root, "blobs", strings.Replace(l.Digest, ":", "-", 1))
		st, err := os.Stat(blob)
		if err != nil {
			return m, fmt.Errorf("ollama: blob of layer %d of %s: %w", i, m.Manifest, err)
		}
		if st.Size() != l.Size {
			return m, fmt.Errorf("ollama: blob %s has %d bytes but the manifest says %d", blob, st.Size(), l.Size)
		}
		*dst = blob
	}
	if m.Model == "" {
		return m, fmt.Errorf("ollama: manifest %s has no model layer", m.Manifest)
	}
	return m, nil
}
