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
		// The newline is an expression: Hugging Face's chat templates run
		// with trim_blocks, which drops a newline right after a tag.
		Jinja:  "{% for message in messages %}{% if not loop.first %}{{ '\\n' }}{% endif %}{{ message['content'] }}{% endfor %}",
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
	"llama2": {
		Name: "llama2",
		// Llama 2 chat: each user turn in [INST] ... [/INST], a system
		// message in <<SYS>> inside the first one, an assistant turn
		// followed by </s><s>. The tokenizer adds the first BOS.
		Jinja: "{% for message in messages %}" +
			"{% if message['role'] == 'system' %}{{ '[INST] <<SYS>>\n' + message['content'] + '\n<</SYS>>\n\n' }}" +
			"{% elif message['role'] == 'user' %}{% if loop.index0 == 0 or messages[loop.index0 - 1]['role'] != 'system' %}{{ '[INST] ' }}{% endif %}{{ message['content'] + ' [/INST]' }}" +
			"{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + ' </s><s>' }}{% endif %}{% endfor %}",
		Ollama: "{{- $sys := false }}{{- range .Messages }}" +
			"{{- if eq .Role \"system\" }}[INST] <<SYS>>\n{{ .Content }}\n<</SYS>>\n\n{{ $sys = true }}" +
			"{{- else if eq .Role \"user\" }}{{ if not $sys }}[INST] {{ end }}{{ .Content }} [/INST]{{ $sys = false }}" +
			"{{- else if eq .Role \"assistant\" }} {{ .Content }} </s><s>{{ $sys = false }}{{ end }}{{ end }}",
		render: func(msgs []Message) string {
			var b strings.Builder
			for i, m := range msgs {
				switch m.Role {
				case "system":
					fmt.Fprintf(&b, "[INST] <<SYS>>\n%s\n<</SYS>>\n\n", m.Content)
				case "user":
					if i == 0 || msgs[i-1].Role != "system" {
						b.WriteString("[INST] ")
					}
					fmt.Fprintf(&b, "%s [/INST]", m.Content)
				case "assistant":
					fmt.Fprintf(&b, " %s </s><s>", m.Content)
				}
			}
			return b.String()
		},
	},
	"llama3": {
		Name: "llama3",
		// Llama 3 instruct: each turn a header naming the role, the
		// content, then <|eot_id|>; the reply starts after an assistant
		// header. The tokenizer adds BOS.
		Jinja: "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}{% endfor %}" +
			"{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
		Ollama: "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n",
		Stop:   "<|eot_id|>",
		render: func(msgs []Message) string {
			var b strings.Builder
			for _, m := range msgs {
				fmt.Fprintf(&b, "<|start_header_id|>%s<|end_header_id|>\n\n%s<|eot_id|>", m.Role, m.Content)
			}
			b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
			return b.String()
		},
	},
}

// TemplateNames lists the known chat templates.
func TemplateNames() []string { return []string{"plain", "chatml", "llama2", "llama3"} }

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
	case strings.Contains(jinja, "<|start_header_id|>"):
		return templates["llama3"]
	case strings.Contains(jinja, "[INST]") && strings.Contains(jinja, "<<SYS>>"):
		return templates["llama2"]
	case jinja == templates["plain"].Jinja:
		return templates["plain"]
	}
	return nil
}
