package planner

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/input"
	"github.com/modelwhisperer/whisperc/lang/source"
	"github.com/modelwhisperer/whisperc/lang/suggest"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/planner/hw"
	"github.com/modelwhisperer/whisperc/stdlib"
)

// Target is the hardware a plan is made for: Count devices of one
// profile, built in, read from a user's HCL file, or detected.
type Target struct {
	Profile stdlib.TargetProfile
	Count   int
	// Source is "builtin", "detected" or the profile file's path.
	Source string
	// Hardware is the detected machine, when Source is "detected".
	Hardware *hw.Hardware
	// CPU is the CPU runtime's rates measured on this machine
	// (runtime.Calibrate); with it, CPU plans predict decode speed and
	// resident memory for whisperc's own runtime instead of a roofline.
	CPU *cost.CPURates
}

// Name returns the target as the command line spells it: "h100-80gb*8".
func (t *Target) Name() string {
	if t == nil {
		return ""
	}
	if t.Count > 1 {
		return fmt.Sprintf("%s*%d", t.Profile.Name, t.Count)
	}
	return t.Profile.Name
}

// maxDevices bounds a target's device count.
const maxDevices = 1 << 16

// ParseTarget parses a --target argument: a built-in profile name
// ("a100-80gb"), a path to an HCL profile file ("path/to/my.hcl"), either
// followed by "*N" for N devices ("h100-80gb*8"). readFile reads profile
// files (nil: a bounded read of a regular file). Unknown names get a did-you-mean (P102), bad
// counts P103, bad files the file's own diagnostics (P101).
func ParseTarget(spec string, readFile func(string) ([]byte, error)) (*Target, diag.Diagnostics) {
	if readFile == nil {
		readFile = func(name string) ([]byte, error) { return input.ReadFile(name, "target profile", 1<<20) }
	}
	arg := source.NewFile("--target", []byte(spec))
	whole := arg.Range(0, len(spec))
	name, count := strings.TrimSpace(spec), 1
	if i := strings.LastIndexByte(name, '*'); i >= 0 {
		n, err := strconv.Atoi(strings.TrimSpace(name[i+1:]))
		r := arg.Range(i+1, len(spec))
		if err != nil || n < 1 || n > maxDevices {
			return nil, diag.Diagnostics{diag.Errorf(r, "P103", "invalid device count in --target",
				fmt.Sprintf("%q is not a device count between 1 and %d. Write the count after '*', as in h100-80gb*8.", name[i+1:], maxDevices))}
		}
		name, count = strings.TrimSpace(name[:i]), n
	}
	if name == "" {
		return nil, diag.Diagnostics{diag.Errorf(whole, "P102", "empty --target",
			"Name a built-in profile ("+strings.Join(stdlib.TargetNames(), ", ")+") or an HCL profile file.")}
	}
	if strings.HasSuffix(name, ".hcl") || strings.ContainsRune(name, '/') || strings.ContainsRune(name, os.PathSeparator) {
		src, err := readFile(name)
		if err != nil {
			return nil, diag.Diagnostics{diag.Errorf(whole, "P102", "cannot read target profile file",
				fmt.Sprintf("%v. Check the path, or name a built-in profile.", err))}
		}
		ps, ds := stdlib.ParseTargets(name, src)
		if ds.HasErrors() {
			return nil, ds
		}
		if len(ps) != 1 {
			return nil, ds.Append(diag.Errorf(whole, "P101", "target profile file must declare one target",
				fmt.Sprintf("%s declares %d target blocks. Keep exactly one per file.", name, len(ps))))
		}
		return &Target{Profile: ps[0], Count: count, Source: name}, ds
	}
	p, ok := stdlib.LookupTarget(name)
	if !ok {
		d := diag.Errorf(arg.Range(0, len(name)), "P102", "unknown target "+strconv.Quote(name),
			"The built-in profiles are "+strings.Join(stdlib.TargetNames(), ", ")+
				". Name one of them or a path to an HCL profile file.")
		if s := suggest.Closest(strings.ToLower(name), allTargetNames()); s != "" {
			d.Detail = "Did you mean " + strconv.Quote(s) + "? " + d.Detail
			d.Suggestion = &diag.Suggestion{Message: "use " + s, Range: arg.Range(0, len(name)), Replacement: s}
		}
		return nil, diag.Diagnostics{d}
	}
	return &Target{Profile: p, Count: count, Source: "builtin"}, nil
}

