package engines

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/lang/diag"
)

// TestSeveralTrackBackendsRefused: the exported scripts configure one
// tracking backend, so a track block naming several is refused on its
// backend attribute (P140) rather than exported with one silently dropped.
func TestSeveralTrackBackendsRefused(t *testing.T) {
	src, err := os.ReadFile("../../examples/qlora-llama2-7b.whisper")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	i := strings.Index(text, "track {")
	if i < 0 {
		t.Fatal("the example has no track block")
	}
	j := strings.Index(text[i:], "}")
	text = text[:i] + "track {\n  backend = [tensorboard, mlflow]\n}" + text[i+j+1:]
	path := filepath.Join(t.TempDir(), "several.whisper")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, e := range []Engine{HF, Torchtune} {
		_, ds, prog := lowerFile(t, path, e)
		var b strings.Builder
		diag.WriteText(&b, prog.Files, ds, diag.TextOptions{})
		if !strings.Contains(b.String(), "P140") || !strings.Contains(b.String(), "takes one tracking backend") {
			t.Errorf("%s: %s", e, b.String())
		}
	}
}
