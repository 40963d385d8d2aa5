package runtime

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/runtime/format"
	"github.com/modelwhisperer/whisperc/runtime/format/safetensors"
	"github.com/modelwhisperer/whisperc/runtime/observe"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
)

// runSource checks and plans src (with the runtime's token counter) and
// executes it, returning stdout, the run's metrics and the diagnostics.
func runSource(t *testing.T, src string) (string, map[string]float64, string) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "p.whisper")
	if err := os.WriteFile(name, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, ds := compiler.Check(name, compiler.Options{})
	if ds.HasErrors() {
		t.Fatalf("%s", diag.Text(prog.Files, ds))
	}
	plan, pds := planner.Build(prog, machine(8<<30), planner.Options{PromptTokens: PromptTokens})
	if pds.HasErrors() {
		return "", nil, diag.Text(prog.Files, pds)
	}
	var out, errs bytes.Buffer
	m := &metrics{values: map[string]float64{}}
	ds = Execute(context.Background(), plan, prog, Streams{Stdout: &out, Stderr: &errs, Observer: m})
	return out.String(), m.values, diag.Text(prog.Files, ds)
}

// metrics keeps the last value of each metric.
type metrics struct {
	observe.Nop
	values map[string]float64
}

func (m *metrics) Metric(x observe.Metric) { m.values[x.Name] = x.Value }

// TestShortContextPrompt: a prompt whose real token count exceeds the old
// estimate (len/4+2) still generates max_tokens tokens, because the plan
// sizes the KV cache from the model's tokenizer.
func TestShortContextPrompt(t *testing.T) {
	model, tok := sharedModel(t, "stories260K.bin"), sharedModel(t, "tok512.bin")
	out, m, ds := runSource(t, "model m {\n  source = \"llama2c:"+model+"\"\n  tokenizer = \""+tok+"\"\n}\n"+
		"generate g {\n  model = m\n  prompt = \"abcdefghijklmnopqrstuvwxyz\"\n  max_tokens = 10\n  temperature = 0\n  ignore_eos = true\n  kv_cache = true\n}\n")
	if ds != "" || m["generated_tokens"] != 10 || out == "" {
		t.Errorf("generated %v tokens, stdout %q:\n%s", m["generated_tokens"], out, ds)
	}
	if m["prompt_tokens"] <= float64(len("abcdefghijklmnopqrstuvwxyz")/4+2) {
		t.Errorf("the prompt is %v tokens; the test needs one longer than the old estimate", m["prompt_tokens"])
	}
}

// TestVocabularyMismatch: another model's tokenizer is an error, not
// garbage: the plan refuses it (P132, as counting the prompt fails), and
// the runtime would (E502).
func TestVocabularyMismatch(t *testing.T) {
	model, tok := sharedModel(t, "stories260K.bin"), sharedModel(t, "llama2c-tokenizer32k.bin")
	out, _, ds := runSource(t, "model m {\n  source = \"llama2c:"+model+"\"\n  tokenizer = \""+tok+"\"\n}\n"+
		"generate g {\n  model = m\n  prompt = \"Once\"\n  max_tokens = 10\n}\n")
	if out != "" || !(strings.Contains(ds, "E502") || strings.Contains(ds, "P132")) || !strings.Contains(unwrapped(ds), "32000 tokens") {
		t.Errorf("a 32k tokenizer with a 512-token model: stdout %q\n%s", out, ds)
	}
}

// TestRunSafetensorsTokenizerJSON: a safetensors checkpoint runs with the
// tokenizer.json beside it, through the one loader, and prints what the
// llama2.c original prints.
func TestRunSafetensorsTokenizerJSON(t *testing.T) {
	model, tok := sharedModel(t, "stories260K.bin"), sharedModel(t, "tok512.bin")
	ws, bpe, err := format.Open("llama2c:"+model, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	dir := t.TempDir()
	if err := safetensors.WriteHF(dir, ws, 1); err != nil {
		t.Fatal(err)
	}
	js, err := tokenizer.HFTokenizerJSON(bpe.(*tokenizer.BPE))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	gen := "generate g {\n  model = m\n  prompt = \"Once upon a time\"\n  max_tokens = 60\n  temperature = 0\n  kv_cache = true\n}\n"
	want, _, ds := runSource(t, "model m {\n  source = \"llama2c:"+model+"\"\n  tokenizer = \""+tok+"\"\n}\n"+gen)
	if ds != "" {
		t.Fatal(ds)
	}
	got, _, ds := runSource(t, "model m {\n  source = \"safetensors:"+dir+"\"\n}\n"+gen)
	if ds != "" || got != want || !strings.HasPrefix(got, "Once upon a time") {
		t.Errorf("safetensors with tokenizer.json: %q, want %q\n%s", got, want, ds)
	}
}
