package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
)

// sharedModels returns ../shared/models (beside the repository), skipping
// when absent, failing under CI.
func sharedModels(t *testing.T) string {
	t.Helper()
	dir := testmodels.Dir(t)
	return dir
}

func storyFile(t *testing.T) string {
	models := sharedModels(t)
	p := filepath.Join(t.TempDir(), "story.whisper")
	src := "model tiny {\n  source    = \"llama2c:" + filepath.Join(models, "stories260K.bin") + "\"\n  tokenizer = \"" +
		filepath.Join(models, "tok512.bin") + "\"\n}\ngenerate g {\n  model = tiny\n  prompt = \"Once\"\n  max_tokens = 200\n  ignore_eos = true\n}\n"
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInterruptExits130 checks that an interrupted run exits 130 and says
// "interrupted", without blaming the user's settings.
func TestInterruptExits130(t *testing.T) {
	p := storyFile(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"run", p}, strings.NewReader(""), &stdout, &stderr)
	if code != exitInterrupted || !strings.Contains(stderr.String(), "whisperc: interrupted") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
	}
	if strings.Contains(stderr.String(), "error[") {
		t.Errorf("an interrupt is reported as an error of the pipeline:\n%s", stderr.String())
	}
}

// closedPipe fails every write as a pipe whose reader has gone.
type closedPipe struct{ n int }

func (c *closedPipe) Write(b []byte) (int, error) { c.n++; return 0, syscall.EPIPE }

// TestClosedStdoutExits141 checks that whisperc run | head stops quietly
// with 141 when the reader goes away.
func TestClosedStdoutExits141(t *testing.T) {
	p := storyFile(t)
	out := &closedPipe{}
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"run", p}, strings.NewReader(""), out, &stderr)
	if code != exitBrokenPipe || strings.Contains(stderr.String(), "error[") || out.n != 1 {
		t.Errorf("exit %d after %d writes, stderr:\n%s", code, out.n, stderr.String())
	}
}
