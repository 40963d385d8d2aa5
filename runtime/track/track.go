// Package track records runs (methodology rule ML007) and versions their
// data and checkpoints (ML008).
//
// Start creates runs/<pipeline>/<run-id>/ under the track block's dir and
// writes manifest.json: the whisperc version, every pipeline source with
// its hash, the resolved variables, the plan, the hashes of every model
// and dataset file, the git commit, the hardware. As the run goes, the
// Run receives stage, metric and output events, appends metrics to
// metrics.jsonl and to the track block's backend (TensorBoard event files
// or an MLflow file store), versions outputs with DVC or git-lfs, and
// rewrites the manifest atomically at every stage end and at Finish. A
// run killed on the way leaves its last manifest, which readers report as
// interrupted once its process is gone.
//
// A write that fails (a full disk) makes the Run fail: Err returns the
// first failure, every later call returns it, and what was written before
// stays readable (half-written records are cut off).
package track

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/hw"
)

// Options is what Start needs besides the program and its plan.
type Options struct {
	// Version is the whisperc version string.
	Version string
	// Hardware is the detected machine, recorded as `whisperc hw --json`
	// prints it; nil leaves it out.
	Hardware *hw.Hardware
	// Threads is the number of threads the runtime computes with.
	Threads int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	// create opens an append-only file; tests inject failing writers.
	create func(name string) (appendFile, error)
}

// Run is one run being recorded. Its methods are safe to call from one
// goroutine at a time (the executor's); a mutex guards the rest.
type Run struct {
	// Dir is the run directory, runs/<pipeline>/<id>.
	Dir string
	// Root is the track directory holding every pipeline's runs.
	Root string

	mu       sync.Mutex
	m        *Manifest
	prog     *compiler.Program
	plan     *planner.Plan
	opts     Options
	hasher   *Hasher
	backends []backend
	stages   map[string]*stageState
	err      error
	finished bool
	// Report lists what the user should hear about: changed datasets,
	// versioning notes. The command prints it.
	Report []string
}

type stageState struct {
	// index is the stage's position in the manifest's Stages.
	index     int
	stepTimes []float64
	tokPerSec float64
	// maxStep is the highest step any per-step metric named.
	maxStep int64
}

// backend is one metrics destination.
type backend interface {
	metric(p Point) error
	finish(m *Manifest) error
}

// Point is one logged metric value.
type Point struct {
	Time  time.Time `json:"time"`
	Stage string    `json:"stage"`
	Name  string    `json:"name"`
	Unit  string    `json:"unit,omitempty"`
	// Step is the optimizer step or position; -1 for a whole-stage value.
	Step  int64   `json:"step"`
	Value float64 `json:"value"`
}

// Enabled reports whether prog asks for runs to be recorded: it has a
// track block.
func Enabled(prog *compiler.Program) bool { return prog != nil && prog.Track != nil }

// Root returns the program's track directory: the track block's dir, or
// runs/ next to the root file.
func Root(prog *compiler.Program) string {
	if prog.Track != nil && prog.Track.Dir != "" {
		return prog.Track.Dir
	}
	return filepath.Join(filepath.Dir(prog.Root), "runs")
}

