package runtime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
	"github.com/modelwhisperer/whisperc/runtime/format/safetensors"
	"github.com/modelwhisperer/whisperc/runtime/sample"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
)

// TestExportStage runs an export stage: a Q8_0 (and a Q4_K_M) GGUF file
// with the tokenizer and chat template, and a Modelfile beside it, reported
// to the observer as outputs.
func TestExportStage(t *testing.T) {
	models := testmodels.Dir(t)
	for _, c := range []struct{ quantize, wq string }{{"q8_0", "q8_0"}, {"q4_k_m", "q5_0"}} {
		t.Run(c.quantize, func(t *testing.T) { exportStage(t, models, c.quantize, c.wq) })
	}
}

// exportStage runs an export of stories260K with quantize = q and checks
// that its wq matrices are stored as wq.
func exportStage(t *testing.T, models, q, wq string) {
	dir := t.TempDir()
	src := fmt.Sprintf(`model tiny {
  source    = "llama2c:%s"
  tokenizer = "%s"
}

export gguf {
  model         = tiny
  format        = gguf
  quantize      = %s
  path          = "out/tiny.gguf"
  chat_template = chatml
  system        = "You tell stories."
}
`, filepath.Join(models, "stories260K.bin"), filepath.Join(models, "tok512.bin"), q)
	path := filepath.Join(dir, "export.whisper")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, plan := mustPlan(t, path)
	var errs bytes.Buffer
	r := &recorder{}
	if ds := Execute(context.Background(), plan, prog, Streams{Stdout: &bytes.Buffer{}, Stderr: &errs, Observer: r}); len(ds) > 0 {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	out := filepath.Join(dir, "out", "tiny.gguf")
	events := strings.Join(r.events, "\n")
	if !strings.Contains(events, "output "+out) || !strings.Contains(events, "output "+filepath.Join(dir, "out", "Modelfile")) {
		t.Errorf("events:\n%s", events)
	}
	ws, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if d := ws.Tensors["layers.0.attention.wq.weight"].DType.String(); d != wq {
		t.Errorf("wq is %s, want %s", d, wq)
	}
	v, err := gguf.ReadVocab(out)
	if err != nil || len(v.Tokens) != 512 || !strings.Contains(v.ChatTemplate, "<|im_start|>") {
		t.Errorf("vocabulary: %v, %d tokens, template %q", err, len(v.Tokens), v.ChatTemplate)
	}
	mf, err := os.ReadFile(filepath.Join(dir, "out", "Modelfile"))
	if err != nil || !strings.Contains(string(mf), "FROM ./tiny.gguf\n") || !strings.Contains(string(mf), `PARAMETER stop "<|im_end|>"`) ||
		!strings.Contains(string(mf), `SYSTEM """You tell stories."""`) || strings.Contains(string(mf), "ADAPTER") {
		t.Errorf("Modelfile (%v):\n%s", err, mf)
	}
}

// TestExportMergedFinetune exports a LoRA fine-tune with format = merged
// and runs the Hugging Face directory it writes through our own loaders:
// its greedy story equals what the generate stage printed from the
// fine-tune.
func TestExportMergedFinetune(t *testing.T) {
	prog, out := finetuneProgram(t, "", "lora { rank = 4, alpha = 8, targets = all }\n optimizer { name = adamw, lr = 1e-2, warmup = 2 steps }")
	path := filepath.Join(filepath.Dir(out), "ft.whisper")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hfDir := filepath.Join(filepath.Dir(out), "merged")
	src = append(src, fmt.Sprintf("export hf {\n  model  = sft\n  format = merged\n  path   = %q\n}\n", hfDir)...)
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	prog, plan := mustPlan(t, path)
	var stdout, stderr bytes.Buffer
	if ds := Execute(context.Background(), plan, prog, Streams{Stdout: &stdout, Stderr: &stderr}); len(ds) > 0 {
		t.Fatalf("%s\n%s", diag.Text(prog.Files, ds), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 || lines[0] == lines[1] {
		t.Fatalf("generation before and after training should differ:\n%s", stdout.String())
	}
	ws, err := safetensors.OpenHF(hfDir)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	tok, err := tokenizer.ReadHFJSONFile(filepath.Join(hfDir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(context.Background(), ws, engine.Options{Attention: engine.AttentionEager, KVCache: true, Compile: engine.CompileReduceOverhead, Quantize: engine.QuantizeNone})
	if err != nil {
		t.Fatal(err)
	}
	smp, _ := sample.New(sample.Params{})
	var got bytes.Buffer
	if _, err := engine.Generate(context.Background(), e, tok, engine.GenerateOptions{Prompt: "Once upon a time", MaxTokens: 30, Sampler: smp, Out: &got}); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(got.String()) != lines[1] {
		t.Errorf("the merged export generates\n%q\nthe fine-tune generated\n%q", strings.TrimSpace(got.String()), lines[1])
	}
}

// TestExportTemplateRoundTrip exports stories260K as a Hugging Face
// directory with the llama3 chat template, loads that directory as a
// model, and exports it to GGUF with chat_template = auto: the template
// found in tokenizer_config.json reaches the GGUF metadata and the
// Modelfile.
func TestExportTemplateRoundTrip(t *testing.T) {
	models := testmodels.Dir(t)
	dir := t.TempDir()
	src := fmt.Sprintf(`model tiny {
  source    = "llama2c:%s"
  tokenizer = "%s"
}

export hf {
  model         = tiny
  format        = safetensors
  path          = "hf"
  chat_template = llama3
}
`, filepath.Join(models, "stories260K.bin"), filepath.Join(models, "tok512.bin"))
	run := func(name, src string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		prog, plan := mustPlan(t, path)
		var errs bytes.Buffer
		if ds := Execute(context.Background(), plan, prog, Streams{Stdout: &bytes.Buffer{}, Stderr: &errs}); len(ds) > 0 {
			t.Fatalf("%s\n%s", diag.Text(prog.Files, ds), errs.String())
		}
	}
	run("hf.whisper", src)
	run("gguf.whisper", fmt.Sprintf(`model back {
  source    = "safetensors:%s"
  tokenizer = "%s"
}

export gguf {
  model    = back
  format   = gguf
  path     = "back.gguf"
}
`, filepath.Join(dir, "hf"), filepath.Join(models, "tok512.bin")))
	v, err := gguf.ReadVocab(filepath.Join(dir, "back.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(v.ChatTemplate, "<|start_header_id|>") {
		t.Errorf("GGUF chat template %q, want llama3's", v.ChatTemplate)
	}
	mf, err := os.ReadFile(filepath.Join(dir, "Modelfile"))
	if err != nil || !strings.Contains(string(mf), `PARAMETER stop "<|eot_id|>"`) {
		t.Errorf("Modelfile (%v):\n%s", err, mf)
	}
}
