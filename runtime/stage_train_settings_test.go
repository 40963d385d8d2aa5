package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/cost"
)

// badRecordData writes the first n shipped stories with two bad records
// among them (invalid JSON on line 3, an empty text on line 6) and
// returns the file's path.
func badRecordData(t *testing.T, n int) string {
	t.Helper()
	_, file, _, _ := goruntime.Caller(0)
	f, err := os.Open(filepath.Join(filepath.Dir(file), "..", "examples", "data", "stories.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan() && line <= n+2; line++ {
		switch line {
		case 3:
			b.WriteString("{\"text\": \"an unterminated record\n")
		case 6:
			b.WriteString("{\"text\": \"   \"}\n")
		default:
			b.WriteString(sc.Text() + "\n")
		}
	}
	path := filepath.Join(t.TempDir(), "stories-with-bad.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// settingsProgram checks a LoRA fine-tune of stories260K on data with the
// dataset's extra lines and the finetune's.
func settingsProgram(t *testing.T, data, datasetLines, finetuneLines string) (*compiler.Program, string) {
	t.Helper()
	models := testmodels.Dir(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	src := fmt.Sprintf(`
model stories {
  source    = "llama2c:%s"
  tokenizer = "%s"
}
dataset d {
  source  = "%s"
  format  = jsonl
  seq_len = 32
  eval    = 4
  version = none
  %s
}
finetune sft {
  model     = stories
  data      = d
  precision = fp32
  batch     = 2
  max_steps = 8
  optimizer { lr = 1e-2, warmup = 0 steps }
  output    = "%s"
  %s
}
`, filepath.Join(models, "stories260K.bin"), filepath.Join(models, "tok512.bin"), data, datasetLines, out, finetuneLines)
	path := filepath.Join(dir, "ft.whisper")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, ds := compiler.Check(path, compiler.Options{})
	if ds.HasErrors() {
		t.Fatalf("the pipeline has errors:\n%s", diag.Text(prog.Files, ds))
	}
	return prog, out
}

// execute plans and runs prog, returning stderr, the last value of each
// metric and the diagnostics' text.
func execute(t *testing.T, prog *compiler.Program) (string, map[string]float64, string) {
	t.Helper()
	plan, ds := planner.Build(prog, machine(8<<30), planner.Options{})
	if ds.HasErrors() {
		t.Fatalf("plan:\n%s", diag.Text(prog.Files, ds))
	}
	var stdout, stderr bytes.Buffer
	m := &metrics{values: map[string]float64{}}
	ds = Execute(context.Background(), plan, prog, Streams{Stdout: &stdout, Stderr: &stderr, Observer: m})
	return stderr.String(), m.values, diag.Text(prog.Files, ds)
}

// TestFinetuneSettingsRunEndToEnd runs the training settings of the
// language through the planner and the runtime: eval_every evaluates
// every 3 steps, on_bad_record = skip skips and counts the two bad
// records (summary, problems, metric), rslora writes PEFT's use_rslora
// and the plan's guards decision states max_grad_norm = 0.
func TestFinetuneSettingsRunEndToEnd(t *testing.T) {
	data := badRecordData(t, 40)
	prog, out := settingsProgram(t, data, "on_bad_record = skip\n  truncate = true",
		"eval_every = 3 steps\n  max_grad_norm = 0\n  nan_patience = 2\n  lora { rank = 4, alpha = 8, rslora = true }")
	plan, _ := planner.Build(prog, machine(8<<30), planner.Options{})
	var text strings.Builder
	if err := plan.WriteText(&text, prog.Files); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"guards         no clipping", "after 2 in a row", "eval_every     3 steps", "rsLoRA: updates scaled by alpha/√rank = 4"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the plan lacks %q:\n%s", want, text.String())
		}
	}
	stderr, m, ds := execute(t, prog)
	if ds != "" {
		t.Fatalf("%s\nstderr:\n%s", ds, stderr)
	}
	for _, want := range []string{
		"(42 records, 2 bad skipped,",
		"skipped " + data + ":3: invalid JSON",
		"skipped " + data + ":6: field \"text\" is empty",
		"step 3/8: eval loss", "step 6/8: eval loss",
		"; 2 of 42 records skipped as bad",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if m["skipped_records"] != 2 {
		t.Errorf("skipped_records metric %v, want 2", m["skipped_records"])
	}
	b, err := os.ReadFile(filepath.Join(out, "adapter_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		RSLoRA bool    `json:"use_rslora"`
		Alpha  float64 `json:"lora_alpha"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil || !cfg.RSLoRA || cfg.Alpha != 8 {
		t.Errorf("adapter_config.json: use_rslora %t, lora_alpha %g (%v); want true, 8", cfg.RSLoRA, cfg.Alpha, err)
	}
}

// TestFinetuneBadRecordIsAnError: without on_bad_record = skip the first
// bad record stops the run with its file and line and the way to skip it.
func TestFinetuneBadRecordIsAnError(t *testing.T) {
	data := badRecordData(t, 40)
	prog, _ := settingsProgram(t, data, "truncate = true", "")
	stderr, _, ds := execute(t, prog)
	flat := unwrapped(ds)
	for _, want := range []string{"E508", data + ":3: invalid JSON", "on_bad_record = skip"} {
		if !strings.Contains(flat, want) {
			t.Errorf("diagnostics lack %q:\n%s\nstderr:\n%s", want, ds, stderr)
		}
	}
}

// TestFinetuneLongRecord: an example longer than seq_len is a bad record
// (file:line and lengths, or skipped and counted with on_bad_record =
// skip), unless the dataset asks for truncation, which is counted.
func TestFinetuneLongRecord(t *testing.T) {
	_, file, _, _ := goruntime.Caller(0)
	stories, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "examples", "data", "stories.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	long, _, _ := strings.Cut(string(stories), "\n")
	var b strings.Builder
	for i := 1; i <= 41; i++ {
		if i == 5 {
			b.WriteString(long + "\n")
			continue
		}
		fmt.Fprintf(&b, "{\"text\": \"Bolt said beep %d times.\"}\n", i)
	}
	data := filepath.Join(t.TempDir(), "short-and-long.jsonl")
	if err := os.WriteFile(data, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, _ := settingsProgram(t, data, "", "")
	stderr, _, ds := execute(t, prog)
	flat := unwrapped(ds)
	for _, want := range []string{"E508", data + ":5: the example is ", "tokens long", "seq_len = 32 holds at most 33", "truncate = true", "on_bad_record = skip"} {
		if !strings.Contains(flat, want) {
			t.Errorf("diagnostics lack %q:\n%s\nstderr:\n%s", want, ds, stderr)
		}
	}
	prog, _ = settingsProgram(t, data, "on_bad_record = skip", "")
	stderr, m, ds := execute(t, prog)
	if ds != "" {
		t.Fatalf("%s\nstderr:\n%s", ds, stderr)
	}
	for _, want := range []string{"(41 records, 1 bad skipped (1 longer than seq_len))", "skipped " + data + ":5: the example is ", "; 1 of 41 records skipped as bad"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if m["skipped_records"] != 1 {
		t.Errorf("skipped_records metric %v, want 1", m["skipped_records"])
	}
	prog, _ = settingsProgram(t, data, "truncate = true", "")
	stderr, m, ds = execute(t, prog)
	if ds != "" {
		t.Fatalf("%s\nstderr:\n%s", ds, stderr)
	}
	for _, want := range []string{"(41 records, 1 truncated)", "; 1 of 41 records truncated to seq_len"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if m["truncated_records"] != 1 {
		t.Errorf("truncated_records metric %v, want 1", m["truncated_records"])
	}
}

// TestFinetuneBF16BaseOnCPU: a LoRA finetune with precision = bf16 plans
// for the CPU without P118, its graph stores the block linear layers in
// bf16 (computing in fp32), the plan's weights shrink by 2 bytes per
// block weight, and the run trains on that base.
func TestFinetuneBF16BaseOnCPU(t *testing.T) {
	data := badRecordData(t, 40)
	weightsOf := func(prec string) (*compiler.Program, *planner.Plan) {
		prog, _ := settingsProgram(t, data, "on_bad_record = skip\n  truncate = true", "lora { rank = 4, alpha = 8 }")
		src, err := os.ReadFile(prog.Root)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.Replace(string(src), "precision = fp32", "precision = "+prec, 1)
		if err := os.WriteFile(prog.Root, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		prog, ds := compiler.Check(prog.Root, compiler.Options{})
		if ds.HasErrors() {
			t.Fatal(diag.Text(prog.Files, ds))
		}
		plan, ds := planner.Build(prog, machine(8<<30), planner.Options{})
		if ds.HasErrors() {
			t.Fatalf("precision = %s: %s", prec, diag.Text(prog.Files, ds))
		}
		return prog, plan
	}
	_, fp := weightsOf("fp32")
	prog, bf := weightsOf("bf16")
	st := bf.Stage("train.sft")
	var linears int64
	for _, l := range st.Graph.Layers {
		for _, ln := range l.Linears {
			if ln.Weight != cost.BF16 || ln.Compute != cost.FP32 || ln.Kernel != planner.KernelQuantMatMul {
				t.Fatalf("layer %d %s: %s weight computed in %s by %s; want bf16 → fp32", l.Index, ln.Module, ln.Weight, ln.Compute, ln.Kernel)
			}
			linears += int64(ln.In) * int64(ln.Out)
		}
	}
	if g := st.Graph.Head; g.Weight != cost.FP32 {
		t.Errorf("the classifier is %s; the runtime keeps it (tied to the embeddings) in fp32", g.Weight)
	}
	d := st.Decision("precision")
	if d == nil || d.Choice != "bf16 weights, fp32 compute" || d.SavesBytes != 2*linears {
		t.Fatalf("precision decision %+v; want bf16 weights saving %d bytes", d, 2*linears)
	}
	component := func(m *planner.DeviceMemory, name string) int64 {
		for _, c := range m.Components {
			if c.Name == name {
				return c.Bytes
			}
		}
		return 0
	}
	if saved := component(fp.Stage("train.sft").Memory, "weights") - component(st.Memory, "weights"); saved != 2*linears {
		t.Errorf("the plan's weights shrink by %d bytes, want %d", saved, 2*linears)
	}
	stderr, _, ds := execute(t, prog)
	if ds != "" || !strings.Contains(stderr, "trained sft: 8 steps") {
		t.Fatalf("%s\nstderr:\n%s", ds, stderr)
	}
}

// unwrapped undoes the diagnostic renderer's line wrapping, so that a test
// can look for a phrase wherever the wrap fell: the temporary directory in
// a message changes its length, and so the wrap, from run to run.
func unwrapped(text string) string {
	return strings.Join(strings.Fields(text), " ")
}
