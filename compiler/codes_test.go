package compiler

import (
	"testing"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/stdlib"
)

// TestCodeExamplesTrigger checks each documented example of the checker's
// and the rules' codes as a one-file program and expects the code among
// its diagnostics, so that `whisperc explain` never shows an example that
// does not do what it says.
func TestCodeExamplesTrigger(t *testing.T) {
	for _, c := range stdlib.Codes() {
		if c.Example == "" || (c.Phase != "check" && c.Phase != "rule") {
			continue
		}
		if c.ID == "E209" { // needs two files; TestImportCycle covers it
			continue
		}
		src := c.Example
		read := func(name string) ([]byte, error) {
			if name == "example.whisper" {
				return []byte(src), nil
			}
			return nil, errNotFound
		}
		prog, ds := Check("example.whisper", Options{ReadFile: read})
		found := false
		for _, d := range ds {
			found = found || d.Code == c.ID
		}
		if !found {
			t.Errorf("%s: example does not trigger it; got:\n%s", c.ID, diag.Text(prog.Files, ds))
		}
	}
}

type notFound struct{}

func (notFound) Error() string { return "file does not exist" }

var errNotFound error = notFound{}
