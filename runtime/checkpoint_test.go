package runtime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/runtime/track"
)

// addrPipeline writes a pipeline into dir: the shared model, data and
// finetune declarations, then rest.
func addrPipeline(t *testing.T, dir, name, method, rest string) *compiler.Program {
	t.Helper()
	_, file, _, _ := goruntime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..")
	models := testmodels.Dir(t)
	src := fmt.Sprintf(`
model stories {
  source    = "llama2c:%s"
  tokenizer = "%s"
}
dataset bolt {
  source  = "%s"
  format  = jsonl
  seq_len = 64
  truncate = true
  eval    = 8
  version = none
}
finetune sft {
  model      = stories
  data       = bolt
  precision  = fp32
  attention  = flash2
  %s
  batch      = 2
  max_steps  = 4
  save_every = 2 steps
  output     = "out"
}
version {
  data        = none
  checkpoints = none
}
track {
  backend = jsonl
  dir     = "runs"
}
%s
`, filepath.Join(models, "stories260K.bin"), filepath.Join(models, "tok512.bin"),
		filepath.Join(root, "examples", "data", "stories.jsonl"), method,
		strings.ReplaceAll(rest, "TOK", filepath.Join(models, "tok512.bin")))
	path := filepath.Join(dir, name+".whisper")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, ds := compiler.Check(path, compiler.Options{})
	if ds.HasErrors() {
		t.Fatalf("the pipeline has errors:\n%s", diag.Text(prog.Files, ds))
	}
	return prog
}

// runTracked plans and runs prog with a run record, as `whisperc run`
// does, and returns stdout, the diagnostics and the run id.
func runTracked(t *testing.T, prog *compiler.Program) (string, diag.Diagnostics, string) {
	t.Helper()
	plan, ds := planner.Build(prog, machine(8<<30), planner.Options{})
	if ds.HasErrors() || !plan.Fits {
		t.Fatalf("plan does not fit:\n%s", diag.Text(prog.Files, ds))
	}
	rec, err := track.Start(context.Background(), prog, plan, track.Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	ds = Execute(context.Background(), plan, prog, Streams{Stdout: &stdout, Stderr: &stderr, Observer: rec.Observer(context.Background())})
	var runErr error
	if ds.HasErrors() {
		runErr = ds.Errs()
	}
	if err := rec.Finish(runErr, time.Now()); err != nil {
		t.Fatal(err)
	}
	return stdout.String(), ds, rec.Manifest().ID
}

// TestCheckpointAddress runs a fine-tune with a run record, then a
// pipeline that generates from its checkpoints by address without
// training: step 2 of a full fine-tune gives the text that the
// checkpoint-2 directory gives when loaded as a model, and a LoRA run's
// id gives the text the run itself generated after training.
func TestCheckpointAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("fine-tunes twice")
	}
	gen := func(name, model string) string {
		return fmt.Sprintf("generate %s {\n  model = %s\n  prompt = \"Once upon a time\"\n  max_tokens = 20\n  temperature = 0\n}\n", name, model)
	}
	t.Run("full", func(t *testing.T) {
		dir := t.TempDir()
		full := "method = full\n  optimizer { name = sgd, lr = 5e-2 }"
		if _, ds, _ := runTracked(t, addrPipeline(t, dir, "train", full, "")); ds.HasErrors() {
			t.Fatal(ds.Errs())
		}
		for _, step := range []string{"2", "4"} {
			prog := addrPipeline(t, dir, "use", full, `
model direct {
  source    = "safetensors:out/checkpoint-`+step+`"
  tokenizer = "TOK"
}
pipeline use { stages = [a, b] }
`+gen("a", "direct")+gen("b", `"sft@step`+step+`"`))
			out, ds, _ := runTracked(t, prog)
			if ds.HasErrors() {
				t.Fatal(diag.Text(prog.Files, ds))
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 || lines[0] != lines[1] {
				t.Errorf("sft@step%s should generate what checkpoint-%s loaded as a model generates:\n%s", step, step, out)
			}
		}
	})
	t.Run("lora", func(t *testing.T) {
		dir := t.TempDir()
		lora := "lora { rank = 4, alpha = 8, targets = [q_proj, v_proj] }\n  optimizer { name = adamw, lr = 1e-2 }"
		trained, ds, id := runTracked(t, addrPipeline(t, dir, "train", lora, gen("after", "sft")))
		if ds.HasErrors() {
			t.Fatal(ds.Errs())
		}
		prog := addrPipeline(t, dir, "use", lora, "pipeline use { stages = [a, b] }\n"+
			gen("a", `"sft@`+id+`"`)+gen("b", `"sft@`+id[:15]+`/step2"`))
		out, ds, useID := runTracked(t, prog)
		if ds.HasErrors() {
			t.Fatal(diag.Text(prog.Files, ds))
		}
		// The pipeline lists its stages, so the finetune did not run again.
		if _, m, err := track.Find(filepath.Join(dir, "runs"), useID); err != nil || len(m.Outputs) != 0 {
			t.Errorf("the addressing run should not train (err %v, outputs %v)", err, m)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 || lines[0] != strings.TrimSpace(trained) {
			t.Errorf("sft@%s should generate what that run generated after training:\nrun:  %s\naddr: %s", id, trained, out)
		}

		// Errors name the track dir and what exists, at the address.
		for _, c := range []struct{ model, want string }{
			{`"sft@step3"`, `no succeeded run in track dir ` + filepath.Join(dir, "runs") + ` recorded step 3 of ` + filepath.Join(dir, "out") + `; recorded: ` + id + `: final, step2, step4`},
			{`"sft@261206-000000-0000"`, `no run "261206-000000-0000" in ` + filepath.Join(dir, "runs")},
		} {
			prog := addrPipeline(t, dir, "use", lora, "pipeline use { stages = [a] }\n"+gen("a", c.model))
			_, ds, _ := runTracked(t, prog)
			text := strings.Join(strings.Fields(diag.Text(prog.Files, ds)), " ")
			if !strings.Contains(text, "E510") || !strings.Contains(text, c.want) || !strings.Contains(text, c.model) {
				t.Errorf("%s: want E510 with %q, got:\n%s", c.model, c.want, text)
			}
		}
		// A checkpoint changed on disk since the run recorded it is refused,
		// with the way to bring it back.
		ad := filepath.Join(dir, "out", "checkpoint-2", "adapter_model.safetensors")
		if err := os.WriteFile(ad, []byte("changed"), 0o644); err != nil {
			t.Fatal(err)
		}
		prog = addrPipeline(t, dir, "use", lora, "pipeline use { stages = [a] }\n"+gen("a", `"sft@step2"`))
		_, ds, _ = runTracked(t, prog)
		if text := strings.Join(strings.Fields(diag.Text(prog.Files, ds)), " "); !strings.Contains(text, "has changed since") || !strings.Contains(text, "whisperc runs restore "+id+"@2") {
			t.Errorf("a changed checkpoint should be refused with a restore hint, got:\n%s", text)
		}
	})
}
