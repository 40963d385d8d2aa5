package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/hw"
	"github.com/modelwhisperer/whisperc/runtime"
)

// TestRunStory is the conformance demo: `whisperc run
// examples/story.whisper` prints llama2.c's story byte for byte on stdout
// and only the timing line on stderr; then the same through a saved plan,
// which is refused once its pipeline changes.
func TestRunStory(t *testing.T) {
	testmodels.Path(t, "stories260K.bin")
	want, err := os.ReadFile("../../runtime/engine/testdata/stories260K.golden")
	if err != nil {
		t.Fatal(err)
	}
	timing := regexp.MustCompile(`^200 tokens in [0-9.]+ s \([0-9.]+ tok/s\)\n$`)
	runOK := func(args ...string) {
		t.Helper()
		var out, errs bytes.Buffer
		if code := run(context.Background(), args, nil, &out, &errs); code != exitOK {
			t.Fatalf("whisperc %s: exit %d\n%s", strings.Join(args, " "), code, errs.String())
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("whisperc %s: stdout differs from llama2.c's\n got: %q\nwant: %q", strings.Join(args, " "), out.String(), want)
		}
		if !timing.Match(errs.Bytes()) {
			t.Errorf("whisperc %s: stderr = %q, want only the timing line", strings.Join(args, " "), errs.String())
		}
	}
	runOK("run", "../../examples/story.whisper")

	// A saved plan runs while it holds.
	dir := t.TempDir()
	story, err := os.ReadFile("../../examples/story.whisper")
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs("../../../shared/models")
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "story.whisper")
	if err := os.WriteFile(src, bytes.ReplaceAll(story, []byte("../../shared/models"), []byte(abs)), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, ds := compiler.Check(src, compiler.Options{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	h, err := hw.Detect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	plan, _ := planner.Build(prog, planner.FromHardware(h), planner.Options{PromptTokens: runtime.PromptTokens})
	saved := filepath.Join(dir, "plan.json")
	if err := plan.Save(saved, prog, h); err != nil {
		t.Fatal(err)
	}
	runOK("run", saved)

	// Editing the pipeline makes it stale.
	if err := os.WriteFile(src, append(bytes.ReplaceAll(story, []byte("../../shared/models"), []byte(abs)), "\n// edited\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"run", saved}, nil, &out, &errs); code != exitErrors || out.Len() != 0 {
		t.Fatalf("stale plan: exit %d, stdout %q, stderr %s", code, out.String(), errs.String())
	}
	if !strings.Contains(errs.String(), "E504") || !regexp.MustCompile(`story\.whisper\s+changed`).MatchString(errs.String()) {
		t.Errorf("stale plan: stderr does not name the changed input:\n%s", errs.String())
	}
}
