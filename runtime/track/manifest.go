package track

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ManifestFormat is the format_version every manifest.json carries. A
// reader refuses other versions rather than guess.
const ManifestFormat = "whisperc-run/1"

// maxManifestBytes bounds what ReadManifest reads: a manifest holds the
// pipeline sources and the plan, which are small.
const maxManifestBytes = 64 << 20

// Status is how a run ended. The zero value is invalid.
type Status string

// The run statuses. StatusRunning is what the manifest says while the
// run is going; a reader that finds it on a run whose process is gone
// reports StatusInterrupted.
const (
	StatusRunning     Status = "running"
	StatusSucceeded   Status = "succeeded"
	StatusFailed      Status = "failed"
	StatusInterrupted Status = "interrupted"
)

func (s Status) valid() bool {
	switch s {
	case StatusRunning, StatusSucceeded, StatusFailed, StatusInterrupted:
		return true
	}
	return false
}

// Manifest is a run's record: what ran, on what, from which inputs, and
// what it produced. It is written as manifest.json when the run starts
// and rewritten (atomically) as stages end and when the run ends.
type Manifest struct {
	FormatVersion string `json:"format_version"`
	ID            string `json:"id"`
	Pipeline      string `json:"pipeline"`
	Status        Status `json:"status"`
	// Error is the failure or interruption, when Status says so.
	Error string `json:"error,omitempty"`

	Whisperc string    `json:"whisperc_version"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended,omitzero"`
	// Host and PID identify the process that writes the run, so that a
	// reader can tell a live run from one that was killed.
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// PIDStart is when that process started (Linux: /proc/PID/stat's
	// starttime), so that a later process reusing the pid is not taken
	// for the run's.
	PIDStart string `json:"pid_start,omitempty"`

	// Backends are the metric backends written besides metrics.jsonl.
	Backends []string `json:"backends"`
	// Log is what the track block asked to record.
	Log []string `json:"log"`

	Sources  []Source          `json:"sources"`
	Vars     map[string]string `json:"vars"`
	Plan     json.RawMessage   `json:"plan,omitempty"`
	Models   []FileRecord      `json:"models"`
	Datasets []FileRecord      `json:"datasets"`
	Git      *Git              `json:"git,omitempty"`
	Hardware json.RawMessage   `json:"hardware,omitempty"`
	Threads  int               `json:"threads"`

	// StartPeakBytes is the process's peak resident set before its first
	// stage began (start-up and planning; Linux VmHWM, 0 elsewhere): with
	// the stages' measured_peak_bytes, the peak of the whole process.
	StartPeakBytes int64 `json:"start_peak_bytes,omitempty"`

	Stages  []StageRecord `json:"stages"`
	Outputs []FileRecord  `json:"outputs"`
	// Final holds each metric's last value, keyed "stage/name".
	Final map[string]float64 `json:"final_metrics"`
	// Notes are things the run could not record, and why.
	Notes []string `json:"notes,omitempty"`
}

// Source is one .whisper file of the pipeline, with its text.
type Source struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Text   string `json:"text"`
}

