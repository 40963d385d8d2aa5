package track

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MLflow's file store (what `mlflow ui --backend-store-uri ./mlruns`
// reads):
//
//	mlruns/<experiment id>/meta.yaml            the experiment
//	mlruns/<experiment id>/<run id>/meta.yaml   the run's RunInfo
//	.../<run id>/params/<key>                   the value, as text
//	.../<run id>/metrics/<key>                  "<ms> <value> <step>" lines
//	.../<run id>/tags/<key>                     the value, as text
//	.../<run id>/artifacts/                     files
//
// The experiment is the track block's project, else the pipeline name.

// MLflow run statuses (mlflow.entities.RunStatus) and source type LOCAL.
const (
	mlflowRunning  = 1
	mlflowFinished = 3
	mlflowFailed   = 4
	mlflowKilled   = 5
	mlflowLocal    = 4
)

type mlflowBackend struct {
	runDir  string // mlruns/<exp>/<run>
	expID   string
	runID   string
	name    string
	start   time.Time
	user    string
	metrics map[string]*recordWriter
	create  func(string) (appendFile, error)
}

func openMLflow(r *Run) (*mlflowBackend, error) {
	root, err := filepath.Abs(filepath.Join(r.Root, "mlruns"))
	if err != nil {
		return nil, err
	}
	exp := r.prog.Track.Project
	if exp == "" {
		exp = r.m.Pipeline
	}
	now := r.opts.Now()
	expID, err := mlflowExperiment(root, exp, now)
	if err != nil {
		return nil, fmt.Errorf("mlflow store %s: %w", root, err)
	}
	var id [16]byte
	rand.Read(id[:])
	b := &mlflowBackend{expID: expID, runID: hex.EncodeToString(id[:]), name: r.m.ID, start: now,
		metrics: map[string]*recordWriter{}, create: r.opts.create, user: "unknown"}
	if u, err := user.Current(); err == nil {
		b.user = u.Username
	}
	b.runDir = filepath.Join(root, expID, b.runID)
	for _, d := range []string{"params", "metrics", "tags", "artifacts"} {
		if err := os.MkdirAll(filepath.Join(b.runDir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := b.writeMeta(mlflowRunning, time.Time{}); err != nil {
		return nil, err
	}
	params := map[string]string{"pipeline": r.m.Pipeline, "whisperc_version": r.m.Whisperc}
	for k, v := range r.m.Vars {
		params["var."+k] = v
	}
	if r.plan != nil {
		for _, st := range r.plan.Stages {
			for _, d := range st.Decisions {
				params[st.ID+"."+d.What] = d.Choice
			}
		}
	}
	tags := map[string]string{
		"mlflow.runName": r.m.ID, "mlflow.user": b.user, "mlflow.source.type": "LOCAL",
		"mlflow.source.name": r.prog.Root, "whisperc.run_dir": r.Dir,
	}
	if r.m.Git != nil {
		tags["mlflow.source.git.commit"] = r.m.Git.Commit
	}
	for dir, kv := range map[string]map[string]string{"params": params, "tags": tags} {
		for k, v := range kv {
			if err := writeFileAtomic(filepath.Join(b.runDir, dir, mlflowKey(k)), []byte(v)); err != nil {
				return nil, err
			}
		}
	}
	return b, nil
}

var mlflowUnsafe = regexp.MustCompile(`[^A-Za-z0-9_\-. /]`)

// mlflowKey keeps a key within MLflow's allowed characters (letters,
// digits, _ - . space /) and length.
func mlflowKey(k string) string {
	k = mlflowUnsafe.ReplaceAllString(k, "_")
	if len(k) > 250 {
		k = k[:250]
	}
	return k
}

// mlflowExperiment finds the experiment called name under root, or
// creates it with the next free numeric id (and the Default experiment 0
// that MLflow expects in a new store).
func mlflowExperiment(root, name string, now time.Time) (string, error) {
	if err := os.MkdirAll(filepath.Join(root, ".trash"), 0o755); err != nil {
		return "", err
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return "", err
	}
	maxID := -1
	for _, e := range ents {
		id, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		maxID = max(maxID, id)
		b, err := os.ReadFile(filepath.Join(root, e.Name(), "meta.yaml"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "name: "); ok && yamlUnquote(v) == name {
				return e.Name(), nil
			}
		}
	}
	if maxID < 0 {
		if _, err := makeExperiment(root, 0, "Default", now); err != nil {
			return "", err
		}
		maxID = 0
		if name == "Default" {
			return "0", nil
		}
	}
	for id := maxID + 1; id < maxID+100; id++ {
		dir, err := makeExperiment(root, id, name, now)
		if errors.Is(err, os.ErrExist) {
			continue // a concurrent run took this id
		}
		return dir, err
	}
	return "", errors.New("no free experiment id")
}

func makeExperiment(root string, id int, name string, now time.Time) (string, error) {
	sid := strconv.Itoa(id)
	dir := filepath.Join(root, sid)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	ms := now.UnixMilli()
	meta := fmt.Sprintf("artifact_location: %s\ncreation_time: %d\nexperiment_id: %s\nlast_update_time: %d\nlifecycle_stage: active\nname: %s\n",
		yamlQuote(fileURI(dir)), ms, yamlQuote(sid), ms, yamlQuote(name))
	return sid, writeFileAtomic(filepath.Join(dir, "meta.yaml"), []byte(meta))
}

func (b *mlflowBackend) writeMeta(status int, end time.Time) error {
	endText := "null"
	if !end.IsZero() {
		endText = strconv.FormatInt(end.UnixMilli(), 10)
	}
	meta := fmt.Sprintf(`artifact_uri: %s
end_time: %s
entry_point_name: ''
experiment_id: %s
lifecycle_stage: active
run_id: %s
run_name: %s
run_uuid: %s
source_name: ''
source_type: %d
source_version: ''
start_time: %d
status: %d
tags: []
user_id: %s
`, yamlQuote(fileURI(filepath.Join(b.runDir, "artifacts"))), endText, yamlQuote(b.expID), b.runID, yamlQuote(b.name), b.runID,
		mlflowLocal, b.start.UnixMilli(), status, yamlQuote(b.user))
	return writeFileAtomic(filepath.Join(b.runDir, "meta.yaml"), []byte(meta))
}

func (b *mlflowBackend) metric(p Point) error {
	key := mlflowKey(tagOf(p))
	w := b.metrics[key]
	if w == nil {
		name := filepath.Join(b.runDir, "metrics", key)
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		f, err := b.create(name)
		if err != nil {
			return err
		}
		w = &recordWriter{f: f, name: name}
		b.metrics[key] = w
	}
	step := max(p.Step, 0)
	return w.write([]byte(fmt.Sprintf("%d %s %d\n", p.Time.UnixMilli(), strconv.FormatFloat(p.Value, 'g', -1, 64), step)))
}

func (b *mlflowBackend) finish(m *Manifest) error {
	var errs []error
	keys := make([]string, 0, len(b.metrics))
	for k := range b.metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := b.metrics[k].close(); err != nil {
			errs = append(errs, err)
		}
	}
	status := mlflowFinished
	switch m.Status {
	case StatusFailed:
		status = mlflowFailed
	case StatusInterrupted:
		status = mlflowKilled
	}
	if err := b.writeMeta(status, m.Ended); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func fileURI(path string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
}

// yamlQuote writes s as a single-quoted YAML scalar.
func yamlQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// yamlUnquote reads back a scalar yamlQuote (or MLflow) wrote.
func yamlUnquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
	}
	return s
}
