package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"slices"

	"github.com/klauspost/cpuid/v2"

	"github.com/modelwhisperer/whisperc/lang/diag"
)

// savedVersion is the version of the saved-plan format.
const savedVersion = 1

// hashPrefix bounds how much of an input file is hashed: model files run
// to many gigabytes, so a large file is identified by its size and the
// hash of its first hashPrefix bytes (header and first tensors).
const hashPrefix = 4 << 20

// Saved is a plan written to disk with what it was made for: the
// hardware's fingerprint and the hash of every input file, so that a stale
// plan is refused rather than trusted.
type Saved struct {
	Version  int     `json:"version"`
	Hardware string  `json:"hardware"`
	Inputs   []Input `json:"inputs"`
	Plan     *Plan   `json:"plan"`
}

// Input is one input file and its hash.
type Input struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // of the first hashPrefix bytes
}

// Fingerprint identifies this machine as far as plans care: architecture,
// CPU model, logical cores and total memory (in GiB). The planner's
// detection adds its GPUs when it lands.
func Fingerprint() string {
	return fmt.Sprintf("%s/%s; %s; %d cpus; %d GiB", goruntime.GOOS, goruntime.GOARCH, cpuid.CPU.BrandName, cpuid.CPU.LogicalCores, totalRAM()>>30)
}

// hashInput returns the Input record of path.
func hashInput(path string) (Input, error) {
	f, err := os.Open(path)
	if err != nil {
		return Input{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Input{}, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, hashPrefix)); err != nil {
		return Input{}, err
	}
	return Input{Path: path, Size: fi.Size(), SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Save writes p as a saved plan recording this machine's fingerprint and
// the hashes of files (the .whisper sources) and of every model and
// tokenizer file the plan reads.
func Save(w io.Writer, p *Plan, files []string) error {
	paths := slices.Clone(files)
	for _, st := range p.Stages {
		paths = append(paths, st.Model.Path)
		if st.Model.Tokenizer != "" {
			paths = append(paths, st.Model.Tokenizer)
		}
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	s := Saved{Version: savedVersion, Hardware: Fingerprint(), Plan: p}
	for _, path := range paths {
		in, err := hashInput(path)
		if err != nil {
			return fmt.Errorf("hashing plan input: %w", err)
		}
		s.Inputs = append(s.Inputs, in)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// Load reads a saved plan. It checks the format, not freshness; see Check.
func Load(r io.Reader) (*Saved, error) {
	var s Saved
	dec := json.NewDecoder(io.LimitReader(r, 64<<20))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("reading saved plan: %w", err)
	}
	if s.Version != savedVersion {
		return nil, fmt.Errorf("saved plan has format version %d; this whisperc reads version %d", s.Version, savedVersion)
	}
	if s.Plan == nil {
		return nil, fmt.Errorf("saved plan has no plan")
	}
	return &s, nil
}

// Check reports E504 for each way the saved plan is stale on this
// machine: a different hardware fingerprint, or an input file that is
// missing or whose size or hash changed.
func (s *Saved) Check() diag.Diagnostics {
	var ds diag.Diagnostics
	if hw := Fingerprint(); hw != s.Hardware {
		ds = append(ds, &diag.Diagnostic{Severity: diag.Error, Code: "E504", Summary: "Saved plan is for other hardware",
			Detail: fmt.Sprintf("The plan was made for %q but this machine is %q, so its memory and time predictions do not hold here. Plan again on this machine, or run the .whisper file directly.", s.Hardware, hw)})
	}
	for _, in := range s.Inputs {
		now, err := hashInput(in.Path)
		switch {
		case err != nil:
			ds = append(ds, &diag.Diagnostic{Severity: diag.Error, Code: "E504", Summary: "Saved plan input is missing",
				Detail: fmt.Sprintf("The plan reads %s, which cannot be opened now (%v). Restore the file or plan again.", in.Path, err)})
		case now.Size != in.Size || now.SHA256 != in.SHA256:
			ds = append(ds, &diag.Diagnostic{Severity: diag.Error, Code: "E504", Summary: "Saved plan input changed",
				Detail: fmt.Sprintf("%s changed since the plan was made (size %d → %d, sha256 %.12s… → %.12s…). Plan again so that the plan matches the inputs.", in.Path, in.Size, now.Size, in.SHA256, now.SHA256)})
		}
	}
	return ds
}
