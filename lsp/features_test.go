package lsp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"
)

// program is a small, valid pipeline used by the feature tests. The comment
// and the string hold non-ASCII text before positions the tests ask about.
const program = `// Fine-tune é 日本 😀
variable lr {
  default = 2e-4
}

model base {
  source = "hf:meta-llama/Llama-2-7b-hf"
  quantize { method = nf4, double = true, compute = bf16 }
}

dataset chat {
  source  = "data/chat.jsonl"
  format  = jsonl
  field   = "text"
  seq_len = 1024
  eval    = 5%
  version = dvc
}

finetune sft {
  model  = base
  data   = chat
  method = qlora
  lora { rank = 16, alpha = 32, dropout = 0.05, targets = attention }
  checkpointing = full
  attention     = flash2
  optimizer { name = adamw, lr = var.lr, schedule = cosine, warmup = 3% }
  batch      = 4
  grad_accum = 8
  save_every = 500 steps
}

track {
  backend = tensorboard
  dir     = "runs"
  log     = [config, model_hash, commit, hardware, metrics]
}

generate story { model = sft, prompt = "Once upon a time 😀", max_tokens = 64, temperature = 0, kv_cache = true }
`

var encodings = []protocol.PositionEncodingKind{protocol.PositionEncodingKindUTF16, protocol.PositionEncodingKindUTF8}

// eachEncoding runs f in a fresh session for each position encoding.
func eachEncoding(t *testing.T, f func(t *testing.T, s *session)) {
	for _, enc := range encodings {
		t.Run(string(enc), func(t *testing.T) { f(t, newSession(t, testOpts(), enc)) })
	}
}

func TestDiagnosticsCleanProgram(t *testing.T) {
	s := newSession(t, testOpts())
	u := testURI(t, "main.whisper")
	s.open(u, program)
	for _, d := range s.waitDiagnostics(u, 1) {
		if d.Severity == protocol.DiagnosticSeverityError {
			t.Errorf("unexpected error: %s at %+v", d.Message, d.Range)
		}
	}
}

