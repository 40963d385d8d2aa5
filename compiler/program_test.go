package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/modelwhisperer/whisperc/lang/diag"
)

// memFS returns a ReadFile over in-memory files.
func memFS(files map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if s, ok := files[filepath.Clean(name)]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
}

func checkMem(t *testing.T, files map[string]string, root string, vars map[string]string) (*Program, diag.Diagnostics) {
	t.Helper()
	prog, ds := Check(root, Options{ReadFile: memFS(files), Vars: vars})
	if prog == nil {
		t.Fatal("nil program")
	}
	checkRanges(t, prog, ds)
	return prog, ds
}

func codes(ds diag.Diagnostics) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Code)
	}
	return out
}

const qlora = `
variable lr { default = 2e-4 }
variable rank { default = 16 }
model base {
  source    = "hf:meta-llama/Llama-2-7b-hf"
  tokenizer = "tok/tokenizer.model"
  quantize { method = nf4 }
}
dataset chat { source = "data/chat.jsonl", eval = 5% }
finetune sft {
  model = base
  data  = chat
  lora { rank = var.rank, alpha = var.rank * 2 }
  checkpointing = every(2)
  optimizer { lr = var.lr, warmup = 100 steps }
  save_every = 500 steps
}
generate story { model = sft, prompt = "Once", temperature = 0 }
export out { model = sft, format = gguf }
track { log = [config, model_hash, commit] }
version { data = dvc }
target { profile = "a100-80gb", count = 2, require = [gpu_memory >= 24GiB, bf16] }
`

func TestTypedProgram(t *testing.T) {
	prog, ds := checkMem(t, map[string]string{"proj/main.whisper": qlora}, "proj/main.whisper", map[string]string{"lr": "1e-4"})
	if len(ds) != 0 {
		t.Fatalf("unexpected diagnostics:\n%s", diag.Text(prog.Files, ds))
	}
	if prog.Name != "main" {
		t.Errorf("Name = %q", prog.Name)
	}
	m := prog.Model("base")
	if m == nil || m.Source.Scheme != SchemeHF || m.Source.Ref != "meta-llama/Llama-2-7b-hf" {
		t.Fatalf("model = %+v", m)
	}
	if m.Tokenizer != filepath.Join("proj", "tok", "tokenizer.model") {
		t.Errorf("tokenizer not resolved against the file: %q", m.Tokenizer)
	}
	if q := m.Quantize; q == nil || q.Method != QuantNF4 || !q.Double || q.Compute != DTypeBF16 || q.BlockSize != 64 {
		t.Errorf("quantize defaults = %+v", q)
	}
	f := prog.Finetune("sft")
	if f == nil || f.Model != m || f.Data == nil || f.Data.Name != "chat" {
		t.Fatalf("finetune = %+v", f)
	}
	if f.Method != MethodQLoRA {
		t.Errorf("method over a 4-bit model should default to qlora, got %v", f.Method)
	}
	if f.LoRA == nil || f.LoRA.Rank != 16 || f.LoRA.Alpha != 32 || f.LoRA.Dropout != 0.05 {
		t.Errorf("lora = %+v", f.LoRA)
	}
	if diff := cmp.Diff([]Module{ModuleQProj, ModuleKProj, ModuleVProj, ModuleOProj}, f.LoRA.Targets); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	if f.Checkpointing != (Checkpointing{Mode: CheckpointEvery, Every: 2}) {
		t.Errorf("checkpointing = %+v", f.Checkpointing)
	}
	if f.Optimizer.LR != 1e-4 {
		t.Errorf("-var lr=1e-4 not applied: %v", f.Optimizer.LR)
	}
	if f.Optimizer.Name != OptimizerAdamW || f.Optimizer.Schedule != ScheduleCosine || f.Optimizer.Warmup != (Warmup{Steps: 100}) {
		t.Errorf("optimizer = %+v", f.Optimizer)
	}
	if f.Attention != AttentionAuto || f.Compile != CompileNone || f.Precision != DTypeBF16 || f.Batch != 1 || f.GradAccum != 1 || f.Epochs != 1 || f.Seed != 42 {
		t.Errorf("finetune defaults = %+v", f)
	}
	if f.SaveEvery != (Every{N: 500, Unit: "steps"}) {
		t.Errorf("save_every = %+v", f.SaveEvery)
	}
	if f.Output != filepath.Join("proj", "checkpoints", "sft") {
		t.Errorf("output = %q", f.Output)
	}
	if ds := f.Data; ds.Format != FormatJSONL || ds.Field != "text" || ds.SeqLen != 1024 || ds.Eval != (Split{Percent: 5, IsPercent: true}) || !ds.Shuffle || ds.Version != VersioningDVC {
		t.Errorf("dataset = %+v", ds)
	}
	g := prog.Generates[0]
	if g.Model.Finetune != f || g.Model.Base() != m || !g.KVCache || g.MaxTokens != 256 || g.Temperature != 0 || g.TopP != 1 {
		t.Errorf("generate = %+v", g)
	}
	if e := prog.Exports[0]; e.Format != ExportGGUF || e.Path != filepath.Join("proj", "export", "out.gguf") {
		t.Errorf("export = %+v", e)
	}
	if tr := prog.Track; tr.Backend != BackendTensorBoard || len(tr.Backends) != 1 || tr.Dir != filepath.Join("proj", "runs") {
		t.Errorf("track = %+v", tr)
	}
	tg := prog.Target
	if tg.Profile != "a100-80gb" || tg.Count != 2 || len(tg.Require) != 2 {
		t.Fatalf("target = %+v", tg)
	}
	if c := tg.Require[0]; c.Property != "gpu_memory" || c.Op != ">=" || c.Value != 24<<30 || c.Text != "gpu_memory >= 24GiB" {
		t.Errorf("require[0] = %+v", c)
	}
	if c := tg.Require[1]; c.Property != "bf16" || c.Op != "==" || c.Value != 1 {
		t.Errorf("require[1] = %+v", c)
	}
	var order []string
	for _, s := range prog.Stages {
		order = append(order, s.StageDecl().Name)
	}
	if diff := cmp.Diff([]string{"sft", "story", "out"}, order); diff != "" {
		t.Errorf("stage order (-want +got):\n%s", diff)
	}
	lr := prog.Variable("lr")
	if lr == nil || !lr.FromCommandLine || lr.Value.Number != 1e-4 || lr.Value.Type != VarNumber {
		t.Errorf("lr = %+v", lr)
	}
	if r := prog.Variable("rank"); r.Value.Type != VarInt || r.Value.Number != 16 {
		t.Errorf("rank = %+v", r.Value)
	}
}