// FileRecord is a model, dataset or output file and its content hashes.
type FileRecord struct {
	// Name is the declaration it belongs to (model, dataset, finetune).
	Name string `json:"name,omitempty"`
	// Stage is the stage that wrote an output, Kind what it is
	// (checkpoint, adapter, model, text, other).
	Stage  string `json:"stage,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	MD5    string `json:"md5,omitempty"`
	// Step is the training step of a checkpoint, 0 for a final output.
	Step int64 `json:"step,omitempty"`
	// Version says how the file is versioned and under which id.
	Version *VersionRecord `json:"version,omitempty"`
	// Changed says that a dataset's content differs from the previous
	// run of the same pipeline; Previous is that run's sha256.
	Changed  bool   `json:"changed,omitempty"`
	Previous string `json:"previous_sha256,omitempty"`
}

// VersionRecord is how one file is versioned.
type VersionRecord struct {
	// Kind is "dvc", "git_lfs" or "none".
	Kind string `json:"kind"`
	// ID is the version id: the md5 for DVC, "sha256:<oid>" for git-lfs.
	ID string `json:"id,omitempty"`
	// File is the .dvc file written, or the .gitattributes updated.
	File string `json:"file,omitempty"`
	// Cache is where the content was stored (DVC cache or LFS store), ""
	// when there is no DVC or git repository to hold it.
	Cache string `json:"cache,omitempty"`
	Note  string `json:"note,omitempty"`
}

// Git is the repository that holds the pipeline.
type Git struct {
	Root   string `json:"root"`
	Commit string `json:"commit"`
	Dirty  bool   `json:"dirty"`
}

// StageRecord is one stage: when it ran and what it measured next to
// what the plan predicted.
type StageRecord struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Status  Status    `json:"status"`
	Error   string    `json:"error,omitempty"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`

	PredictedPeakBytes   int64   `json:"predicted_peak_bytes,omitempty"`
	MeasuredPeakBytes    int64   `json:"measured_peak_bytes,omitempty"`
	PredictedStepSeconds float64 `json:"predicted_step_seconds,omitempty"`
	MeasuredStepSeconds  float64 `json:"measured_step_seconds,omitempty"`
	Steps                int64   `json:"steps,omitempty"`
}

// Duration returns how long the run took (until now for a running one).
func (m *Manifest) Duration() time.Duration {
	if m.Ended.IsZero() {
		return 0
	}
	return m.Ended.Sub(m.Started)
}

// StageKinds returns the distinct kinds of the run's stages in order.
func (m *Manifest) StageKinds() []string {
	var kinds []string
	seen := map[string]bool{}
	for _, s := range m.Stages {
		if !seen[s.Kind] {
			seen[s.Kind] = true
			kinds = append(kinds, s.Kind)
		}
	}
	return kinds
}

// writeManifest writes m to dir/manifest.json atomically: a temporary
// file in the same directory, synced, then renamed over the old one, so
// that a reader (or a crash) only ever sees a whole manifest.
func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "manifest.json"), append(b, '\n'))
}

// writeFileAtomic replaces name with data through a temporary file and a
// rename.
func writeFileAtomic(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// ManifestError is a manifest.json that cannot be used, with the reason.
type ManifestError struct {
	Path   string
	Reason string
}

func (e *ManifestError) Error() string {
	return fmt.Sprintf("%s: %s", e.Path, e.Reason)
}

// ReadManifest reads and validates dir/manifest.json. A missing file,
// malformed JSON, an unknown format version or missing fields give a
// *ManifestError saying which; a run still marked running whose process
// is gone is reported as interrupted.
func ReadManifest(dir string) (*Manifest, error) {
	name := filepath.Join(dir, "manifest.json")
	f, err := os.Open(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, serr := os.Stat(dir); serr != nil {
				return nil, &ManifestError{Path: dir, Reason: "the run directory does not exist"}
			}
			return nil, &ManifestError{Path: name, Reason: "the run directory has no manifest.json (not a whisperc run, or its start was cut off)"}
		}
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(b) > maxManifestBytes {
		return nil, &ManifestError{Path: name, Reason: fmt.Sprintf("the manifest is larger than %d MiB; it was not written by whisperc", maxManifestBytes>>20)}
	}
	m, err := parseManifest(b)
	if err != nil {
		return nil, &ManifestError{Path: name, Reason: err.Error()}
	}
	if m.Status == StatusRunning && !processAlive(m.Host, m.PID, m.PIDStart) {
		m.Status = StatusInterrupted
		if m.Error == "" {
			m.Error = "the process that ran it ended without completing the manifest (killed or crashed)"
		}
	}
	return m, nil
}

// parseManifest decodes and validates a manifest.
func parseManifest(b []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(b, max(se.Offset-1, 0)) // Offset is just past the bad byte
			return nil, fmt.Errorf("malformed JSON at line %d, column %d: %v (the manifest was edited or truncated)", line, col, se)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			line, col := lineCol(b, te.Offset)
			return nil, fmt.Errorf("field %q at line %d, column %d has the wrong type (%s, want %s)", te.Field, line, col, te.Value, te.Type)
		}
		return nil, fmt.Errorf("malformed manifest: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the manifest's JSON object")
	}
	switch {
	case m.FormatVersion == "":
		return nil, fmt.Errorf("no format_version: not a whisperc run manifest")
	case m.FormatVersion != ManifestFormat:
		return nil, fmt.Errorf("format_version %q is not %q, the one this whisperc reads", m.FormatVersion, ManifestFormat)
	case m.ID == "":
		return nil, fmt.Errorf("no run id")
	case m.Pipeline == "":
		return nil, fmt.Errorf("no pipeline name")
	case !m.Status.valid():
		return nil, fmt.Errorf("status %q is not one of running, succeeded, failed, interrupted", m.Status)
	case m.Started.IsZero():
		return nil, fmt.Errorf("no start time")
	}
	for _, s := range m.Sources {
		if sha256Hex([]byte(s.Text)) != s.SHA256 {
			return nil, fmt.Errorf("the recorded text of %s does not match its sha256 (the manifest was edited)", s.Path)
		}
	}
	return &m, nil
}

func lineCol(b []byte, off int64) (int, int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	line := 1 + bytes.Count(b[:off], []byte{'\n'})
	col := int(off) - bytes.LastIndexByte(b[:off], '\n')
	return line, col
}

// processAlive reports whether the process pid (started at start, when
// known) on host may still be running. A run from another host is assumed
// alive: we cannot tell.
func processAlive(host string, pid int, start string) bool {
	h, _ := os.Hostname()
	if host != h || pid <= 0 || pid == os.Getpid() {
		return true
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return true // no /proc: we cannot tell
	}
	now := processStart(pid)
	if now == "" {
		return false // no such process
	}
	if start != "" {
		return now == start
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.Contains(string(b), "whisperc") || strings.Contains(string(b), ".test")
}

// processStart returns the start time of process pid as /proc/PID/stat
// gives it (clock ticks since boot), or "" when there is no such process.
func processStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// starttime is field 22, the 20th after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return ""
	}
	return fields[19]
}
