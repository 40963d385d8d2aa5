package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/runtime/track"
)

// TestRunRecordsTinyCPU runs examples/tiny-cpu.whisper (its track block
// says jsonl) from a copy whose runs go to a temporary directory, and
// checks the record `whisperc runs` then reads.
func TestRunRecordsTinyCPU(t *testing.T) {
	models := testmodels.Dir(t)
	src, err := os.ReadFile("../../examples/tiny-cpu.whisper")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src = bytes.ReplaceAll(src, []byte("../../shared/models"), []byte(models))
	name := filepath.Join(dir, "tiny-cpu.whisper")
	if err := os.WriteFile(name, src, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"run", name}, nil, &out, &errs); code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, errs.String())
	}
	if !strings.Contains(errs.String(), "recorded in "+filepath.Join(dir, "runs", "tiny-cpu")) {
		t.Errorf("stderr does not say where the run is recorded:\n%s", errs.String())
	}
	runs, bad := track.List(filepath.Join(dir, "runs"))
	if len(runs) != 1 || len(bad) != 0 {
		t.Fatalf("runs %d, errors %v", len(runs), bad)
	}
	m := runs[0]
	if m.Status != track.StatusSucceeded || len(m.Sources) != 1 || len(m.Models) != 2 || len(m.Hardware) == 0 || m.Threads < 1 {
		t.Errorf("incomplete record: status %s, %d sources, %d model files, hardware %d bytes, %d threads", m.Status, len(m.Sources), len(m.Models), len(m.Hardware), m.Threads)
	}
	if len(m.Stages) != 2 || m.Stages[1].Kind != "generate" || m.Stages[1].MeasuredStepSeconds <= 0 || m.Stages[1].PredictedStepSeconds <= 0 {
		t.Errorf("stages %+v", m.Stages)
	}
	ttft, total := m.Final["generate.once_upon/time_to_first_token"], m.Final["generate.once_upon/seconds"]
	if m.Final["generate.once_upon/generated_tokens"] != 100 || ttft <= 0 || ttft >= total {
		t.Errorf("final metrics %v", m.Final)
	}
	// The pipeline file names its runs too.
	out.Reset()
	if code := run(context.Background(), []string{"runs", name}, nil, &out, &errs); code != exitOK || !strings.Contains(out.String(), m.ID) {
		t.Errorf("runs FILE.whisper: exit %d\n%s%s", code, out.String(), errs.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"runs", "show", "--dir", filepath.Join(dir, "runs"), m.ID}, nil, &out, &errs); code != exitOK {
		t.Fatalf("runs show: exit %d\n%s", code, errs.String())
	}
	if !strings.Contains(out.String(), "stories260K.bin") {
		t.Errorf("runs show:\n%s", out.String())
	}

	// An unwritable track dir stops the run before it starts.
	if err := os.WriteFile(filepath.Join(dir, "blocked"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	blocked := filepath.Join(dir, "blocked.whisper")
	os.WriteFile(blocked, bytes.Replace(src, []byte(`dir     = "runs"`), []byte(`dir     = "blocked/runs"`), 1), 0o644)
	out.Reset()
	errs.Reset()
	if code := run(context.Background(), []string{"run", blocked}, nil, &out, &errs); code != exitErrors || out.Len() != 0 {
		t.Fatalf("blocked dir: exit %d, stdout %q", code, out.String())
	}
	if !strings.Contains(errs.String(), "blocked") || !strings.Contains(errs.String(), "writable directory") {
		t.Errorf("blocked dir: %s", errs.String())
	}
}