// TestDiagnosticsAndQuickFix checks an error's range after non-ASCII text
// on the same line, its code and message, the quick fix from its
// suggestion, and that fixing the text clears it.
func TestDiagnosticsAndQuickFix(t *testing.T) {
	eachEncoding(t, func(t *testing.T, s *session) {
		u := testURI(t, "main.whisper")
		text := strings.Replace(program, "quantize { method = nf4,", "quantize { /* é日😀 */ method = nf5,", 1)
		s.open(u, text)
		ds := s.waitDiagnostics(u, 1)
		var found *protocol.Diagnostic
		for i := range ds {
			if code, ok := ds[i].Code.(protocol.String); ok && code == "E303" {
				found = &ds[i]
			}
		}
		if found == nil {
			t.Fatalf("no E303 for nf5 in %+v", ds)
		}
		want := s.pos(text, "nf5", 0)
		wantEnd := s.pos(text, "nf5", 3)
		if found.Range.Start != want || found.Range.End != wantEnd {
			t.Errorf("range %+v, want %+v-%+v", found.Range, want, wantEnd)
		}
		if msg, _ := found.Message.(protocol.String); !strings.Contains(string(msg), "nf5") {
			t.Errorf("message %q does not name the value", msg)
		}
		if found.Severity != protocol.DiagnosticSeverityError {
			t.Errorf("severity %v", found.Severity)
		}

		actions, err := s.server.CodeAction(s.ctx, &protocol.CodeActionParams{
			TextDocument: protocol.TextDocumentIdentifier{URI: u},
			Range:        found.Range,
			Context:      protocol.CodeActionContext{Diagnostics: []protocol.Diagnostic{*found}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(actions) != 1 {
			t.Fatalf("%d code actions, want 1", len(actions))
		}
		ca, ok := actions[0].(*protocol.CodeAction)
		if !ok || ca.Edit == nil || len(ca.Edit.Changes[u]) != 1 {
			t.Fatalf("code action without a single edit: %+v", actions[0])
		}
		edit := ca.Edit.Changes[u][0]
		if edit.NewText != "nf4" || edit.Range != found.Range {
			t.Errorf("edit %+v, want nf4 at %+v", edit, found.Range)
		}
		if !strings.Contains(ca.Title, "nf4") {
			t.Errorf("title %q", ca.Title)
		}

		// Apply the fix as the editor would; the error goes away.
		i := strings.Index(text, "nf5")
		s.edit(u, 2, text, i, i+3, "nf4")
		for _, d := range s.waitDiagnostics(u, 2) {
			if d.Severity == protocol.DiagnosticSeverityError {
				t.Errorf("error after the fix: %v", d.Message)
			}
		}
	})
}

func hoverText0(t *testing.T, s *session, u uri.URI, text, marker string, delta int) string {
	t.Helper()
	h, err := s.server.Hover(s.ctx, &protocol.HoverParams{TextDocumentPositionParams: s.tdpp(u, s.pos(text, marker, delta))})
	if err != nil {
		t.Fatal(err)
	}
	if h == nil {
		return ""
	}
	mc, ok := h.Contents.(*protocol.MarkupContent)
	if !ok {
		t.Fatalf("hover contents %T", h.Contents)
	}
	return mc.Value
}

func TestHover(t *testing.T) {
	eachEncoding(t, func(t *testing.T, s *session) {
		u := testURI(t, "main.whisper")
		s.open(u, program)
		cases := []struct {
			marker string
			delta  int
			want   []string
		}{
			{"model base", 1, []string{"**model** block", "Attributes:", "`source`"}},
			{"rank = 16", 1, []string{"**rank**", "Default:"}},
			{"nf4", 1, []string{"**nf4**", "**method**"}},
			{"quantize {", 2, []string{"**quantize** block", "ML001"}},
			{"= base", 3, []string{"**model base**", "declared at main.whisper:6"}},
			{"var.lr", 5, []string{"**variable lr**", "default = `2e-4`"}},
			{"500 steps", 5, []string{"**steps**", "count"}},
			{"3%", 1, []string{"**%**", "percent"}},
			{"flash2", 2, []string{"**flash2**"}},
		}
		for _, c := range cases {
			got := hoverText0(t, s, u, program, c.marker, c.delta)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("hover at %q+%d lacks %q:\n%s", c.marker, c.delta, w, got)
				}
			}
		}
		if got := hoverText0(t, s, u, program, "// Fine", 3); got != "" {
			t.Errorf("hover in a comment: %q", got)
		}
	})
}

// complete returns the labels offered at the marker in text, opened fresh.
func complete(t *testing.T, s *session, text, marker string, delta int) []string {
	t.Helper()
	u := testURI(t, "c.whisper")
	s.open(u, text)
	res, err := s.server.Completion(s.ctx, &protocol.CompletionParams{TextDocumentPositionParams: s.tdpp(u, s.pos(text, marker, delta))})
	if err != nil {
		t.Fatal(err)
	}
	list, ok := res.(*protocol.CompletionList)
	if !ok {
		t.Fatalf("completion result %T", res)
	}
	var labels []string
	for _, it := range list.Items {
		labels = append(labels, it.Label)
	}
	return labels
}

func TestCompletion(t *testing.T) {
	s := newSession(t, testOpts())
	cases := []struct {
		name, text, marker string
		delta              int
		want, notWant      []string
	}{
		{"top level", "// 😀\n\n", "\n\n", 1, []string{"model", "dataset", "finetune", "generate", "track", "import"}, []string{"lora", "quantize"}},
		{"top level prefix", "fin", "fin", 3, []string{"finetune"}, nil},
		{"attributes of lora", "finetune x {\n  lora {\n    rank = 8\n    \n  }\n}\n", "    \n", 4, []string{"alpha", "dropout", "targets"}, []string{"rank", "model"}},
		{"nested blocks of finetune", "finetune x {\n  \n}\n", "  \n", 2, []string{"lora", "optimizer", "model", "data"}, []string{"quantize", "finetune"}},
		{"enum values", "model m {\n  quantize { method = n }\n}\n", "= n", 3, []string{"nf4", "fp4", "int8"}, nil},
		{"half-typed enum", "model m {\n  quantize { method = ", "= ", 2, []string{"nf4"}, nil},
		{"after comma in body", "model m {\n  quantize { method = nf4, }\n}\n", "nf4, ", 5, []string{"double", "compute"}, []string{"method"}},
		{"references of the right kind", program + "finetune g {\n  data = \n}\n", "data = \n", 7, []string{"chat"}, []string{"base", "sft", "lr"}},
		{"model references", program + "generate g2 {\n  model = \n}\n", "model = \n", 8, []string{"base", "sft"}, []string{"chat"}},
		{"variables after var.", program + "finetune g {\n  optimizer { lr = var. }\n}\n", "var. }", 4, []string{"lr"}, []string{"base"}},
		{"units after a number", "finetune x {\n  save_every = 500 st\n}\n", "500 st", 6, []string{"steps", "epochs"}, []string{"GiB", "%"}},
		{"size units", "target {\n  require = [gpu_memory >= 24G]\n}\n", "24G", 3, []string{"GiB", "GB"}, []string{"steps"}},
		{"constraint properties", "target {\n  require = [gpu_m]\n}\n", "gpu_m", 5, []string{"gpu_memory"}, nil},
		{"bools", "generate g {\n  kv_cache = \n}\n", "= \n", 2, []string{"true", "false"}, nil},
		{"call form", "finetune x {\n  checkpointing = \n}\n", "= \n", 2, []string{"every(…)", "full"}, nil},
		{"inside a string", "model m {\n  source = \"hf:\"\n}\n", "hf:", 3, nil, []string{"model", "nf4"}},
		{"inside a comment", "// mod\n", "mod", 3, nil, []string{"model"}},
		{"inside an unclosed block comment", "/* mod", "mod", 3, nil, []string{"model"}},
		{"after a closed block comment", "/* x */ mod", "mod", 3, []string{"model"}, nil},
		{"inside an unclosed string", "model m {\n  source = \"mod", "\"mod", 4, nil, []string{"model"}},
		{"block name", "model ba", "ba", 2, nil, []string{"model", "dataset"}},
		{"no unit after a count", "finetune x {\n  batch = 4 \n}\n", "4 ", 2, nil, []string{"steps", "GiB", "%"}},
		{"no unit after a glued count", "finetune x {\n  batch = 4\n}\n", "4\n", 1, nil, []string{"steps"}},
		{"counts only", "finetune x {\n  save_every = 30 \n}\n", "30 ", 3, []string{"steps", "epochs"}, []string{"GiB", "%", "h"}},
		{"percent or count", "finetune x {\n  optimizer { warmup = 3 }\n}\n", "3 }", 1, []string{"%", "steps"}, []string{"GiB", "h"}},
		{"percent", "dataset d {\n  eval = 5\n}\n", "5\n", 1, []string{"%"}, []string{"GiB", "steps"}},
		{"any unit for a variable's default", "variable v {\n  default = 24\n}\n", "24\n", 2, []string{"GiB", "%", "steps"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := complete(t, s, c.text, c.marker, c.delta)
			for _, w := range c.want {
				if !slices.Contains(got, w) {
					t.Errorf("lacks %q: %v", w, got)
				}
			}
			for _, w := range c.notWant {
				if slices.Contains(got, w) {
					t.Errorf("offers %q: %v", w, got)
				}
			}
			if c.want == nil && len(got) != 0 {
				t.Errorf("offers %v, want nothing", got)
			}
			seen := map[string]bool{}
			for _, l := range got {
				if seen[l] {
					t.Errorf("offers %q twice", l)
				}
				seen[l] = true
			}
		})
	}
}

func TestDefinitionReferencesRename(t *testing.T) {
	eachEncoding(t, func(t *testing.T, s *session) {
		u := testURI(t, "main.whisper")
		s.open(u, program)
		// Definition from the reference in sft to model base.
		res, err := s.server.Definition(s.ctx, &protocol.DefinitionParams{TextDocumentPositionParams: s.tdpp(u, s.pos(program, "= base", 3))})
		if err != nil {
			t.Fatal(err)
		}
		locs, ok := res.(protocol.LocationSlice)
		if !ok || len(locs) != 1 {
			t.Fatalf("definition %#v", res)
		}
		if want := s.pos(program, "base {", 0); locs[0].URI != u || locs[0].Range.Start != want {
			t.Errorf("definition at %+v, want %+v", locs[0], want)
		}
		// From var.lr to variable lr.
		res, err = s.server.Definition(s.ctx, &protocol.DefinitionParams{TextDocumentPositionParams: s.tdpp(u, s.pos(program, "var.lr", 4))})
		if err != nil {
			t.Fatal(err)
		}
		if locs, _ := res.(protocol.LocationSlice); len(locs) != 1 || locs[0].Range.Start != s.pos(program, "lr {", 0) {
			t.Errorf("definition of var.lr: %#v", res)
		}

		// References to sft: its use in generate story, plus the declaration.
		refs, err := s.server.References(s.ctx, &protocol.ReferenceParams{TextDocumentPositionParams: s.tdpp(u, s.pos(program, "sft {", 1)), Context: protocol.ReferenceContext{IncludeDeclaration: true}})
		if err != nil {
			t.Fatal(err)
		}
		if len(refs) != 2 {
			t.Fatalf("references to sft: %+v", refs)
		}
		if refs[1].Range.Start != s.pos(program, "sft, prompt", 0) {
			t.Errorf("reference at %+v", refs[1].Range)
		}

		// Highlights of lr: the declaration (written) and var.lr (read), at
		// the name.
		hl, err := s.server.DocumentHighlight(s.ctx, &protocol.DocumentHighlightParams{TextDocumentPositionParams: s.tdpp(u, s.pos(program, "var.lr", 5))})
		if err != nil {
			t.Fatal(err)
		}
		if len(hl) != 2 || hl[0].Kind != protocol.DocumentHighlightKindWrite || hl[0].Range.Start != s.pos(program, "lr {", 0) ||
			hl[1].Kind != protocol.DocumentHighlightKindRead || hl[1].Range.Start != s.pos(program, "lr,", 0) {
			t.Errorf("highlights %+v", hl)
		}

		// Rename the variable: declaration and var.lr use.
		pr, err := s.server.PrepareRename(s.ctx, &protocol.PrepareRenameParams{TextDocumentPositionParams: s.tdpp(u, s.pos(program, "var.lr", 5))})
		if err != nil {
			t.Fatal(err)
		}
		if ph, ok := pr.(*protocol.PrepareRenamePlaceholder); !ok || ph.Placeholder != "lr" || ph.Range.Start != s.pos(program, "lr,", 0) {
			t.Errorf("prepare rename %#v", pr)
		}
		we, err := s.server.Rename(s.ctx, &protocol.RenameParams{TextDocumentPositionParams: s.tdpp(u, s.pos(program, "lr {", 0)), NewName: "rate"})
		if err != nil {
			t.Fatal(err)
		}
		got := applyEdits(t, s, program, we.Changes[u])
		if strings.Contains(got, "lr {") || !strings.Contains(got, "variable rate {") || !strings.Contains(got, "lr = var.rate") {
			t.Errorf("after rename:\n%s", got)
		}
		// Renaming onto an existing name is refused.
		if _, err := s.server.Rename(s.ctx, &protocol.RenameParams{TextDocumentPositionParams: s.tdpp(u, s.pos(program, "base {", 0)), NewName: "chat"}); err == nil {
			t.Error("rename onto an existing declaration succeeded")
		}
		for _, bad := range []string{"1x", "bäse", "a-b", "", "model", "var"} {
			if _, err := s.server.Rename(s.ctx, &protocol.RenameParams{TextDocumentPositionParams: s.tdpp(u, s.pos(program, "base {", 0)), NewName: bad}); err == nil {
				t.Errorf("rename to %q succeeded", bad)
			}
		}
	})
}

// applyEdits applies non-overlapping text edits to text.
func applyEdits(t *testing.T, s *session, text string, edits []protocol.TextEdit) string {
	t.Helper()
	m := testMapper(text, s.enc)
	type span struct {
		start, end int
		text       string
	}
	var spans []span
	for _, e := range edits {
		a, b := m.Offsets(e.Range)
		spans = append(spans, span{a, b, e.NewText})
	}
	slices.SortFunc(spans, func(x, y span) int { return y.start - x.start })
	for _, sp := range spans {
		text = text[:sp.start] + sp.text + text[sp.end:]
	}
	return text
}

func TestDocumentSymbols(t *testing.T) {
	s := newSession(t, testOpts())
	u := testURI(t, "main.whisper")
	// A syntax error in the middle must not hide the outline.
	text := strings.Replace(program, "dataset chat {", "dataset chat { = = (\n", 1)
	s.open(u, text)
	res, err := s.server.DocumentSymbol(s.ctx, &protocol.DocumentSymbolParams{TextDocument: protocol.TextDocumentIdentifier{URI: u}})
	if err != nil {
		t.Fatal(err)
	}
	syms := res.(protocol.DocumentSymbolSlice)
	var names []string
	for _, sym := range syms {
		names = append(names, sym.Name)
	}
	want := []string{"variable lr", "model base", "dataset chat", "finetune sft", "track", "generate story"}
	if !slices.Equal(names, want) {
		t.Errorf("outline %v, want %v", names, want)
	}
	var ft protocol.DocumentSymbol
	for _, sym := range syms {
		if sym.Name == "finetune sft" {
			ft = sym
		}
	}
	var children []string
	for _, c := range ft.Children {
		children = append(children, c.Name)
	}
	for _, w := range []string{"model", "lora", "optimizer", "save_every"} {
		if !slices.Contains(children, w) {
			t.Errorf("finetune sft children %v lack %s", children, w)
		}
	}
}

// decodeTokens turns semantic token data into (text, type) pairs.
func decodeTokens(t *testing.T, s *session, text string, data []uint32) map[string]string {
	t.Helper()
	if len(data)%5 != 0 {
		t.Fatalf("data length %d", len(data))
	}
	m := testMapper(text, s.enc)
	out := map[string]string{}
	var line, char uint32
	for i := 0; i < len(data); i += 5 {
		if data[i] > 0 {
			line += data[i]
			char = data[i+1]
		} else {
			char += data[i+1]
		}
		start := m.Offset(protocol.Position{Line: line, Character: char})
		end := m.Offset(protocol.Position{Line: line, Character: char + data[i+2]})
		out[text[start:end]+"@"+m.File.Pos(start).String()] = string(semanticTypes[data[i+3]])
	}
	return out
}

func TestSemanticTokens(t *testing.T) {
	eachEncoding(t, func(t *testing.T, s *session) {
		u := testURI(t, "main.whisper")
		s.open(u, program)
		res, err := s.server.SemanticTokensFull(s.ctx, &protocol.SemanticTokensParams{TextDocument: protocol.TextDocumentIdentifier{URI: u}})
		if err != nil {
			t.Fatal(err)
		}
		got := decodeTokens(t, s, program, res.Data)
		f := testMapper(program, s.enc).File
		at := func(marker string, delta int, tok string) string {
			return tok + "@" + f.Pos(strings.Index(program, marker)+delta).String()
		}
		want := map[string]string{
			at("// Fine", 0, "// Fine-tune é 日本 😀"): "comment",
			at("model base", 0, "model"):            "keyword",
			at("model base", 6, "base"):             "variable",
			at("method = nf4", 0, "method"):         "property",
			at("nf4", 0, "nf4"):                     "enumMember",
			at("= base", 2, "base"):                 "variable",
			at("var.lr", 0, "var"):                  "namespace",
			at("var.lr", 4, "lr"):                   "parameter",
			at("500 steps", 4, "steps"):             "type",
			at("500 steps", 0, "500"):               "number",
			at("\"runs\"", 0, "\"runs\""):           "string",
			at("true, compute", 0, "true"):          "keyword",
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: %q, want %q", k, got[k], w)
			}
		}
	})
}

