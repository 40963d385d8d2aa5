package serve

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"text/template"
)

// templateConversations are the conversations every chat template is
// rendered on: one user turn, a system message, several turns.
var templateConversations = [][]Message{
	{{Role: "user", Content: "Tell me a story."}},
	{{Role: "system", Content: "You tell short stories."}, {Role: "user", Content: "About a dog."}},
	{{Role: "user", Content: "Hi"}, {Role: "assistant", Content: "Hello! What story?"}, {Role: "user", Content: "A cat, please.\nShort."}},
	{{Role: "system", Content: "Be kind."}, {Role: "user", Content: "One"}, {Role: "assistant", Content: "Two"}, {Role: "user", Content: "Three"}},
}

// TestTemplatesAgree renders every chat template's three spellings on the
// same conversations: the Go renderer the server uses, the Ollama
// Modelfile TEMPLATE (Go's text/template, as Ollama executes it) and the
// Jinja source written to GGUF metadata (rendered by @huggingface/jinja,
// node-llama-cpp's Jinja engine). All three must give the same prompt.
func TestTemplatesAgree(t *testing.T) {
	dir := interopDir(t)
	sources := map[string]string{}
	for _, name := range TemplateNames() {
		tm, err := LookupTemplate(name)
		if err != nil {
			t.Fatal(err)
		}
		sources[name] = tm.Jinja
	}
	in, _ := json.Marshal(map[string]any{"templates": sources, "conversations": templateConversations})
	cmd := exec.Command("node", "template.mjs")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node template.mjs: %v", err)
	}
	var jinja map[string][]string
	if err := json.Unmarshal(out, &jinja); err != nil {
		t.Fatalf("node template.mjs printed %q: %v", out, err)
	}
	type msg struct{ Role, Content string }
	for _, name := range TemplateNames() {
		tm, _ := LookupTemplate(name)
		ot, err := template.New(name).Parse(tm.Ollama)
		if err != nil {
			t.Fatalf("%s: the Ollama template does not parse: %v", name, err)
		}
		for i, conv := range templateConversations {
			want := tm.Render(conv)
			var ms []msg
			for _, m := range conv {
				ms = append(ms, msg{m.Role, m.Content})
			}
			var b strings.Builder
			if err := ot.Execute(&b, map[string]any{"Messages": ms}); err != nil {
				t.Fatalf("%s: the Ollama template fails: %v", name, err)
			}
			if b.String() != want {
				t.Errorf("%s, conversation %d: Ollama template gives\n%q\nthe server\n%q", name, i, b.String(), want)
			}
			if got := jinja[name][i]; got != want {
				t.Errorf("%s, conversation %d: Jinja gives\n%q\nthe server\n%q", name, i, got, want)
			}
		}
		if d := DetectTemplate(tm.Jinja); d != tm {
			t.Errorf("%s: its own Jinja source is detected as %v", name, d)
		}
	}
}
