package stdlib

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
)

//go:embed targets/*.hcl
var targetFiles embed.FS

// TargetProfile is a hardware profile the planner plans against: one
// device of a kind (a GPU model, or a CPU-only host), with the numbers its
// vendor's data sheet gives.
type TargetProfile struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Aliases are other names the profile answers to ("rtx4090-24gb").
	Aliases []string `json:"aliases,omitempty"`
	// GPU reports whether the device is a CUDA GPU (false: the CPU).
	GPU bool `json:"gpu"`
	// MemoryBytes is the device memory (host RAM for the CPU profile).
	MemoryBytes int64 `json:"memory_bytes"`
	// BandwidthBytes is the memory bandwidth in bytes per second.
	BandwidthBytes float64 `json:"bandwidth_bytes_per_s"`
	// ComputeCapability is the CUDA compute capability, such as 8.0; 0 on
	// the CPU.
	ComputeCapability float64 `json:"compute_capability,omitempty"`
	BF16              bool    `json:"bf16"`
	FP8               bool    `json:"fp8"`
	// PeakTFLOPS is the dense peak throughput per number format (fp32,
	// tf32, fp16, bf16, fp8, int8).
	PeakTFLOPS map[string]float64 `json:"peak_tflops"`
	// Source cites the data sheet; URL locates it.
	Source string `json:"source"`
	URL    string `json:"url,omitempty"`
	// Range is where the profile is declared.
	Range source.Range `json:"-"`
}

// FlashAttention reports whether FlashAttention-2 kernels run on the
// device: CUDA compute capability 8.0 or later (Dao 2023, README).
func (p TargetProfile) FlashAttention() bool { return p.GPU && p.ComputeCapability >= 8.0 }

// hclTargets is the HCL shape of a profile file.
type hclTargets struct {
	Targets []*hclTarget `hcl:"target,block"`
}

type hclTarget struct {
	Name              string   `hcl:"name,label"`
	Description       string   `hcl:"description,optional"`
	Aliases           []string `hcl:"aliases,optional"`
	Device            string   `hcl:"device"`
	MemoryMiB         float64  `hcl:"memory_mib"`
	BandwidthGBs      float64  `hcl:"bandwidth_gbs"`
	ComputeCapability string   `hcl:"compute_capability,optional"`
	BF16              bool     `hcl:"bf16,optional"`
	FP8               bool     `hcl:"fp8,optional"`
	Peak              *hclPeak `hcl:"peak_tflops,block"`
	Source            string   `hcl:"source"`
	URL               string   `hcl:"url,optional"`
	DeclRange         hcl.Range
}

type hclPeak struct {
	FP32 *float64 `hcl:"fp32,optional"`
	TF32 *float64 `hcl:"tf32,optional"`
	FP16 *float64 `hcl:"fp16,optional"`
	BF16 *float64 `hcl:"bf16,optional"`
	FP8  *float64 `hcl:"fp8,optional"`
	INT8 *float64 `hcl:"int8,optional"`
}

