package track

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Restored is one output Restore looked at.
type Restored struct {
	Path string `json:"path"`
	Step int64  `json:"step"`
	// Action is "present" (already on disk with the recorded hash) or
	// "restored" (copied back from From).
	Action string `json:"action"`
	From   string `json:"from,omitempty"`
}

// ParseRef splits "ID@STEP" (or "ID@stepN") into the id and the step;
// hasStep is false without an @.
func ParseRef(ref string) (id string, step int64, hasStep bool, err error) {
	id, s, ok := strings.Cut(ref, "@")
	if !ok {
		return id, 0, false, nil
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "step"), 10, 64)
	if err != nil || n < 0 {
		return id, 0, false, fmt.Errorf("%q: the part after @ must be a step number, such as %s@500 or %s@step500", ref, id, id)
	}
	return id, n, true, nil
}

// Restore brings back the outputs a run versioned (at the given step, or
// its final outputs) from the DVC cache or the git-lfs store, checking
// each copy against the recorded sha256. Files already present with the
// right content are left alone.
func Restore(root, ref string) ([]Restored, error) {
	id, step, hasStep, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	_, m, err := Find(root, id)
	if err != nil {
		return nil, err
	}
	var pick []FileRecord
	if hasStep {
		var steps []string
		for _, o := range m.Outputs {
			if o.Step == step {
				pick = append(pick, o)
			}
			steps = append(steps, strconv.FormatInt(o.Step, 10))
		}
		if len(pick) == 0 {
			return nil, fmt.Errorf("run %s has no output at step %d (its outputs are at steps %s)", m.ID, step, strings.Join(dedup(steps), ", "))
		}
	} else {
		last := int64(-1)
		for _, o := range m.Outputs {
			last = max(last, o.Step)
		}
		for _, o := range m.Outputs {
			if o.Step == 0 || (o.Step == last && !hasFinal(m.Outputs)) {
				pick = append(pick, o)
			}
		}
	}
	if len(pick) == 0 {
		return nil, fmt.Errorf("run %s recorded no outputs to restore", m.ID)
	}
	var out []Restored
	for _, o := range pick {
		r, err := restoreOne(o)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func hasFinal(os []FileRecord) bool {
	for _, o := range os {
		if o.Step == 0 {
			return true
		}
	}
	return false
}

func dedup(xs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func restoreOne(o FileRecord) (Restored, error) {
	r := Restored{Path: o.Path, Step: o.Step}
	if sum, err := fileSHA256(o.Path); err == nil && sum == o.SHA256 {
		r.Action = "present"
		return r, nil
	}
	if o.Version == nil || o.Version.Kind == "none" {
		return r, fmt.Errorf("%s is missing or changed and was not versioned (checkpoints = none); it cannot be restored", o.Path)
	}
	var cands []string
	if o.Version.Cache != "" {
		cands = append(cands, o.Version.Cache)
	}
	switch o.Version.Kind {
	case "dvc":
		if root := findUp(filepath.Dir(o.Path), ".dvc"); root != "" && len(o.MD5) == 32 {
			cands = append(cands, DVCCachePath(root, o.MD5))
		}
	case "git_lfs":
		if top := findUp(filepath.Dir(o.Path), ".git"); top != "" {
			cands = append(cands, LFSObjectPath(filepath.Join(top, ".git"), o.SHA256))
		}
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err != nil {
			continue
		}
		if err := copyChecked(c, o.Path, o.SHA256); err != nil {
			return r, err
		}
		r.Action, r.From = "restored", c
		return r, nil
	}
	where := "the DVC cache (.dvc/cache)"
	if o.Version.Kind == "git_lfs" {
		where = "the git-lfs store (.git/lfs/objects); try git lfs pull"
	}
	return r, fmt.Errorf("%s (%s %s) is not in %s", o.Path, o.Version.Kind, o.Version.ID, where)
}

// copyChecked copies src to dst through a temporary file and renames it
// into place only when its sha256 is want.
func copyChecked(src, dst, want string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".restore*")
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(tmp, h), in)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && hex.EncodeToString(h.Sum(nil)) != want {
		err = errors.New("the cached copy " + src + " does not have the recorded sha256 (the cache is corrupt)")
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("restoring %s: %w", dst, err)
	}
	return nil
}

func fileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