// ResolveTarget settles the hardware of `whisperc plan`: the --target
// flag when given, else the program's target block (profile and count),
// else the detected machine (detect is called only then; nil or a failing
// detect plans for the CPU profile, with a warning).
func ResolveTarget(flag string, prog *compiler.Program, detect func() (*hw.Hardware, error)) (*Target, diag.Diagnostics) {
	if strings.TrimSpace(flag) != "" {
		t, ds := ParseTarget(flag, nil)
		return t, ds
	}
	if prog != nil && prog.Target != nil && prog.Target.Profile != "" {
		if p, ok := stdlib.LookupTarget(prog.Target.Profile); ok {
			return &Target{Profile: p, Count: max(prog.Target.Count, 1), Source: "builtin"}, nil
		}
		return nil, nil // the checker reported the unknown profile (E312)
	}
	if detect != nil {
		h, err := detect()
		if err == nil && h != nil {
			return FromHardware(h), nil
		}
		msg := "no hardware detection was available"
		if err != nil {
			msg = err.Error()
		}
		p, _ := stdlib.LookupTarget("cpu")
		return &Target{Profile: p, Count: 1, Source: "builtin"}, diag.Diagnostics{diag.Warningf(source.Range{}, "P104",
			"hardware detection failed: planning for the nominal CPU", msg+". Name a target with --target NAME.")}
	}
	return nil, nil
}

func allTargetNames() []string {
	var names []string
	for _, p := range stdlib.Targets() {
		names = append(names, p.Name)
		names = append(names, p.Aliases...)
	}
	return names
}

// FromHardware makes a target of the detected machine: its GPUs (the
// first GPU's model, matched to a built-in profile by memory and compute
// capability for the throughput figures the driver does not report), or
// the CPU when there is none.
func FromHardware(h *hw.Hardware) *Target {
	t := &Target{Source: "detected", Hardware: h, Count: 1}
	if h == nil {
		t.Profile, _ = stdlib.LookupTarget("cpu")
		return t
	}
	if len(h.GPUs) == 0 {
		p, _ := stdlib.LookupTarget("cpu")
		p.Name = "cpu"
		p.Description = h.CPU.Model
		if h.RAMBytes > 0 {
			p.MemoryBytes = h.RAMBytes
		}
		p.PeakTFLOPS = map[string]float64{"fp32": h.CPU.PeakFP32() / 1e12}
		p.Source = "detected: " + strconv.Itoa(h.CPU.Cores()) + " usable cores, " + strings.Join(h.CPU.Features, " ")
		t.Profile = p
		return t
	}
	g := h.GPUs[0]
	p := closestGPUProfile(g)
	p.Description = g.Name
	p.MemoryBytes = g.MemoryBytes
	p.ComputeCapability = g.ComputeCapability()
	p.BF16 = p.ComputeCapability >= 8.0
	p.FP8 = p.ComputeCapability >= 8.9
	p.Source = "detected by NVML; throughput from the " + p.Name + " profile"
	t.Profile = p
	t.Count = len(h.GPUs)
	return t
}

// closestGPUProfile picks the built-in GPU profile with the same compute
// capability and the nearest memory size (the A100 80GB for an unknown
// 80 GB CC 8.0 card), or the nearest compute capability otherwise.
func closestGPUProfile(g hw.GPU) stdlib.TargetProfile {
	var best stdlib.TargetProfile
	bestScore, found := 0.0, false
	for _, p := range stdlib.Targets() {
		if !p.GPU {
			continue
		}
		score := abs(p.ComputeCapability-g.ComputeCapability())*1e6 + abs(float64(p.MemoryBytes-g.MemoryBytes))/(1<<30)
		name := strings.ToLower(g.Name)
		for _, key := range strings.Split(p.Name, "-")[:1] {
			if strings.Contains(name, key) {
				score -= 1e5
			}
		}
		if !found || score < bestScore {
			best, bestScore, found = p, score, true
		}
	}
	return best
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// Device returns the cost model's view of one device of the target.
func (t *Target) Device() cost.Device {
	p := t.Profile
	d := cost.Device{Name: p.Name, GPU: p.GPU, Memory: p.MemoryBytes, Bandwidth: p.BandwidthBytes, Peak: map[cost.DType]float64{}}
	for name, v := range p.PeakTFLOPS {
		if dt, err := cost.ParseDType(name); err == nil {
			d.Peak[dt] = v * 1e12
		}
	}
	if p.GPU {
		d.ContextBytes = cost.DefaultGPUContext
	} else {
		d.CPU = t.CPU
	}
	return d
}