func TestSitesAndSideTables(t *testing.T) {
	prog, _ := checkMem(t, map[string]string{"main.whisper": qlora}, "main.whisper", nil)
	src := prog.Files["main.whisper"].Src
	text := func(r interface{ String() string }, start, end int) string { return string(src[start:end]) }
	f := prog.Finetune("sft")
	r := f.LoRA.AttrRange("rank")
	if got := text(r, r.Start.Byte, r.End.Byte); got != "rank = var.rank" {
		t.Errorf("lora AttrRange(rank) = %q", got)
	}
	r = f.AttrRange("lora.rank")
	if got := text(r, r.Start.Byte, r.End.Byte); got != "rank = var.rank" {
		t.Errorf("AttrRange(lora.rank) = %q", got)
	}
	if !f.Has("optimizer.lr") || f.Has("optimizer.schedule") || f.Has("distributed.gpus") {
		t.Error("Has with dotted names")
	}
	r = f.ValueRange("checkpointing")
	if got := text(r, r.Start.Byte, r.End.Byte); got != "every(2)" {
		t.Errorf("ValueRange(checkpointing) = %q", got)
	}
	r = f.AttrRange("batch") // defaulted: the name
	if got := text(r, r.Start.Byte, r.End.Byte); got != "sft" || f.Has("batch") {
		t.Errorf("AttrRange of a defaulted attribute = %q", got)
	}
	refs := map[string]int{}
	for _, ref := range prog.References {
		if got := string(src[ref.Range.Start.Byte:ref.Range.End.Byte]); got != ref.Decl.Name {
			t.Errorf("reference range %q for %s", got, ref.Decl.Name)
		}
		refs[ref.Decl.Name]++
	}
	if diff := cmp.Diff(map[string]int{"base": 1, "chat": 1, "sft": 2}, refs); diff != "" {
		t.Errorf("references (-want +got):\n%s", diff)
	}
	if len(prog.VarUses) != 3 {
		t.Errorf("VarUses = %d, want 3", len(prog.VarUses))
	}
	if d := prog.Decl("story"); d == nil || d.Kind != "generate" || len(d.Deps) != 1 || d.Deps[0].Name != "sft" {
		t.Errorf("story decl = %+v", d)
	}
}