// Start creates the run directory and writes the first manifest. It
// fails, before anything runs, when the track directory cannot be
// written or an input cannot be hashed.
func Start(ctx context.Context, prog *compiler.Program, plan *planner.Plan, opts Options) (*Run, error) {
	if !Enabled(prog) {
		return nil, errors.New("the pipeline has no track block")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.create == nil {
		opts.create = createAppend
	}
	root := Root(prog)
	pipeline := safeName(prog.Name)
	if err := os.MkdirAll(filepath.Join(root, pipeline), 0o755); err != nil {
		return nil, fmt.Errorf("track dir %s cannot be created: %w; set track { dir = ... } to a writable directory", root, unwrapPath(err))
	}
	now := opts.Now()
	dir, id, err := makeRunDir(filepath.Join(root, pipeline), now)
	if err != nil {
		return nil, fmt.Errorf("track dir %s is not writable: %w; set track { dir = ... } to a writable directory", root, unwrapPath(err))
	}
	r := &Run{Dir: dir, Root: root, prog: prog, plan: plan, opts: opts, hasher: NewHasher(root), stages: map[string]*stageState{}}
	host, _ := os.Hostname()
	m := &Manifest{
		FormatVersion: ManifestFormat, ID: id, Pipeline: pipeline, Status: StatusRunning,
		Whisperc: opts.Version, Started: now.UTC(), Host: host, PID: os.Getpid(), PIDStart: processStart(os.Getpid()),
		Vars: map[string]string{}, Threads: opts.Threads, Final: map[string]float64{},
		Backends: []string{}, Log: []string{}, Sources: []Source{}, Models: []FileRecord{},
		Datasets: []FileRecord{}, Stages: []StageRecord{}, Outputs: []FileRecord{},
	}
	r.m = m
	for _, l := range prog.Track.Log {
		m.Log = append(m.Log, l.String())
	}
	if err := r.describe(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := r.openBackends(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := writeManifest(dir, m); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return r, nil
}

// describe fills the manifest's provenance: sources, variables, plan,
// hashes, git and hardware.
func (r *Run) describe(ctx context.Context) error {
	m, prog := r.m, r.prog
	logs := prog.Track.Logs
	for _, name := range prog.FileOrder {
		if !logs(compiler.LogConfig) {
			m.Notes = append(m.Notes, "track.log leaves out config: the sources and the plan are not recorded")
			break
		}
		if f := prog.Files[name]; f != nil {
			m.Sources = append(m.Sources, Source{Path: name, SHA256: sha256Hex(f.Src), Text: string(f.Src)})
		}
	}
	for _, v := range prog.Variables {
		m.Vars[v.Name] = valueText(v.Value)
	}
	if r.plan != nil && logs(compiler.LogConfig) {
		var b bytes.Buffer
		if err := r.plan.WriteJSON(&b); err != nil {
			return fmt.Errorf("recording the plan: %w", err)
		}
		m.Plan = bytes.TrimSpace(b.Bytes())
	}
	if h := r.opts.Hardware; h != nil && logs(compiler.LogHardware) {
		var b bytes.Buffer
		if err := h.WriteJSON(&b); err != nil {
			return fmt.Errorf("recording the hardware: %w", err)
		}
		m.Hardware = bytes.TrimSpace(b.Bytes())
	}
	seen := map[string]bool{}
	for _, mod := range prog.Models {
		if !logs(compiler.LogModelHash) || !mod.Source.Scheme.IsFile() || seen[mod.Source.Path] {
			continue
		}
		seen[mod.Source.Path] = true
		recs, err := r.hashRecords(mod.Name, mod.Source.Path)
		if err != nil {
			// The load stage reports an unreadable model (E501).
			m.Notes = append(m.Notes, fmt.Sprintf("model %s not hashed: %v", mod.Name, err))
			continue
		}
		m.Models = append(m.Models, recs...)
		if mod.Tokenizer != "" && !seen[mod.Tokenizer] {
			seen[mod.Tokenizer] = true
			if recs, err := r.hashRecords(mod.Name+".tokenizer", mod.Tokenizer); err == nil {
				m.Models = append(m.Models, recs...)
			}
		}
	}
	prev := r.previousDatasets()
	for _, ds := range prog.Datasets {
		if ds.HF != "" || ds.Source == "" {
			m.Notes = append(m.Notes, fmt.Sprintf("dataset %s comes from the hub (%s); its content is not hashed", ds.Name, ds.Source))
			continue
		}
		recs, err := r.hashRecords(ds.Name, ds.Source)
		if err != nil {
			m.Notes = append(m.Notes, fmt.Sprintf("dataset %s not hashed: %v", ds.Name, err))
			r.Report = append(r.Report, fmt.Sprintf("dataset %s cannot be read, so it is neither hashed nor versioned: %v", ds.Name, err))
			continue
		}
		for i := range recs {
			rec := &recs[i]
			if p, ok := prev[rec.Path]; ok && p != rec.SHA256 {
				rec.Changed, rec.Previous = true, p
				r.Report = append(r.Report, fmt.Sprintf("dataset %s changed since the previous run: %s was %s, is %s", ds.Name, rec.Path, short(p), short(rec.SHA256)))
			}
			v, note, err := r.version(ds.Version, rec.Path, Digest{Size: rec.Size, SHA256: rec.SHA256, MD5: rec.MD5})
			if err != nil {
				return fmt.Errorf("versioning dataset %s: %w", ds.Name, err)
			}
			rec.Version = v
			if note != "" {
				r.Report = append(r.Report, note)
			}
		}
		m.Datasets = append(m.Datasets, recs...)
	}
	if logs(compiler.LogCommit) {
		g, err := gitInfo(ctx, filepath.Dir(prog.Root))
		switch {
		case err != nil:
			m.Notes = append(m.Notes, "git: "+err.Error())
		case g == nil:
			m.Notes = append(m.Notes, "the pipeline is not in a git repository; no commit recorded")
		default:
			m.Git = g
		}
	}
	return r.hasher.Save()
}

// hashRecords hashes a file or every file of a directory.
func (r *Run) hashRecords(name, path string) ([]FileRecord, error) {
	// Absolute paths, so that restore works from any directory.
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	names, ds, err := r.hasher.Files(path)
	if err != nil {
		return nil, err
	}
	recs := make([]FileRecord, len(names))
	for i, n := range names {
		recs[i] = FileRecord{Name: name, Path: n, Size: ds[i].Size, SHA256: ds[i].SHA256, MD5: ds[i].MD5}
	}
	return recs, nil
}

// previousDatasets returns the dataset hashes of the latest earlier run
// of the same pipeline, by path.
func (r *Run) previousDatasets() map[string]string {
	out := map[string]string{}
	runs, _ := List(r.Root)
	var last *Manifest
	for _, m := range runs {
		if m.Pipeline == r.m.Pipeline && m.ID < r.m.ID && (last == nil || m.ID > last.ID) {
			last = m
		}
	}
	if last != nil {
		for _, d := range last.Datasets {
			out[d.Path] = d.SHA256
		}
	}
	return out
}

// Manifest returns a copy of the manifest as it stands.
func (r *Run) Manifest() Manifest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return *r.m
}

// Err returns the first failure to record, or nil.
func (r *Run) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// fail records the first failure and returns it.
func (r *Run) fail(err error) error {
	if r.err == nil {
		r.err = fmt.Errorf("recording run %s failed: %w", r.m.ID, err)
	}
	return r.err
}

// StageStarted records the start of stage st.
func (r *Run) StageStarted(st *planner.Stage, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := StageRecord{ID: st.ID, Kind: string(st.Kind), Status: StatusRunning, Started: t.UTC()}
	if st.Memory != nil {
		rec.PredictedPeakBytes = st.Memory.TotalBytes
	}
	if st.Time != nil {
		rec.PredictedStepSeconds = st.Time.StepSeconds
	}
	if len(r.m.Stages) == 0 {
		r.m.StartPeakBytes = peakMemory()
	}
	r.m.Stages = append(r.m.Stages, rec)
	r.stages[st.ID] = &stageState{index: len(r.m.Stages) - 1}
	resetPeakMemory()
}

// Metric logs one metric value to every backend.
func (r *Run) Metric(p Point) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
		// JSON has no NaN; record the fact as a note, not a number.
		r.m.Notes = append(r.m.Notes, fmt.Sprintf("%s/%s at step %d was %v", p.Stage, p.Name, p.Step, p.Value))
		return nil
	}
	p.Time = p.Time.UTC()
	if r.prog.Track.Logs(compiler.LogMetrics) {
		for _, b := range r.backends {
			if err := b.metric(p); err != nil {
				return r.fail(err)
			}
		}
	}
	r.m.Final[p.Stage+"/"+p.Name] = p.Value
	if s := r.stages[p.Stage]; s != nil {
		s.maxStep = max(s.maxStep, p.Step)
		switch p.Name {
		case "step_seconds":
			s.stepTimes = append(s.stepTimes, p.Value)
		case "tokens_per_second":
			s.tokPerSec = p.Value
		}
	}
	return nil
}

