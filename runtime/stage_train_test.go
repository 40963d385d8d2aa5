package runtime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
)

// finetuneProgram writes and checks a short fine-tuning pipeline on
// stories260K and the shipped stories: generate before, train, generate
// after. method is the finetune body's method lines.
func finetuneProgram(t *testing.T, model, method string) (*compiler.Program, string) {
	t.Helper()
	_, file, _, _ := goruntime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..")
	models := testmodels.Dir(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	src := fmt.Sprintf(`
model stories {
  source    = "llama2c:%s"
  tokenizer = "%s"
  %s
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
  model     = stories
  data      = bolt
  precision = fp32
  attention = flash2
  %s
  batch      = 2
  grad_accum = 2
  max_steps  = 12
  save_every = 5 steps
  output     = "%s"
}
generate before {
  model       = stories
  prompt      = "Once upon a time"
  max_tokens  = 30
  temperature = 0
}
generate after {
  model       = sft
  prompt      = "Once upon a time"
  max_tokens  = 30
  temperature = 0
}
`, filepath.Join(models, "stories260K.bin"), filepath.Join(models, "tok512.bin"), model,
		filepath.Join(root, "examples", "data", "stories.jsonl"), method, out)
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

// TestExecuteFinetune runs full, LoRA and QLoRA fine-tunes through the
// planner and the executor: training writes the outputs in Hugging
// Face's layouts, and the generation after it differs from the one before.
func TestExecuteFinetune(t *testing.T) {
	cases := []struct {
		name, model, method string
		files               []string
	}{
		{"lora", "", "checkpointing = full\n lora { rank = 4, alpha = 8, targets = [q_proj, v_proj, down_proj] }\n optimizer { name = adamw, lr = 1e-2, warmup = 2 steps }",
			[]string{"adapter_config.json", "adapter_model.safetensors", "checkpoint-10", "checkpoint-12"}},
		{"qlora", "quantize { method = nf4 }", "method = qlora\n checkpointing = every(2)\n lora { rank = 4, alpha = 8, targets = all }\n optimizer { name = adamw_8bit, lr = 1e-2 }",
			[]string{"adapter_config.json", "adapter_model.safetensors", "checkpoint-12"}},
		{"full", "", "method = full\n optimizer { name = sgd, lr = 5e-2, schedule = linear }",
			[]string{"config.json", "model.safetensors", "checkpoint-12"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prog, out := finetuneProgram(t, c.model, c.method)
			plan, ds := planner.Build(prog, machine(8<<30), planner.Options{})
			if ds.HasErrors() || !plan.Fits {
				t.Fatalf("plan does not fit:\n%s", diag.Text(prog.Files, ds))
			}
			var stdout, stderr bytes.Buffer
			if ds := Execute(context.Background(), plan, prog, Streams{Stdout: &stdout, Stderr: &stderr}); ds.HasErrors() {
				t.Fatalf("%s\nstderr:\n%s", diag.Text(prog.Files, ds), stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			if len(lines) != 2 || lines[0] == lines[1] {
				t.Errorf("generation before and after training should differ:\n%s", stdout.String())
			}
			t.Logf("before: %s\nafter:  %s", lines[0], lines[len(lines)-1])
			for _, want := range []string{"training sft: ", "step 12/12", "trained sft: 12 steps", "evaluated sft: eval loss"} {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
			for _, f := range c.files {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Errorf("output %s: %v", f, err)
				}
			}
			// A second run resumes from the final checkpoint: nothing is
			// trained again and the generation is the same.
			var again, stderr2 bytes.Buffer
			if ds := Execute(context.Background(), plan, prog, Streams{Stdout: &again, Stderr: &stderr2}); ds.HasErrors() {
				t.Fatal(diag.Text(prog.Files, ds))
			}
			if again.String() != stdout.String() || !strings.Contains(stderr2.String(), "resumed from step 12") {
				t.Errorf("the second run did not resume to the same result:\n%s\n%s", again.String(), stderr2.String())
			}
		})
	}
}

// TestFinetuneSelectiveCheckpointing runs checkpointing = selective
// through the plan, whose graph marks every layer's attention core for
// recomputation, to the trainer, which receives those marks, and trains.
func TestFinetuneSelectiveCheckpointing(t *testing.T) {
	prog, _ := finetuneProgram(t, "", "checkpointing = selective\n lora { rank = 4, alpha = 8 }")
	plan, ds := planner.Build(prog, machine(8<<30), planner.Options{})
	if ds.HasErrors() {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	st := plan.Stage("train.sft")
	if st == nil || st.Graph == nil {
		t.Fatal("no train stage")
	}
	ws, err := llama2c.Open(testmodels.Path(t, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	_, tp, err := trainOptions(st.Graph, ws.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := trainConfig(prog.Finetune("sft"), tp)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.RecomputeAttention) != ws.Config.Layers || slices.Contains(cfg.RecomputeAttention, false) || slices.Contains(cfg.Checkpoint, true) {
		t.Fatalf("selective reaches the trainer as recompute %v, checkpoint %v", cfg.RecomputeAttention, cfg.Checkpoint)
	}
	// The plan states what the runtime's selective recomputation drops
	// (the bytes runtime/train's TestCheckpointingRecomputes measures): the
	// rotated q and k and their gradients of every layer, one sequence.
	c := ws.Config
	want := int64(c.Layers * 2 * 64 * (c.Heads + c.KVHeads) * c.HeadSize() * 4)
	if d := st.Decision("checkpointing"); d == nil || d.SavesBytes != want || d.ExtraCompute != 0 {
		t.Errorf("checkpointing decision %+v; want %d bytes saved", d, want)
	}
	var stdout, stderr bytes.Buffer
	if ds := Execute(context.Background(), plan, prog, Streams{Stdout: &stdout, Stderr: &stderr}); ds.HasErrors() {
		t.Fatalf("%s\nstderr:\n%s", diag.Text(prog.Files, ds), stderr.String())
	}
	if !strings.Contains(stderr.String(), "trained sft: 12 steps") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}