// TestImportsFromOpenDocuments checks that an import resolves to the
// editor's unsaved buffer before the disk: the imported model exists only
// in the buffer.
func TestImportsFromOpenDocuments(t *testing.T) {
	s := newSession(t, testOpts())
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "common.whisper"), []byte("// on disk: nothing declared\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	common := uri.File(filepath.Join(dir, "common.whisper"))
	main := uri.File(filepath.Join(dir, "main.whisper"))
	s.open(common, "model base {\n  source = \"hf:meta-llama/Llama-2-7b-hf\"\n}\n")
	mainText := "import \"common.whisper\"\n\ngenerate g {\n  model = base\n  prompt = \"hi\"\n}\n"
	s.open(main, mainText)
	for _, d := range s.waitDiagnostics(main, 1) {
		if d.Severity == protocol.DiagnosticSeverityError {
			t.Errorf("error with the import open: %v", d.Message)
		}
	}
	if got := hoverText0(t, s, main, mainText, "\"common", 2); !strings.Contains(got, "Declares: `model base`") {
		t.Errorf("hover on the import path: %q", got)
	}
	// Definition jumps into the other (unsaved) document.
	res, err := s.server.Definition(s.ctx, &protocol.DefinitionParams{TextDocumentPositionParams: s.tdpp(main, s.pos(mainText, "= base", 3))})
	if err != nil {
		t.Fatal(err)
	}
	if locs, _ := res.(protocol.LocationSlice); len(locs) != 1 || locs[0].URI != common {
		t.Errorf("definition %#v, want in %s", res, common)
	}
	// Closing the imported buffer falls back to the disk, where base is not
	// declared: the error appears once main is analysed again.
	if err := s.server.DidClose(s.ctx, &protocol.DidCloseTextDocumentParams{TextDocument: protocol.TextDocumentIdentifier{URI: common}}); err != nil {
		t.Fatal(err)
	}
	s.edit(main, 2, mainText, 0, 0, "")
	var errs int
	for _, d := range s.waitDiagnostics(main, 2) {
		if d.Severity == protocol.DiagnosticSeverityError {
			errs++
		}
	}
	if errs == 0 {
		t.Error("no error once the import reads the disk")
	}
}