// ParseTargets parses a target-profile file (HCL, the format of
// stdlib/targets/*.hcl) and returns the profiles it declares, with
// positioned diagnostics (code P101) for syntax errors, unknown or missing
// attributes and impossible values. Profiles with errors are left out.
func ParseTargets(filename string, src []byte) ([]TargetProfile, diag.Diagnostics) {
	file := source.NewFile(filename, src)
	f, hds := hclsyntax.ParseConfig(src, filename, hcl.Pos{Line: 1, Column: 1})
	ds := fromHCL(file, hds)
	if hds.HasErrors() {
		return nil, ds
	}
	var raw hclTargets
	ds = ds.Extend(fromHCL(file, gohcl.DecodeBody(f.Body, nil, &raw)))
	if ds.HasErrors() {
		return nil, ds
	}
	// gohcl does not fill DeclRange; find each block's range.
	if body, ok := f.Body.(*hclsyntax.Body); ok {
		i := 0
		for _, b := range body.Blocks {
			if b.Type == "target" && i < len(raw.Targets) {
				raw.Targets[i].DeclRange = b.DefRange()
				i++
			}
		}
	}
	var out []TargetProfile
	for _, t := range raw.Targets {
		rng := toRange(file, t.DeclRange)
		bad := func(what string) {
			ds = ds.Append(diag.Errorf(rng, "P101", "invalid target profile "+strconv.Quote(t.Name),
				what+" Fix the profile's value; stdlib/targets/*.hcl shows the expected shape."))
		}
		p := TargetProfile{
			Name: t.Name, Description: t.Description, Aliases: t.Aliases, GPU: t.Device == "gpu",
			MemoryBytes:    int64(t.MemoryMiB * (1 << 20)),
			BandwidthBytes: t.BandwidthGBs * 1e9,
			BF16:           t.BF16, FP8: t.FP8, Source: t.Source, URL: t.URL, Range: rng,
			PeakTFLOPS: map[string]float64{},
		}
		ok := true
		switch {
		case t.Device != "gpu" && t.Device != "cpu":
			bad(fmt.Sprintf("device is %q; it must be \"gpu\" or \"cpu\".", t.Device))
			ok = false
		case t.MemoryMiB <= 0 || t.MemoryMiB > 1<<30:
			bad(fmt.Sprintf("memory_mib is %g; it must be a positive number of MiB.", t.MemoryMiB))
			ok = false
		case t.BandwidthGBs <= 0:
			bad(fmt.Sprintf("bandwidth_gbs is %g; it must be positive.", t.BandwidthGBs))
			ok = false
		case t.Source == "":
			bad("source is empty; cite the data sheet the numbers come from.")
			ok = false
		}
		if t.ComputeCapability != "" {
			cc, err := strconv.ParseFloat(t.ComputeCapability, 64)
			if err != nil || cc < 1 || cc > 20 {
				bad(fmt.Sprintf("compute_capability is %q; write it as major.minor, such as \"8.0\".", t.ComputeCapability))
				ok = false
			}
			p.ComputeCapability = cc
		} else if p.GPU {
			bad("a GPU profile needs compute_capability.")
			ok = false
		}
		if t.Peak != nil {
			for name, v := range map[string]*float64{"fp32": t.Peak.FP32, "tf32": t.Peak.TF32, "fp16": t.Peak.FP16,
				"bf16": t.Peak.BF16, "fp8": t.Peak.FP8, "int8": t.Peak.INT8} {
				if v == nil {
					continue
				}
				if *v <= 0 {
					bad(fmt.Sprintf("peak_tflops.%s is %g; it must be positive.", name, *v))
					ok = false
				}
				p.PeakTFLOPS[name] = *v
			}
		}
		if p.PeakTFLOPS["fp32"] == 0 && ok {
			bad("peak_tflops.fp32 is missing; every device has an fp32 peak.")
			ok = false
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, ds
}

func toRange(f *source.File, r hcl.Range) source.Range {
	return f.Range(r.Start.Byte, r.End.Byte)
}

func fromHCL(f *source.File, hds hcl.Diagnostics) diag.Diagnostics {
	var ds diag.Diagnostics
	for _, h := range hds {
		sev := diag.Error
		if h.Severity == hcl.DiagWarning {
			sev = diag.Warning
		}
		d := &diag.Diagnostic{Severity: sev, Code: "P101", Summary: strings.TrimSuffix(h.Summary, "."), Detail: h.Detail}
		if h.Subject != nil {
			r := toRange(f, *h.Subject)
			d.Subject = &r
		}
		ds = append(ds, d)
	}
	return ds
}

var builtinTargets = sync.OnceValue(func() []TargetProfile {
	var all []TargetProfile
	names, _ := fs.Glob(targetFiles, "targets/*.hcl")
	for _, name := range names {
		src, err := targetFiles.ReadFile(name)
		if err != nil {
			continue
		}
		ps, _ := ParseTargets("stdlib/"+name, src) // the tests keep these clean
		all = append(all, ps...)
	}
	slices.SortFunc(all, func(a, b TargetProfile) int { return strings.Compare(a.Name, b.Name) })
	return all
})

// Targets returns the built-in target profiles, sorted by name. The
// caller owns the returned slice and maps.
func Targets() []TargetProfile {
	src := builtinTargets()
	out := make([]TargetProfile, len(src))
	for i, p := range src {
		out[i] = p
		out[i].Aliases = slices.Clone(p.Aliases)
		out[i].PeakTFLOPS = make(map[string]float64, len(p.PeakTFLOPS))
		for k, v := range p.PeakTFLOPS {
			out[i].PeakTFLOPS[k] = v
		}
	}
	return out
}

// LookupTarget returns the built-in profile with the given name or alias,
// case-insensitively.
func LookupTarget(name string) (TargetProfile, bool) {
	for _, p := range Targets() {
		if strings.EqualFold(p.Name, name) {
			return p, true
		}
		for _, a := range p.Aliases {
			if strings.EqualFold(a, name) {
				return p, true
			}
		}
	}
	return TargetProfile{}, false
}

// TargetNames returns the names of the built-in profiles, sorted.
func TargetNames() []string {
	var names []string
	for _, p := range builtinTargets() {
		names = append(names, p.Name)
	}
	return names
}
