package planner

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
)

// FuzzParseTarget: any --target argument gives a target or a positioned
// diagnostic, never a panic.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"a100-80gb", "h100-80gb*8", "rtx4090-24gb", "x.hcl*2", "*", "**3", "cpu*-1", "a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		tg, ds := ParseTarget(spec, func(string) ([]byte, error) { return []byte(spec), nil })
		if tg == nil && !ds.HasErrors() {
			t.Fatalf("%q: no target and no error", spec)
		}
		for _, d := range ds {
			if d.Code == "" || d.Summary == "" {
				t.Fatalf("%q: malformed diagnostic %+v", spec, d)
			}
		}
		if tg != nil && (tg.Count < 1 || tg.Count > maxDevices) {
			t.Fatalf("%q: count %d", spec, tg.Count)
		}
	})
}

// FuzzReadJSON: saved plans are outside input.
func FuzzReadJSON(f *testing.F) {
	prog := checkFile(f, "testdata/qlora.whisper")
	p, _ := Build(prog, nil, Options{})
	var buf bytes.Buffer
	p.WriteJSON(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte(`{"format_version":"1","stages":[{"memory":{"components":[{}]}}]}`))
	if b, err := os.ReadFile("testdata/qlora.plan.txt"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ReadJSON(bytes.NewReader(data))
		if err == nil {
			var out strings.Builder
			if err := p.WriteText(&out, nil); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzBuild: whatever program the checker accepts (even partially), the
// planner plans without an internal error.
func FuzzBuild(f *testing.F) {
	seeds, _ := filepathGlob("testdata/*.whisper", "../examples/*.whisper")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	cpu, _ := ParseTarget("cpu", nil)
	t4, _ := ParseTarget("t4*2", nil)
	f.Fuzz(func(t *testing.T, src []byte) {
		prog, _ := compiler.Check("fuzz.whisper", compiler.Options{ReadFile: func(p string) ([]byte, error) {
			if strings.HasSuffix(p, "fuzz.whisper") {
				return src, nil
			}
			return nil, os.ErrNotExist
		}})
		for _, tg := range []*Target{nil, cpu, t4} {
			_, ds := Build(prog, tg, Options{})
			for _, d := range ds {
				if d.Code == "P199" {
					t.Fatalf("internal error: %s\n%s", d.Summary, d.Detail)
				}
			}
		}
	})
}

func filepathGlob(patterns ...string) ([]string, error) {
	var out []string
	for _, p := range patterns {
		m, err := filepath.Glob(p)
		if err != nil {
			return nil, err
		}
		out = append(out, m...)
	}
	return out, nil
}