func TestInitializationOptionsTarget(t *testing.T) {
	s := newSession(t, testOpts())
	s.inner.applySettings(json.RawMessage(`{"whisper":{"target":"a100-80gb"}}`))
	if got := s.inner.currentConfig().target; got != "a100-80gb" {
		t.Errorf("target %q", got)
	}
	// An empty setting means no preference: back to the command line's.
	s.inner.applySettings(json.RawMessage(`{"target":""}`))
	if got := s.inner.currentConfig().target; got != testOpts().Target {
		t.Errorf("target %q", got)
	}
	s.inner.applySettings(json.RawMessage(`[1,2`)) // ignored, no panic
}

// TestErrorsInImportedFilesAndNotes checks that an error in an imported
// file that is not open is summarised on the import statement, with the
// error as related information, and that a diagnostic's notes (the first
// declaration of a duplicate) become related information too.
func TestErrorsInImportedFilesAndNotes(t *testing.T) {
	s := newSession(t, testOpts())
	dir := t.TempDir()
	common := filepath.Join(dir, "common.whisper")
	if err := os.WriteFile(common, []byte("model base {\n  source = \"hf:meta-llama/Llama-2-7b-hf\"\n  quantize { method = nf5 }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	main := uri.File(filepath.Join(dir, "main.whisper"))
	text := "import \"common.whisper\"\n\ndataset d {\n  source = \"a.jsonl\"\n  format = jsonl\n  format = jsonl\n}\n"
	s.open(main, text)
	var onImport, dup *protocol.Diagnostic
	ds := s.waitDiagnostics(main, 1)
	for i := range ds {
		msg, _ := ds[i].Message.(protocol.String)
		switch {
		case strings.Contains(string(msg), "in imported files"):
			onImport = &ds[i]
		case len(ds[i].RelatedInformation) > 0:
			dup = &ds[i]
		}
	}
	if onImport == nil {
		t.Fatalf("no summary of the imported file's error in %+v", ds)
	}
	if onImport.Range.Start != s.pos(text, "\"common", 0) {
		t.Errorf("summary at %+v", onImport.Range)
	}
	if len(onImport.RelatedInformation) != 1 || onImport.RelatedInformation[0].Location.URI != uri.File(common) || onImport.RelatedInformation[0].Location.Range.Start.Line != 2 {
		t.Errorf("related information %+v", onImport.RelatedInformation)
	}
	if dup == nil {
		t.Fatalf("no diagnostic with notes (duplicate attribute) in %+v", ds)
	}
	if r := dup.RelatedInformation[0]; r.Location.URI != main || r.Location.Range.Start.Line != 4 {
		t.Errorf("note %+v, want the first format on line 5", r)
	}
}

func TestFoldingRanges(t *testing.T) {
	s := newSession(t, testOpts())
	u := testURI(t, "main.whisper")
	text := program + "/* a\n   block comment */\ntarget {\n  require = [\n    gpu_memory >= 24GiB,\n  ]\n}\n"
	s.open(u, text)
	fr, err := s.server.FoldingRanges(s.ctx, &protocol.FoldingRangeParams{TextDocument: protocol.TextDocumentIdentifier{URI: u}})
	if err != nil {
		t.Fatal(err)
	}
	has := func(start, end uint32, kind protocol.FoldingRangeKind) bool {
		for _, r := range fr {
			if r.StartLine == start && r.EndLine == end && r.Kind == kind {
				return true
			}
		}
		return false
	}
	ft := s.pos(text, "finetune sft {", 0).Line
	ftEnd := s.pos(text, "save_every = 500 steps", 0).Line
	if !has(ft, ftEnd, "") {
		t.Errorf("no fold of finetune sft [%d,%d] in %+v", ft, ftEnd, fr)
	}
	if c := s.pos(text, "/* a", 0).Line; !has(c, c+1, protocol.FoldingRangeKindComment) {
		t.Errorf("no fold of the block comment in %+v", fr)
	}
	if l := s.pos(text, "require = [", 0).Line; !has(l, l+1, "") {
		t.Errorf("no fold of the multi-line list in %+v", fr)
	}
}

// TestReferencesFromTheDeclaringFile asks for references and a rename in
// the file that declares a model and a variable: the uses in another open
// document that imports it are found and renamed too.
func TestReferencesFromTheDeclaringFile(t *testing.T) {
	s := newSession(t, testOpts())
	dir := t.TempDir()
	common := uri.File(filepath.Join(dir, "common.whisper"))
	main := uri.File(filepath.Join(dir, "main.whisper"))
	commonText := "variable tokens { default = 64 }\nmodel base {\n  source = \"hf:meta-llama/Llama-2-7b-hf\"\n}\n"
	mainText := "import \"common.whisper\"\n\ngenerate g {\n  model = base\n  prompt = \"hi\"\n  max_tokens = var.tokens\n}\n"
	s.open(common, commonText)
	s.open(main, mainText)
	s.waitDiagnostics(main, 1)
	refs, err := s.server.References(s.ctx, &protocol.ReferenceParams{TextDocumentPositionParams: s.tdpp(common, s.pos(commonText, "base {", 1)), Context: protocol.ReferenceContext{IncludeDeclaration: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2 || refs[0].URI != common || refs[1].URI != main || refs[1].Range.Start != s.pos(mainText, "base\n", 0) {
		t.Errorf("references %+v", refs)
	}
	we, err := s.server.Rename(s.ctx, &protocol.RenameParams{TextDocumentPositionParams: s.tdpp(common, s.pos(commonText, "tokens {", 0)), NewName: "n"})
	if err != nil {
		t.Fatal(err)
	}
	if got := applyEdits(t, s, mainText, we.Changes[main]); !strings.Contains(got, "max_tokens = var.n\n") {
		t.Errorf("main after rename:\n%s", got)
	}
	if got := applyEdits(t, s, commonText, we.Changes[common]); !strings.HasPrefix(got, "variable n {") {
		t.Errorf("common after rename:\n%s", got)
	}
	// g is declared only in main; renaming base to g from common would
	// clash there.
	if _, err := s.server.Rename(s.ctx, &protocol.RenameParams{TextDocumentPositionParams: s.tdpp(common, s.pos(commonText, "base {", 0)), NewName: "g"}); err == nil {
		t.Error("rename onto a name declared in an importing file succeeded")
	}
}
