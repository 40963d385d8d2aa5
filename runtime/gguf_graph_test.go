package runtime

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/runtime/format"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// TestGGUFGraphNamesStoredFormats: the graph of a GGUF model whose
// projections are stored as Q8_0 names q8_0 for them (the runtime runs
// them as stored), the run prints the story, and a graph that claims fp32
// for a Q8_0 tensor is refused rather than run as stored.
func TestGGUFGraphNamesStoredFormats(t *testing.T) {
	model, tok := sharedModel(t, "stories260K.bin"), sharedModel(t, "tok512.bin")
	ref, refTok, err := format.Open("llama2c:"+model, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	q, err := gguf.ConvertSet(ref, weights.Q8_0)
	if err != nil {
		t.Fatal(err)
	}
	var g bytes.Buffer
	if err := gguf.WriteSet(&g, q, tokenizer.GGUFVocab(refTok.(*tokenizer.BPE))); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gp := filepath.Join(dir, "q8.gguf")
	if err := os.WriteFile(gp, g.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	src := "model m {\n  source = \"gguf:" + gp + "\"\n}\ngenerate g {\n  model = m\n  prompt = \"Once upon a time\"\n  max_tokens = 30\n  temperature = 0\n}\n"
	name := filepath.Join(dir, "p.whisper")
	if err := os.WriteFile(name, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, ds := compiler.Check(name, compiler.Options{})
	if ds.HasErrors() {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	plan, ds := planner.Build(prog, machine(8<<30), planner.Options{PromptTokens: PromptTokens})
	if ds.HasErrors() {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	gr := plan.Stage("generate.g").Graph
	wq := gr.Layers[0].Linears[0]
	if wq.Module != "q_proj" || wq.Weight != cost.Q8_0 || wq.Kernel != planner.KernelQuantMatMul {
		t.Errorf("q_proj of a Q8_0 GGUF: %+v", wq)
	}
	var out, errs bytes.Buffer
	if ds := Execute(t.Context(), plan, prog, Streams{Stdout: &out, Stderr: &errs}); len(ds) > 0 || !strings.HasPrefix(out.String(), "Once upon a time") {
		t.Fatalf("stdout %q\n%s", out.String(), diag.Text(prog.Files, ds))
	}
	gr.Layers[0].Linears[0].Weight, gr.Layers[0].Linears[0].Kernel = cost.FP32, planner.KernelMatMul
	out.Reset()
	ds = Execute(t.Context(), plan, prog, Streams{Stdout: &out, Stderr: &errs})
	if len(ds) != 1 || ds[0].Code != "E505" || !strings.Contains(ds[0].Detail, "stores it as q8_0") || out.Len() != 0 {
		t.Errorf("a graph claiming fp32 for a Q8_0 tensor: stdout %q\n%s", out.String(), diag.Text(prog.Files, ds))
	}
}
