package planner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/input"
	"github.com/modelwhisperer/whisperc/planner/hw"
)

// WriteJSON writes the plan as the versioned JSON document (spec/plan.md).
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// maxPlanBytes bounds what Load reads: plans are kilobytes to a few
// megabytes (per-layer graphs of 80-layer models).
const maxPlanBytes = 64 << 20

// ReadJSON reads a plan document, rejecting other format versions.
func ReadJSON(r io.Reader) (*Plan, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxPlanBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPlanBytes {
		return nil, fmt.Errorf("plan is larger than %d bytes", maxPlanBytes)
	}
	var head struct {
		FormatVersion string `json:"format_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("not a plan document: %w", err)
	}
	if head.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("plan format version %q, this whisperc reads %q; re-run whisperc plan", head.FormatVersion, FormatVersion)
	}
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("malformed plan: %w", err)
	}
	return &p, nil
}

// Load reads a saved plan from path.
func Load(path string) (*Plan, error) {
	f, _, err := input.Open(path, "saved plan")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := ReadJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if pv := p.Saved; pv != nil {
		dir := filepath.Dir(path)
		for _, list := range [][]FileHash{pv.Inputs, pv.Models, pv.Tokenizers} {
			for i := range list {
				if list[i].Path != "" && !filepath.IsAbs(list[i].Path) {
					list[i].Path = filepath.Join(dir, list[i].Path)
				}
			}
		}
	}
	return p, nil
}

// ProvenanceOf computes what a plan of prog on h depends on: the hardware
// fingerprint (when h is not nil), the resolved variables, and the sha256
// of every input file and local model file.
func ProvenanceOf(prog *compiler.Program, h *hw.Hardware) (*Provenance, error) {
	pv := &Provenance{Variables: map[string]string{}, Inputs: []FileHash{}}
	if h != nil {
		pv.HardwareFingerprint = h.Fingerprint()
	}
	if prog == nil {
		return pv, nil
	}
	for _, v := range prog.Variables {
		pv.Variables[v.Name] = valueText(v.Value)
	}
	for _, name := range prog.FileOrder {
		if f := prog.Files[name]; f != nil {
			pv.Inputs = append(pv.Inputs, hashBytes(name, f.Src))
		}
	}
	seen := map[string]bool{}
	for _, m := range prog.Models {
		if !m.Source.Scheme.IsFile() || seen[m.Source.Path] {
			continue
		}
		seen[m.Source.Path] = true
		fh, err := hashFile(m.Source.Path)
		if err != nil {
			return pv, err
		}
		pv.Models = append(pv.Models, fh)
		if m.Tokenizer != "" && !seen[m.Tokenizer] {
			seen[m.Tokenizer] = true
			th, err := hashFile(m.Tokenizer)
			if err != nil {
				return pv, err
			}
			pv.Tokenizers = append(pv.Tokenizers, th)
		}
	}
	return pv, nil
}

func valueText(v compiler.Value) string {
	switch v.Type {
	case compiler.VarString:
		return v.String
	case compiler.VarBool:
		return fmt.Sprint(v.Bool)
	case compiler.VarNumber, compiler.VarInt:
		return fmt.Sprint(v.Number)
	case compiler.VarInvalid:
		return ""
	}
	return v.Quantity.String()
}

func hashBytes(name string, b []byte) FileHash {
	s := sha256.Sum256(b)
	return FileHash{Path: name, SHA256: hex.EncodeToString(s[:]), Size: int64(len(b))}
}

// hashFile hashes a model file, or for a directory (safetensors) every
// file in it, in name order.
func hashFile(path string) (FileHash, error) {
	st, err := os.Stat(path)
	if err != nil {
		return FileHash{}, err
	}
	h := sha256.New()
	var size int64
	files := []string{path}
	if st.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			return FileHash{}, err
		}
		files = files[:0]
		for _, e := range ents {
			if e.Type().IsRegular() {
				files = append(files, path+string(os.PathSeparator)+e.Name())
			}
		}
		sort.Strings(files)
	}
	for _, name := range files {
		f, _, err := input.Open(name, "input file")
		if err != nil {
			return FileHash{}, err
		}
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return FileHash{}, err
		}
		size += n
	}
	return FileHash{Path: path, SHA256: hex.EncodeToString(h.Sum(nil)), Size: size}, nil
}

// Save records the plan's provenance and writes it to path.
func (p *Plan) Save(path string, prog *compiler.Program, h *hw.Hardware) error {
	pv, err := ProvenanceOf(prog, h)
	if err != nil {
		return err
	}
	// Paths relative to the plan file, so that whisperc run finds them
	// from any working directory.
	if dir, err := filepath.Abs(filepath.Dir(path)); err == nil {
		for _, list := range [][]FileHash{pv.Inputs, pv.Models, pv.Tokenizers} {
			for i := range list {
				if abs, err := filepath.Abs(list[i].Path); err == nil {
					if rel, err := filepath.Rel(dir, abs); err == nil {
						list[i].Path = rel
					}
				}
			}
		}
	}
	p.Saved = pv
	var buf bytes.Buffer
	if err := p.WriteJSON(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// Changes compares a saved plan's provenance with the current program and
// hardware and returns one sentence per difference ("hardware changed",
// "qlora.whisper changed", "model file ... changed", "variable lr: 2e-4 →
// 1e-4"); none means the plan still holds.
func (p *Plan) Changes(prog *compiler.Program, h *hw.Hardware) ([]string, error) {
	if p.Saved == nil {
		return []string{"the plan was not saved with its provenance"}, nil
	}
	now, err := ProvenanceOf(prog, h)
	if err != nil {
		return nil, err
	}
	var out []string
	old := p.Saved
	if old.HardwareFingerprint != "" && now.HardwareFingerprint != "" && old.HardwareFingerprint != now.HardwareFingerprint {
		out = append(out, "the hardware changed (fingerprint "+short(old.HardwareFingerprint)+" → "+short(now.HardwareFingerprint)+")")
	}
	out = append(out, diffHashes("input file", old.Inputs, now.Inputs)...)
	out = append(out, diffHashes("model file", old.Models, now.Models)...)
	out = append(out, diffHashes("tokenizer file", old.Tokenizers, now.Tokenizers)...)
	var names []string
	for k := range old.Variables {
		names = append(names, k)
	}
	for k := range now.Variables {
		if _, ok := old.Variables[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		a, aok := old.Variables[k]
		b, bok := now.Variables[k]
		switch {
		case !aok:
			out = append(out, fmt.Sprintf("variable %s added (%s)", k, b))
		case !bok:
			out = append(out, fmt.Sprintf("variable %s removed", k))
		case a != b:
			out = append(out, fmt.Sprintf("variable %s changed: %s → %s", k, a, b))
		}
	}
	return out, nil
}

func short(fp string) string {
	if len(fp) > 19 {
		return fp[:19]
	}
	return fp
}

func diffHashes(what string, old, now []FileHash) []string {
	var out []string
	cur := map[string]FileHash{}
	for _, f := range now {
		cur[absPath(f.Path)] = f
	}
	prev := map[string]bool{}
	for _, f := range old {
		prev[absPath(f.Path)] = true
		n, ok := cur[absPath(f.Path)]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s %s is no longer used", what, f.Path))
		case n.SHA256 != f.SHA256 && n.Size == f.Size:
			out = append(out, fmt.Sprintf("%s %s changed (same size, %d bytes, different content)", what, f.Path, f.Size))
		case n.SHA256 != f.SHA256:
			out = append(out, fmt.Sprintf("%s %s changed (%d → %d bytes)", what, f.Path, f.Size, n.Size))
		}
	}
	for _, f := range now {
		if !prev[absPath(f.Path)] {
			out = append(out, fmt.Sprintf("%s %s is new", what, f.Path))
		}
	}
	return out
}

// Edits compares a saved plan with fresh, the plan the planner makes now
// for the same program and machine, and returns one sentence per
// instruction that differs and that the runtime would not obey as written:
// the stages (their IDs, kinds, declarations, models, order and
// dependencies), their decisions and their quantisation. The graphs are
// not compared: the runtime executes an edited graph node by node or
// refuses it (runtime.EngineOptions, the quantize stage's check), and the
// predictions (memory, time) are not instructions.
func (p *Plan) Edits(fresh *Plan) []string {
	var out []string
	if len(p.Stages) != len(fresh.Stages) {
		return []string{fmt.Sprintf("it has %d stages where the program gives %d", len(p.Stages), len(fresh.Stages))}
	}
	for i := range p.Stages {
		a, b := &p.Stages[i], &fresh.Stages[i]
		if a.ID != b.ID || a.Kind != b.Kind || a.Decl != b.Decl || a.Model != b.Model || !sameStrings(a.After, b.After) {
			out = append(out, fmt.Sprintf("stage %d is %s (%s of %s, after %v) where the program gives %s (%s of %s, after %v)",
				i+1, a.ID, a.Kind, a.Model, a.After, b.ID, b.Kind, b.Model, b.After))
			continue
		}
		if !sameDecisions(a.Decisions, b.Decisions) {
			out = append(out, fmt.Sprintf("stage %s's decisions were edited; they record what the planner decided, so edit the .whisper file instead", a.ID))
		}
		if (a.Quantize == nil) != (b.Quantize == nil) {
			out = append(out, fmt.Sprintf("stage %s's quantisation was added or removed", a.ID))
		}
		if (a.Graph == nil) != (b.Graph == nil) {
			out = append(out, fmt.Sprintf("stage %s's graph was added or removed", a.ID))
		}
	}
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sameDecisions compares decisions by what was decided; effects and
// savings are predictions.
func sameDecisions(a, b []Decision) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].What != b[i].What || a[i].Choice != b[i].Choice || a[i].Requested != b[i].Requested || a[i].Rule != b[i].Rule {
			return false
		}
	}
	return true
}

// absPath returns p absolute and clean, for comparing paths written
// relative to different directories.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}
