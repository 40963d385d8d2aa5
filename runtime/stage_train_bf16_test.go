package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/runtime/format/safetensors"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// TestFinetuneBF16FullOnCPU: a full finetune with precision = bf16 plans
// for the CPU without P118 and runs: the engine trains the block linears
// in bf16, the final checkpoint stores them as BF16 tensors (the rest
// F32), and a later generate stage runs on the trained model.
func TestFinetuneBF16FullOnCPU(t *testing.T) {
	data := badRecordData(t, 40)
	prog, out := settingsProgram(t, data, "on_bad_record = skip\n  truncate = true", "method = full")
	src, err := os.ReadFile(prog.Root)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(src), "precision = fp32", "precision = bf16", 1) +
		"generate after {\n  model = sft\n  prompt = \"Once upon a time\"\n  max_tokens = 8\n  temperature = 0\n}\n"
	if err := os.WriteFile(prog.Root, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, ds := compiler.Check(prog.Root, compiler.Options{})
	if ds.HasErrors() {
		t.Fatal(diag.Text(prog.Files, ds))
	}
	stderr, _, text := execute(t, prog)
	if text != "" || !strings.Contains(stderr, "trained sft: 8 steps") {
		t.Fatalf("%s\nstderr:\n%s", text, stderr)
	}
	ws, err := safetensors.OpenHF(filepath.Join(out, "checkpoint-8"))
	if err != nil {
		t.Fatal(err)
	}
	if ws.Close != nil {
		defer ws.Close()
	}
	bf16 := 0
	for n, x := range ws.Tensors {
		linear := strings.HasPrefix(n, "layers.") && len(x.Shape) == 2
		if linear != (x.DType == weights.BF16) {
			t.Errorf("%s is %v in the checkpoint", n, x.DType)
		}
		if linear {
			bf16++
		}
	}
	if bf16 != 35 {
		t.Errorf("%d BF16 tensors in the checkpoint, want stories260K's 35 block linears", bf16)
	}
}
