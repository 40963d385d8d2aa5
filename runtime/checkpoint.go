package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/runtime/format/safetensors"
	"github.com/modelwhisperer/whisperc/runtime/track"
	"github.com/modelwhisperer/whisperc/runtime/train"
)

// tunedOutput returns the fine-tuned weights or adapters a stage's model
// reference uses: this run's training result, or, for a checkpoint
// address (`model = "sft@step500"`), the recorded output it names, read
// from disk. base is the loaded base model.
func (x *executor) tunedOutput(st *planner.Stage, ref compiler.ModelRef, base *loaded) (*trained, *diag.Diagnostic) {
	f := ref.Finetune
	if ref.At == nil {
		if t := x.trained[f.Name]; t != nil {
			return t, nil
		}
		return nil, x.errorf(st, "E500", "Internal runtime error", "Stage %s uses finetune %s, which has not trained. Plan again.", st.ID, f.Name)
	}
	a := ref.At
	dir := ""
	// A finetune this run trained wrote the newest checkpoints: a step
	// address without a run id means this run's files.
	if t := x.trained[f.Name]; t != nil && a.Run == "" && t.result != nil {
		cand := filepath.Join(t.result.Output, "checkpoint-"+strconv.FormatInt(a.Step, 10))
		if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
			dir = cand
		}
	}
	if dir == "" {
		root := track.Root(x.prog)
		d, _, err := track.FindOutput(root, track.OutputQuery{Out: f.Output, Step: a.Step, Run: a.Run})
		if err != nil {
			return nil, x.addrError(a, "Checkpoint not found", "%s: %v.", a.Text, err)
		}
		dir = d
	}
	c := base.ws.Config
	if _, err := os.Stat(filepath.Join(dir, train.AdapterConfigName)); err == nil {
		ad, err := train.LoadAdapters(dir, c.Heads, c.KVHeads, c.Layers)
		if err != nil {
			return nil, x.addrError(a, "Checkpoint cannot be read", "%s: the adapters in %s cannot be read: %v.", a.Text, dir, err)
		}
		return &trained{method: train.LoRA, adapters: ad}, nil
	}
	ws, err := safetensors.OpenHF(dir)
	if err != nil {
		return nil, x.addrError(a, "Checkpoint cannot be read", "%s: the model in %s cannot be read: %v.", a.Text, dir, err)
	}
	return &trained{method: train.Full, ws: ws}, nil
}

// addrError reports a checkpoint address that cannot be used, at the
// address.
func (x *executor) addrError(a *compiler.Checkpoint, summary, format string, args ...any) *diag.Diagnostic {
	return diag.Errorf(a.Range, "E510", summary, fmt.Sprintf(format, args...))
}
