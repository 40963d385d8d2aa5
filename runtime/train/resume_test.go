package train

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/modelwhisperer/whisperc/runtime/data"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// childEnv makes the test binary a training child (see TestMain).
const childEnv = "WHISPERC_TRAIN_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		method, out, _ := strings.Cut(spec, ":")
		if err := childRun(method, out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// resumeConfig is the run the kill test interrupts: dropout (so the
// random state matters), accumulation, warmup, clipping, a checkpoint
// every step. kind is lora, full (SGD), bf16 (full with AdamW, the
// block linears stored in bf16) or bf16-ckpt (bf16 with every second
// block checkpointed: its products recomputed from the bf16 weights).
func resumeConfig(kind, out string) Config {
	method := LoRA
	if kind != "lora" {
		method = Full
	}
	c := Config{Method: method, LoRA: LoRAConfig{Rank: 4, Alpha: 8, Dropout: 0.1, Modules: []string{"q_proj", "v_proj", "up_proj"}},
		Optimizer: Optimizer{Kind: AdamW, LR: 1e-2, WeightDecay: 0.01}, Schedule: Cosine, WarmupSteps: 2, MaxGradNorm: 1,
		Batch: 2, GradAccum: 2, MaxSteps: 8, Seed: 5, Shuffle: true, SaveEvery: 1, Output: out}
	if kind == "full" {
		c.Optimizer = Optimizer{Kind: SGD, LR: 1e-2, Momentum: 0.9, WeightDecay: 0.01}
	}
	if strings.HasPrefix(kind, "bf16") {
		c.BF16, c.Optimizer.Eps = true, 1e-6
	}
	if kind == "bf16-ckpt" {
		c.Checkpoint = []bool{true, false, true, false, true} // stories260K's five blocks
	}
	return c
}

func resumeData(t testing.TB, kind string) (*engine.Engine, *data.Set) {
	q := engine.QuantizeNone
	if strings.HasPrefix(kind, "bf16") {
		q = engine.QuantizeBF16
	}
	e, ds := stories(t, 32, q)
	ds.Train = ds.Train[:40]
	return e, ds
}

// childRun trains, printing "step N" after each step (after its
// checkpoint is saved), until the parent kills it.
func childRun(kind, out string) error {
	e, ds := resumeData(&testing.T{}, kind)
	cfg := resumeConfig(kind, out)
	cfg.Report = func(ev Event) {
		if strings.HasPrefix(ev.Note, "saved ") {
			fmt.Printf("step %d\n", ev.Step)
		}
	}
	tr, err := New(e, ds, cfg)
	if err != nil {
		return err
	}
	_, err = tr.Run(context.Background(), "resume-test")
	return err
}

// finalParams runs cfg to the end (resuming from out when it has
// checkpoints) and returns the trained tensors' values (bf16 ones
// widened, which keeps their bits).
func finalParams(t *testing.T, kind, out string) [][]float32 {
	t.Helper()
	e, ds := resumeData(t, kind)
	tr, err := New(e, ds, resumeConfig(kind, out))
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.Run(context.Background(), "resume-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", res)
	var vs [][]float32
	for _, p := range tr.Params() {
		if (p.BF16 != nil) != (strings.HasPrefix(kind, "bf16") && strings.HasPrefix(p.Name, "layers.") && len(p.Shape) == 2) {
			t.Fatalf("%s run: %s stored in bf16: %t", kind, p.Name, p.BF16 != nil)
		}
		if p.BF16 != nil {
			v := make([]float32, p.Len())
			kernels.WidenBF16(v, p.BF16)
			vs = append(vs, v)
			continue
		}
		vs = append(vs, p.Value)
	}
	return vs
}

// TestKillAndResume kills a training process with SIGKILL right after a
// random step (possibly in the middle of writing the next checkpoint),
// resumes it from its output directory, and requires the final weights to
// be bit-identical to those of an uninterrupted run with the same seed:
// for LoRA, full fine-tuning in fp32, and full fine-tuning with the block
// linears in bf16 (whose checkpoints store them as BF16 tensors), without
// and with gradient checkpointing.
func TestKillAndResume(t *testing.T) {
	for _, kind := range []string{"lora", "full", "bf16", "bf16-ckpt"} {
		t.Run(kind, func(t *testing.T) {
			want := finalParams(t, kind, filepath.Join(t.TempDir(), "straight"))
			out := filepath.Join(t.TempDir(), "killed")
			killAt := 2 + rand.IntN(5) // after step 2..6 of 8
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+kind+":"+out)
			cmd.Stderr = os.Stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(stdout)
			killed := false
			for sc.Scan() {
				if sc.Text() == fmt.Sprintf("step %d", killAt) {
					if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
					killed = true
					break
				}
			}
			err = cmd.Wait()
			if !killed {
				t.Fatalf("the child ended (%v) before step %d", err, killAt)
			}
			steps, _ := checkpoints(out)
			t.Logf("killed after step %d; checkpoints on disk: %v", killAt, steps)
			if len(steps) == 0 || steps[len(steps)-1] < killAt {
				t.Fatalf("no checkpoint of step %d survived: %v", killAt, steps)
			}
			got := finalParams(t, kind, out)
			for i := range want {
				for j := range want[i] {
					if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
						t.Fatalf("tensor %d differs at %d after resuming: %g, uninterrupted %g", i, j, got[i][j], want[i][j])
					}
				}
			}
		})
	}
}
