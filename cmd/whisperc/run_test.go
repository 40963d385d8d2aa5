package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRunStory is the conformance demo: `whisperc run
// examples/story.whisper` prints llama2.c's story byte for byte on stdout
// and only the timing line on stderr; then the same through a saved plan,
// which is refused once an input changes.
func TestRunStory(t *testing.T) {
	if _, err := os.Stat("../../../shared/models/stories260K.bin"); err != nil {
		t.Skipf("test model is absent (%v); see shared/models/README.md", err)
	}
	want, err := os.ReadFile("../../runtime/engine/testdata/stories260K.golden")
	if err != nil {
		t.Fatal(err)
	}
	timing := regexp.MustCompile(`^200 tokens in [0-9.]+ s \([0-9.]+ tok/s\)\n$`)
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
	plan := filepath.Join(dir, "plan.json")
	for _, args := range [][]string{
		{"run", "../../examples/story.whisper"},
		{"run", "--save-plan", plan, src},
		{"run", plan},
	} {
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
	// Editing the pipeline makes the saved plan stale.
	if err := os.WriteFile(src, append(story, "\n// edited\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"run", plan}, nil, &out, &errs); code != exitErrors || out.Len() != 0 {
		t.Fatalf("stale plan: exit %d, stdout %q", code, out.String())
	}
	if !strings.Contains(errs.String(), "E504") || !strings.Contains(errs.String(), "story.whisper changed") {
		t.Errorf("stale plan: stderr does not name the changed input:\n%s", errs.String())
	}
}