func TestImports(t *testing.T) {
	files := map[string]string{
		"p/main.whisper":       "import \"lib/common.whisper\"\ngenerate g { model = base, prompt = \"hi\" }\n",
		"p/lib/common.whisper": "import \"models.whisper\"\n",
		"p/lib/models.whisper": "model base { source = \"gguf:weights/m.gguf\" }\n",
	}
	prog, ds := checkMem(t, files, "p/main.whisper", nil)
	if len(ds) != 0 {
		t.Fatalf("diagnostics:\n%s", diag.Text(prog.Files, ds))
	}
	if diff := cmp.Diff([]string{"p/main.whisper", "p/lib/common.whisper", "p/lib/models.whisper"}, prog.FileOrder); diff != "" {
		t.Errorf("file order (-want +got):\n%s", diff)
	}
	if m := prog.Model("base"); m.Source.Path != filepath.Join("p", "lib", "weights", "m.gguf") || m.File != "p/lib/models.whisper" {
		t.Errorf("model path not resolved against its own file: %+v", m.Source)
	}
}

func TestImportCycle(t *testing.T) {
	files := map[string]string{
		"a.whisper": "import \"b.whisper\"\nmodel m { source = \"hf:a/b\" }\n",
		"b.whisper": "import \"c.whisper\"\n",
		"c.whisper": "import \"a.whisper\"\n",
	}
	prog, ds := checkMem(t, files, "a.whisper", nil)
	if diff := cmp.Diff([]string{"E209"}, codes(ds)); diff != "" {
		t.Fatalf("codes (-want +got):\n%s\n%s", diff, diag.Text(prog.Files, ds))
	}
	d := ds[0]
	if d.Subject.Filename != "c.whisper" || len(d.Notes) != 3 || !strings.Contains(d.Summary, "a.whisper → b.whisper → c.whisper → a.whisper") {
		t.Errorf("cycle diagnostic: %s", diag.Text(prog.Files, ds))
	}
	if prog.Model("m") == nil {
		t.Error("declarations of a cyclic import should still be checked")
	}
}

func TestImportNotFoundAndDuplicateAcrossFiles(t *testing.T) {
	files := map[string]string{
		"main.whisper":  "import \"comon.whisper\"\nimport \"other.whisper\"\nmodel m { source = \"hf:a/b\" }\n",
		"other.whisper": "model m { source = \"hf:c/d\" }\n",
	}
	prog, ds := checkMem(t, files, "main.whisper", nil)
	if diff := cmp.Diff([]string{"E208", "E202"}, codes(ds)); diff != "" {
		t.Fatalf("codes (-want +got):\n%s\n%s", diff, diag.Text(prog.Files, ds))
	}
	if ds[1].Subject.Filename != "other.whisper" || ds[1].Notes[0].Range.Filename != "main.whisper" {
		t.Errorf("duplicate should point at the second with a note at the first:\n%s", diag.Text(prog.Files, ds))
	}
}

func TestVars(t *testing.T) {
	src := "variable lr { default = 2e-4 }\nvariable mem { default = 24GiB }\nvariable sched { default = cosine }\n" +
		"model base { source = \"hf:a/b\" }\ndataset d { source = \"d.jsonl\", version = dvc }\nversion {}\ntrack {}\n" +
		"finetune f { model = base, data = d, optimizer { lr = var.lr, schedule = var.sched } }\n" +
		"target { require = [gpu_memory >= var.mem] }\n"
	files := map[string]string{"v.whisper": src}
	for _, tc := range []struct {
		vars  map[string]string
		codes []string
	}{
		{nil, nil},
		{map[string]string{"lr": "3e-4", "mem": "40GiB", "sched": "linear"}, nil},
		{map[string]string{"lr": "fast"}, []string{"E306"}},
		{map[string]string{"mem": "40%"}, []string{"E306"}},
		{map[string]string{"sched": "cosin"}, []string{"E303"}},
		{map[string]string{"l": "1"}, []string{"E212"}},
	} {
		prog, ds := checkMem(t, files, "v.whisper", tc.vars)
		if diff := cmp.Diff(tc.codes, codes(ds)); diff != "" {
			t.Errorf("vars %v: codes (-want +got):\n%s\n%s", tc.vars, diff, diag.Text(prog.Files, ds))
		}
		if tc.vars["sched"] == "linear" && prog.Finetunes[0].Optimizer.Schedule != ScheduleLinear {
			t.Errorf("sched not applied")
		}
		if tc.vars["mem"] == "40GiB" && prog.Target.Require[0].Value != 40<<30 {
			t.Errorf("mem not applied: %+v", prog.Target.Require)
		}
	}
	_, ds := checkMem(t, files, "v.whisper", map[string]string{"sched": "cosin"})
	if ds[0].Suggestion != nil || len(ds[0].Notes) != 1 || !strings.Contains(ds[0].Detail, "-var sched") {
		t.Errorf("a bad -var value is fixed on the command line, not in the file: %+v", ds[0])
	}
	_, ds = checkMem(t, files, "v.whisper", map[string]string{"l": "1"})
	if !strings.Contains(ds[0].Detail, `Did you mean "lr"?`) {
		t.Errorf("E212 detail: %s", ds[0].Detail)
	}
}

