package stdlib

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/lang/diag"
)

func TestBuiltinTargetsParseClean(t *testing.T) {
	names, _ := fs.Glob(targetFiles, "targets/*.hcl")
	for _, name := range names {
		src, _ := targetFiles.ReadFile(name)
		ps, ds := ParseTargets(name, src)
		if len(ds) > 0 {
			t.Errorf("%s: %v", name, ds)
		}
		if len(ps) != 1 {
			t.Errorf("%s declares %d profiles, want 1", name, len(ps))
			continue
		}
		if want := strings.TrimSuffix(strings.TrimPrefix(name, "targets/"), ".hcl"); ps[0].Name != want {
			t.Errorf("%s declares %q; name the file after the profile", name, ps[0].Name)
		}
	}
	want := []string{"a100-40gb", "a100-80gb", "a10g", "cpu", "h100-80gb", "h200", "l4", "rtx3090", "rtx4090", "t4", "v100-16gb"}
	if got := TargetNames(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("targets = %v, want %v", got, want)
	}
}

func TestTargetFacts(t *testing.T) {
	h, ok := LookupTarget("H100-80GB")
	if !ok {
		t.Fatal("h100-80gb missing")
	}
	if h.ComputeCapability != 9.0 || !h.FP8 || !h.BF16 || !h.FlashAttention() || h.PeakTFLOPS["bf16"] != 989.4 {
		t.Errorf("h100 = %+v", h)
	}
	if h.MemoryBytes != 81920<<20 {
		t.Errorf("h100 memory = %d", h.MemoryBytes)
	}
	if r, ok := LookupTarget("rtx4090-24gb"); !ok || r.Name != "rtx4090" {
		t.Errorf("alias rtx4090-24gb = %q, %v", r.Name, ok)
	}
	v, _ := LookupTarget("v100-16gb")
	if v.BF16 || v.FlashAttention() || v.ComputeCapability != 7.0 {
		t.Errorf("v100 = %+v", v)
	}
	c, _ := LookupTarget("cpu")
	if c.GPU || c.FlashAttention() {
		t.Errorf("cpu = %+v", c)
	}
	for _, p := range Targets() {
		if p.Source == "" || p.PeakTFLOPS["fp32"] <= 0 || p.MemoryBytes <= 0 {
			t.Errorf("%s is incomplete: %+v", p.Name, p)
		}
		if p.FP8 && p.ComputeCapability < 8.9 {
			t.Errorf("%s: fp8 needs compute capability 8.9", p.Name)
		}
		if p.BF16 != (p.GPU && p.ComputeCapability >= 8.0) {
			t.Errorf("%s: bf16 %v does not follow compute capability %.1f", p.Name, p.BF16, p.ComputeCapability)
		}
	}
	// callers cannot change the built-ins
	Targets()[0].PeakTFLOPS["fp32"] = -1
	if Targets()[0].PeakTFLOPS["fp32"] <= 0 {
		t.Error("Targets shares its maps")
	}
}

func TestParseTargetsErrors(t *testing.T) {
	for _, tc := range []struct {
		src, want string
	}{
		{"target \"x\" {\n  device = \"gpu\"\n", "2:"}, // unclosed block
		{"target \"x\" {\n  device = \"tpu\"\n  memory_mib = 1\n  bandwidth_gbs = 1\n  source = \"s\"\n}\n", `must be "gpu" or "cpu"`},
		{"target \"x\" {\n  device = \"cpu\"\n  memory_mib = 1\n  bandwidth_gbs = 1\n  source = \"s\"\n  colour = 1\n}\n", "colour"},
		{"target \"x\" {\n  device = \"gpu\"\n  memory_mib = 1\n  bandwidth_gbs = 1\n  source = \"s\"\n  peak_tflops { fp32 = 1 }\n}\n", "compute_capability"},
		{"target \"x\" {\n  device = \"cpu\"\n  memory_mib = -5\n  bandwidth_gbs = 1\n  source = \"s\"\n}\n", "memory_mib"},
		{"target \"x\" {\n  device = \"cpu\"\n  memory_mib = \"lots\"\n  bandwidth_gbs = 1\n  source = \"s\"\n}\n", "my.hcl:3:"},
	} {
		ps, ds := ParseTargets("my.hcl", []byte(tc.src))
		if !ds.HasErrors() || len(ps) != 0 {
			t.Errorf("%q: no error (profiles %v)", tc.src, ps)
			continue
		}
		text := diag.Text(nil, ds)
		if !strings.Contains(text, tc.want) {
			t.Errorf("%q: diagnostics do not mention %q:\n%s", tc.src, tc.want, text)
		}
		for _, d := range ds {
			if d.Code != "P101" || d.Subject == nil || d.Subject.Filename != "my.hcl" {
				t.Errorf("%q: diagnostic %+v lacks code or position", tc.src, d)
			}
		}
	}
}

func FuzzParseTargets(f *testing.F) {
	names, _ := fs.Glob(targetFiles, "targets/*.hcl")
	for _, name := range names {
		src, _ := targetFiles.ReadFile(name)
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		ps, ds := ParseTargets("fuzz.hcl", src)
		if ds.HasErrors() && len(ps) > 0 && len(ds) == 0 {
			t.Fatal("inconsistent result")
		}
	})
}
