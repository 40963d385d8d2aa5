package runtime

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/lang/diag"
)

// TestSavedPlanStale checks that a saved plan round-trips, is fresh on the
// machine that made it, and is refused with E504 naming the cause when the
// hardware or an input differs.
func TestSavedPlanStale(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.bin")
	if err := os.WriteFile(model, []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &Plan{Name: "p", Stages: []Stage{{Kind: StageGenerate, Name: "g", Model: Model{Name: "m", Scheme: "llama2c", Path: model}}}}
	var buf bytes.Buffer
	if err := Save(&buf, p, nil); err != nil {
		t.Fatal(err)
	}
	load := func() *Saved {
		t.Helper()
		s, err := Load(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := load()
	if ds := s.Check(); len(ds) > 0 {
		t.Fatalf("fresh plan is stale:\n%s", diag.Text(nil, ds))
	}
	if s.Plan.Stages[0].Model.Path != model {
		t.Errorf("round trip lost the model path: %+v", s.Plan.Stages[0].Model)
	}
	s.Hardware = "other machine"
	if text := diag.Text(nil, s.Check()); !strings.Contains(text, "E504") || !strings.Contains(text, "other machine") {
		t.Errorf("other hardware:\n%s", text)
	}
	if err := os.WriteFile(model, []byte("weightz"), 0o644); err != nil {
		t.Fatal(err)
	}
	if text := diag.Text(nil, load().Check()); !strings.Contains(text, "E504") || !strings.Contains(text, "m.bin changed") {
		t.Errorf("changed input:\n%s", text)
	}
	os.Remove(model)
	if text := diag.Text(nil, load().Check()); !strings.Contains(text, "missing") {
		t.Errorf("missing input:\n%s", text)
	}
	for _, bad := range []string{"", "{", `{"version": 2, "plan": {}}`, `{"version": 1}`} {
		if _, err := Load(strings.NewReader(bad)); err == nil {
			t.Errorf("Load(%q) accepted", bad)
		}
	}
}