func TestStageOrderFollowsDependencies(t *testing.T) {
	src := "generate late { model = ft, prompt = \"x\" }\nexport ex { model = ft }\n" +
		"finetune ft { model = m, data = d }\nmodel m { source = \"hf:a/b\" }\ndataset d { source = \"d.jsonl\", version = dvc }\n" +
		"version {}\ntrack {}\npipeline demo { stages = [late] }\n"
	prog, ds := checkMem(t, map[string]string{"s.whisper": src}, "s.whisper", nil)
	if len(ds) != 0 {
		t.Fatalf("diagnostics:\n%s", diag.Text(prog.Files, ds))
	}
	var order []string
	for _, s := range prog.Stages {
		order = append(order, s.StageDecl().Name)
	}
	if diff := cmp.Diff([]string{"ft", "late"}, order); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}
	if prog.Name != "demo" {
		t.Errorf("pipeline name = %q", prog.Name)
	}
}

func TestFindCycle(t *testing.T) {
	a, b, c := &Decl{Name: "a"}, &Decl{Name: "b"}, &Decl{Name: "c"}
	a.Deps, b.Deps, c.Deps = []*Decl{b}, []*Decl{c}, []*Decl{a}
	cyc := findCycle([]*Decl{a, b, c})
	var names []string
	for _, d := range cyc {
		names = append(names, d.Name)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, names); diff != "" {
		t.Errorf("cycle (-want +got):\n%s", diff)
	}
	c.Deps = nil
	if cyc := findCycle([]*Decl{a, b, c}); cyc != nil {
		t.Errorf("no cycle expected, got %d", len(cyc))
	}
}

func TestPartialProgramOnErrors(t *testing.T) {
	src := "model base { source = \"hf:a/b\"\n  quantize { method = nf9 } }\nfinetune f { model = base, data = nope, batch = \"x\" }\n"
	prog, ds := checkMem(t, map[string]string{"e.whisper": src}, "e.whisper", nil)
	if !ds.HasErrors() {
		t.Fatal("expected errors")
	}
	f := prog.Finetune("f")
	if f == nil || f.Model == nil || f.Batch != 1 || f.Data != nil {
		t.Errorf("partial finetune = %+v", f)
	}
	if q := prog.Model("base").Quantize; q == nil || q.Method != QuantNF4 {
		t.Errorf("a bad method should fall back to the default: %+v", q)
	}
}

func TestMissingRootFile(t *testing.T) {
	prog, ds := Check("nope.whisper", Options{ReadFile: memFS(nil)})
	if prog == nil || len(ds) != 1 || ds[0].Code != "E208" || ds[0].Subject != nil {
		t.Errorf("got %v", ds)
	}
}

func TestPanicBecomesInternalError(t *testing.T) {
	calls := 0
	read := func(name string) ([]byte, error) {
		calls++
		if calls > 1 {
			panic("boom")
		}
		return []byte("import \"x.whisper\"\nmodel m { source = \"hf:a/b\" }\n"), nil
	}
	prog, ds := Check("p.whisper", Options{ReadFile: read})
	if prog == nil || len(ds) != 1 || ds[0].Code != "E200" || ds[0].Subject == nil || !strings.Contains(ds[0].Detail, "boom") {
		t.Fatalf("got %v", ds)
	}
}

// TestTrackBackends: backend takes one backend or a list, duplicates
// dropped; Backend is the first.
func TestTrackBackends(t *testing.T) {
	prog, ds := Check("t.whisper", Options{ReadFile: func(string) ([]byte, error) {
		return []byte("track { backend = [mlflow, tensorboard, mlflow] }\n"), nil
	}})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	tr := prog.Track
	if tr.Backend != BackendMLflow || len(tr.Backends) != 2 || tr.Backends[1] != BackendTensorBoard {
		t.Errorf("track = %+v", tr)
	}
}