// StageFinished records the end of a stage and rewrites the manifest.
func (r *Run) StageFinished(st *planner.Stage, err error, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stages[st.ID]
	if s == nil {
		return
	}
	rec := &r.m.Stages[s.index]
	rec.Ended = t.UTC()
	rec.Status = StatusSucceeded
	if err != nil {
		rec.Status, rec.Error = StatusFailed, err.Error()
		if errors.Is(err, context.Canceled) {
			rec.Status = StatusInterrupted
		}
	}
	rec.MeasuredPeakBytes = peakMemory()
	switch {
	case len(s.stepTimes) > 0:
		rec.Steps = int64(len(s.stepTimes))
		rec.MeasuredStepSeconds = median(s.stepTimes)
	case s.tokPerSec > 0:
		rec.MeasuredStepSeconds = 1 / s.tokPerSec
	case s.maxStep > 0:
		// Per-step metrics without step times: the stage's mean.
		rec.Steps = s.maxStep
		rec.MeasuredStepSeconds = rec.Ended.Sub(rec.Started).Seconds() / float64(s.maxStep)
	}
	if r.err == nil {
		if werr := writeManifest(r.Dir, r.m); werr != nil {
			r.fail(werr)
		}
	}
}

// Finish ends the run: runErr is the run's failure (nil on success; a
// context cancellation marks it interrupted). It completes the manifest
// atomically and closes the backends, and returns the first recording
// failure of the whole run.
func (r *Run) Finish(runErr error, t time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return r.err
	}
	r.finished = true
	m := r.m
	m.Ended = t.UTC()
	switch {
	case runErr == nil && r.err == nil:
		m.Status = StatusSucceeded
	case runErr != nil && (errors.Is(runErr, context.Canceled) || errors.Is(runErr, context.DeadlineExceeded)):
		m.Status, m.Error = StatusInterrupted, runErr.Error()
	case runErr != nil:
		m.Status, m.Error = StatusFailed, runErr.Error()
	default:
		m.Status, m.Error = StatusFailed, r.err.Error()
	}
	for _, b := range r.backends {
		if err := b.finish(m); err != nil {
			r.fail(err)
		}
	}
	if r.err != nil && m.Status == StatusSucceeded {
		m.Status, m.Error = StatusFailed, r.err.Error()
	}
	if err := writeManifest(r.Dir, m); err != nil {
		r.fail(err)
	}
	if err := r.hasher.Save(); err != nil && r.err == nil {
		m.Notes = append(m.Notes, "hash cache: "+err.Error())
	}
	return r.err
}

// makeRunDir creates a new run directory under dir with a fresh id,
// retrying on the (unlikely) collision with a concurrent run.
func makeRunDir(dir string, now time.Time) (string, string, error) {
	for i := 0; i < 16; i++ {
		id := NewID(now)
		p := filepath.Join(dir, id)
		err := os.Mkdir(p, 0o755)
		if err == nil {
			return p, id, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", "", err
		}
	}
	return "", "", fmt.Errorf("could not find a free run id in %s", dir)
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// safeName turns a pipeline name into a directory name.
func safeName(s string) string {
	s = unsafeChars.ReplaceAllString(s, "_")
	if s == "" || s == "." || s == ".." {
		return "pipeline"
	}
	return s
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
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

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func short(h string) string {
	h = strings.TrimPrefix(h, "sha256:")
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
