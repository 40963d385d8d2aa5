package launch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/planner/engines"
	"github.com/modelwhisperer/whisperc/runtime/observe"
)

// fakeLauncher writes an executable named name into a new directory on
// PATH that runs script.
func fakeLauncher(t *testing.T, name, script string) {
	t.Helper()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func export() *engines.Export {
	return &engines.Export{Engine: engines.HF,
		Files: []engines.File{{Path: "train.py", Data: "print('hi')\n"}, {Path: "accelerate.yaml", Data: "num_processes: 1\n"}},
		Commands: []engines.Command{{Stage: "train.sft", Argv: []string{"accelerate", "launch", "--config_file", "accelerate.yaml", "train.py"},
			Launcher: "accelerate", Install: "pip install -r requirements.txt"}}}
}

type recorder struct {
	observe.Nop
	metrics []observe.Metric
	started []string
	ended   []error
}

func (r *recorder) StageStarted(e observe.StageStart) { r.started = append(r.started, e.Stage.ID) }
func (r *recorder) Metric(m observe.Metric)           { r.metrics = append(r.metrics, m) }
func (r *recorder) StageFinished(e observe.StageEnd)  { r.ended = append(r.ended, e.Err) }

func TestRunStreamsAndRecords(t *testing.T) {
	fakeLauncher(t, "accelerate", `echo "args: $*"
test -f accelerate.yaml || { echo "not in the export directory" >&2; exit 9; }
echo 'whisperc-decisions {"attn_implementation": "flash_attention_2", "gradient_checkpointing": true, "linear4bit": 224}'
echo "{'loss': 1.5, 'grad_norm': 0.25, 'learning_rate': 0.0002, 'epoch': 0.5}"
echo "{'loss': 1.25, 'grad_norm': 0.2, 'learning_rate': 0.0001, 'epoch': 1.0}"
echo 'whisperc-metrics {"peak_allocated_bytes": 7000000000, "peak_reserved_bytes": 7500000000, "steps": 20}' >&2
`)
	dir := t.TempDir()
	x := export()
	if err := Write(dir, x); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rec := &recorder{}
	res, err := Run(context.Background(), x, Options{Dir: dir, Stderr: &out, Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "args: launch --config_file accelerate.yaml train.py") {
		t.Errorf("the launcher's output was not streamed with its arguments:\n%s", out.String())
	}
	m := res.Metrics["train.sft"]
	if m["loss"] != 1.25 || m["peak_allocated_bytes"] != 7e9 || m["peak_reserved_bytes"] != 7.5e9 || m["steps"] != 20 {
		t.Errorf("metrics %v", m)
	}
	if d := res.Decisions["train.sft"]; d["attn_implementation"] != "flash_attention_2" || d["linear4bit"] != float64(224) {
		t.Errorf("decisions %v", d)
	}
	if len(rec.started) != 1 || len(rec.ended) != 1 || rec.ended[0] != nil || len(rec.metrics) < 7 {
		t.Errorf("observer saw starts %v, ends %v, %d metrics", rec.started, rec.ended, len(rec.metrics))
	}
	log, err := os.ReadFile(filepath.Join(dir, LogName))
	if err != nil || !strings.Contains(string(log), "whisperc-metrics") || !strings.Contains(string(log), "== train.sft: accelerate launch") {
		t.Errorf("the log does not hold the run: %v\n%s", err, log)
	}
}

func TestMissingLauncherSaysWhatToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	dir := t.TempDir()
	_, err := Run(context.Background(), export(), Options{Dir: dir})
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("want a MissingError, got %v", err)
	}
	for _, want := range []string{"hf is not installed", "`accelerate` is not on PATH", "pip install -r requirements.txt", dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, LogName)); err == nil {
		t.Error("nothing may run (or log) when the launcher is missing")
	}
}

func TestFailureNamesStatusAndLog(t *testing.T) {
	fakeLauncher(t, "accelerate", "echo CUDA out of memory >&2\nexit 3\n")
	dir := t.TempDir()
	rec := &recorder{}
	_, err := Run(context.Background(), export(), Options{Dir: dir, Observer: rec})
	if err == nil || !strings.Contains(err.Error(), "exited with status 3") || !strings.Contains(err.Error(), LogName) {
		t.Fatalf("err = %v", err)
	}
	if len(rec.ended) != 1 || rec.ended[0] == nil {
		t.Errorf("the observer must see the stage fail: %v", rec.ended)
	}
}

func TestParseTorchtuneLine(t *testing.T) {
	res := Result{Metrics: map[string]map[string]float64{}, Decisions: map[string]map[string]any{}}
	parseLine("train.ft", "Step 12 | loss:1.0625 lr:0.0003 tokens_per_second_per_gpu:2510.5 peak_memory_alloc:9.87", &res, nil)
	if m := res.Metrics["train.ft"]; m["loss"] != 1.0625 || m["peak_memory_alloc"] != 9.87 {
		t.Errorf("metrics %v", m)
	}
	// Garbage and near-misses are ignored.
	for _, l := range []string{"whisperc-metrics {", "{'loss': x}", "Step x | loss:1", strings.Repeat("a", 1000)} {
		parseLine("train.ft", l, &res, nil)
	}
}

// TestParseSupportLines: the lines whisperc_support.py prints (what reading
// the data did, each skipped step and rollback) become metrics and, for the
// problems, a decision of the stage.
func TestParseSupportLines(t *testing.T) {
	res := Result{Metrics: map[string]map[string]float64{}, Decisions: map[string]map[string]any{}}
	for _, l := range []string{
		`whisperc-data {"long_skipped": 1, "problems": ["d.jsonl:3: invalid JSON"], "records": 10, "skipped": 2, "truncated": 0}`,
		`whisperc-guard {"event": "skip", "in_a_row": 1, "skipped": 1, "step": 7}`,
		`whisperc-guard {"event": "skip", "in_a_row": 2, "skipped": 2, "step": 8}`,
		`whisperc-guard {"event": "rollback", "lr_scale": 0.5, "of": 3, "rollback": 1, "step": 8, "to_step": 0}`,
	} {
		parseLine("train.ft", l, &res, nil)
	}
	m := res.Metrics["train.ft"]
	want := map[string]float64{"data_records": 10, "data_skipped": 2, "data_long_skipped": 1, "data_truncated": 0,
		"nan_skipped_steps": 2, "nan_rollbacks": 1, "nan_lr_scale": 0.5}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %t), want %v", k, got, ok, v)
		}
	}
	if p, _ := res.Decisions["train.ft"]["data_problems"].([]string); len(p) != 1 || p[0] != "d.jsonl:3: invalid JSON" {
		t.Errorf("problems %v", res.Decisions["train.ft"]["data_problems"])
	}
	for _, l := range []string{"whisperc-data {", "whisperc-guard {\"event\": 3}", `whisperc-guard {"event": "rollback"}`} {
		parseLine("train.ft", l, &res, nil)
	}
}
