package lsp

import (
	"strings"
	"testing"

	"go.lsp.dev/protocol"
)

// TestPlanInHoverAndInlayHints checks the planner's per-declaration memory
// reaches hover and inlay hints, against a fixed target.
func TestPlanInHoverAndInlayHints(t *testing.T) {
	s := newSession(t, testOpts())
	u := testURI(t, "main.whisper")
	s.open(u, program)
	s.waitDiagnostics(u, 1)
	for _, marker := range []string{"sft {", "sft, prompt", "story {"} {
		got := hoverText0(t, s, u, program, marker, 1)
		if !strings.Contains(got, "Predicted peak memory") || !strings.Contains(got, "a100-80gb") {
			t.Errorf("hover at %q lacks the memory prediction:\n%s", marker, got)
		}
	}
	hints, err := s.server.InlayHint(s.ctx, &protocol.InlayHintParams{TextDocument: protocol.TextDocumentIdentifier{URI: u}, Range: protocol.Range{End: protocol.Position{Line: 1000}}})
	if err != nil {
		t.Fatal(err)
	}
	lines := map[uint32]string{}
	for _, h := range hints {
		l, _ := h.Label.(protocol.String)
		lines[h.Position.Line] = string(l)
	}
	ft := s.pos(program, "finetune sft {", 0).Line
	if l := lines[ft]; !strings.HasPrefix(l, "≈ ") || !strings.Contains(l, "GiB peak on a100-80gb") {
		t.Errorf("no memory hint on finetune sft's line; hints %v", lines)
	}
	if want := s.pos(program, "finetune sft {\n", len("finetune sft {")); func() bool {
		for _, h := range hints {
			if h.Position == want {
				return true
			}
		}
		return false
	}() == false {
		t.Errorf("no hint at the end of finetune sft's opening line %+v", want)
	}
	if _, ok := lines[s.pos(program, "track {", 0).Line]; ok {
		t.Error("a memory hint on track, which uses no memory")
	}
}

// TestPlanDiagnosticsOnSmallTarget plans a 7B fine-tune without
// quantisation for a 16 GB card: the planner's does-not-fit error appears
// among the document's diagnostics, and the settings can change the target.
func TestPlanDiagnosticsOnSmallTarget(t *testing.T) {
	s := newSession(t, Options{Target: "t4"})
	u := testURI(t, "main.whisper")
	text := strings.Replace(program, "  quantize { method = nf4, double = true, compute = bf16 }\n", "", 1)
	text = strings.Replace(text, "method = qlora", "method = lora", 1)
	s.open(u, text)
	var fit bool
	for _, d := range s.waitDiagnostics(u, 1) {
		msg, _ := d.Message.(protocol.String)
		if d.Severity == protocol.DiagnosticSeverityError && strings.Contains(string(msg), "does not fit") {
			fit = true
		}
	}
	if !fit {
		t.Fatal("no does-not-fit diagnostic on a t4")
	}
	// Switching the target to an H200 in the settings clears it.
	if err := s.server.DidChangeConfiguration(s.ctx, &protocol.DidChangeConfigurationParams{Settings: []byte(`{"whisper":{"target":"h200"}}`)}); err != nil {
		t.Fatal(err)
	}
	s.edit(u, 2, text, 0, 0, "")
	for _, d := range s.waitDiagnostics(u, 2) {
		msg, _ := d.Message.(protocol.String)
		if strings.Contains(string(msg), "does not fit") {
			t.Errorf("still does not fit on an h200: %s", msg)
		}
	}
}

// TestPlanTargetPrecedence checks what the plan is made for without a
// target setting: the program's own target block, else this machine.
func TestPlanTargetPrecedence(t *testing.T) {
	s := newSession(t, Options{})
	u := testURI(t, "main.whisper")
	text := program + "\ntarget { profile = \"h100-80gb\" }\n"
	s.open(u, text)
	s.waitDiagnostics(u, 1)
	if got := hoverText0(t, s, u, text, "sft {", 1); !strings.Contains(got, "on h100-80gb") {
		t.Errorf("with a target block, hover says:\n%s", got)
	}
	// Without one, the detected machine (whatever it is: a CPU here, a
	// GPU elsewhere) is planned for; the prediction names it.
	u2 := testURI(t, "other.whisper")
	s.open(u2, program)
	s.waitDiagnostics(u2, 1)
	got := hoverText0(t, s, u2, program, "story {", 1)
	if !strings.Contains(got, "Predicted peak memory") || strings.Contains(got, "on h100-80gb") {
		t.Errorf("without a target, hover says:\n%s", got)
	}
	if s.inner.hw == nil {
		t.Error("the machine was not detected")
	}
}
