package serve

import (
	"fmt"
	"strings"
)

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatTemplate turns a conversation into the prompt text a model was
// trained on. Each template exists in three spellings that must agree: the
// Go renderer the server uses, the Jinja source written to GGUF metadata
// (tokenizer.chat_template, which llama.cpp reads) and the Go text/template
// an Ollama Modelfile's TEMPLATE holds. A test renders all three on the same
// conversations.
type ChatTemplate struct {
	Name   string
	Jinja  string
	Ollama string
	// Stop is the text that ends an assistant turn, if any.
	Stop   string
	render func(msgs []Message) string
}

// Render returns the prompt for msgs, ending where the assistant's reply
// begins.
func (t *ChatTemplate) Render(msgs []Message) string { return t.render(msgs) }

// Templates are the chat templates whisperc knows, by name.
var templates = map[string]*ChatTemplate{
	"plain": {
		Name: "plain",
		// A base model has no chat format: the conversation is its
		// messages' contents, one per line, and the model continues it.
		Jinja:  "{% for message in messages %}{% if not loop.first %}\n{% endif %}{{ message['content'] }}{% endfor %}",
		Ollama: "{{- range $i, $m := .Messages }}{{ if $i }}\n{{ end }}{{ $m.Content }}{{ end }}",
		render: func(msgs []Message) string {
			parts := make([]string, len(msgs))
			for i, m := range msgs {
				parts[i] = m.Content
			}
			return strings.Join(parts, "\n")
		},
	},
	"chatml": {
		Name: "chatml",
		Jinja: "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}" +
			"{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
		Ollama: "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n",
		Stop:   "<|im_end|>",
		render: func(msgs []Message) string {
			var b strings.Builder
			for _, m := range msgs {
				fmt.Fprintf(&b, "<|im_start|>%s\n%s<|im_end|>\n", m.Role, m.Content)
			}
			b.WriteString("<|im_start|>assistant\n")
			return b.String()
		},
	},
}

// TemplateNames lists the known chat templates.
func TemplateNames() []string { return []string{"plain", "chatml"} }

// LookupTemplate returns the chat template called name.
func LookupTemplate(name string) (*ChatTemplate, error) {
	if t, ok := templates[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("unknown chat template %q (known: %s)", name, strings.Join(TemplateNames(), ", "))
}

// DetectTemplate returns the known template whose Jinja source a model's
// metadata carries (llama.cpp detects templates by their markers the same
// way), or nil.
func DetectTemplate(jinja string) *ChatTemplate {
	switch {
	case jinja == "":
		return nil
	case strings.Contains(jinja, "<|im_start|>"):
		return templates["chatml"]
	case jinja == templates["plain"].Jinja:
		return templates["plain"]
	}
	return nil
}
