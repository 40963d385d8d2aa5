package track

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/runtime/observe"
)

// pipeline writes a .whisper file (with a dataset file beside it) into a
// fresh directory and checks it.
func pipeline(t *testing.T, track, extra string) (*compiler.Program, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "chat.jsonl"), []byte(`{"text":"hello"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`variable lr {
  default = 0.0002
}

dataset chat {
  source = "chat.jsonl"
  format = jsonl
  field  = "text"
}

%s

%s
`, track, extra)
	name := filepath.Join(dir, "p.whisper")
	if err := os.WriteFile(name, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	prog, ds := compiler.Check(name, compiler.Options{Vars: map[string]string{"lr": "0.001"}})
	if ds.HasErrors() {
		t.Fatalf("pipeline does not check:\n%v", ds)
	}
	return prog, dir
}

func stage(id string, kind planner.StageKind) *planner.Stage {
	return &planner.Stage{ID: id, Kind: kind, Time: &planner.StageTime{StepSeconds: 0.5}, Memory: &planner.DeviceMemory{TotalBytes: 1 << 20}}
}

func TestRunRecord(t *testing.T) {
	prog, dir := pipeline(t, `track {
  backend = jsonl
}`, "")
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	r, err := Start(context.Background(), prog, &planner.Plan{FormatVersion: "1", Pipeline: "p"}, Options{Version: "test-1", Threads: 3, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "runs", "p"); filepath.Dir(r.Dir) != want {
		t.Errorf("run dir %s, want under %s", r.Dir, want)
	}
	// The manifest exists from the start, marked running.
	m, err := ReadManifest(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != StatusRunning || m.Whisperc != "test-1" || m.Threads != 3 || m.Vars["lr"] != "0.001" {
		t.Errorf("start manifest: status %s, version %q, threads %d, vars %v", m.Status, m.Whisperc, m.Threads, m.Vars)
	}
	if len(m.Sources) != 1 || !strings.Contains(m.Sources[0].Text, "dataset chat") {
		t.Errorf("sources = %+v", m.Sources)
	}
	if len(m.Datasets) != 1 || m.Datasets[0].MD5 != md5Hex(`{"text":"hello"}`+"\n") {
		t.Errorf("datasets = %+v", m.Datasets)
	}
	if !bytes.Contains(m.Plan, []byte(`"pipeline": "p"`)) {
		t.Errorf("plan not recorded: %s", m.Plan)
	}

	st := stage("train.sft", planner.StageTrain)
	r.StageStarted(st, at)
	for step := int64(1); step <= 3; step++ {
		if err := r.Metric(Point{Time: at, Stage: st.ID, Name: "loss", Step: step, Value: 3 - float64(step)/2}); err != nil {
			t.Fatal(err)
		}
		if err := r.Metric(Point{Time: at, Stage: st.ID, Name: "step_seconds", Step: step, Value: float64(step)}); err != nil {
			t.Fatal(err)
		}
	}
	r.StageFinished(st, nil, at.Add(time.Second))
	if err := r.Finish(nil, at.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	m, err = ReadManifest(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != StatusSucceeded || m.Duration() != 2*time.Second {
		t.Errorf("end manifest: status %s, duration %s", m.Status, m.Duration())
	}
	s := m.Stages[0]
	if s.Status != StatusSucceeded || s.Steps != 3 || s.MeasuredStepSeconds != 2 || s.PredictedStepSeconds != 0.5 || s.PredictedPeakBytes != 1<<20 {
		t.Errorf("stage record = %+v", s)
	}
	if goruntime.GOOS == "linux" && (m.StartPeakBytes <= 0 || s.MeasuredPeakBytes <= 0) {
		t.Errorf("peaks: %d bytes before the first stage, %d in it; want both measured on Linux", m.StartPeakBytes, s.MeasuredPeakBytes)
	}
	if m.Final["train.sft/loss"] != 1.5 {
		t.Errorf("final loss = %v", m.Final["train.sft/loss"])
	}
	pts, err := ReadPoints(r.Dir)
	if err != nil || len(pts) != 6 || pts[4].Name != "loss" || pts[4].Value != 1.5 || pts[4].Step != 3 {
		t.Errorf("points = %+v, %v", pts, err)
	}
	series := SeriesOf(m.ID, pts, []string{"loss"})
	if len(series) != 1 || len(series[0].Steps) != 3 {
		t.Errorf("series = %+v", series)
	}
	var png bytes.Buffer
	if err := Plot(&png, "png", "loss", series); err != nil || !bytes.HasPrefix(png.Bytes(), []byte("\x89PNG")) {
		t.Errorf("plot: %v (%d bytes)", err, png.Len())
	}

	// A second run finds the dataset changed since this one.
	if err := os.WriteFile(filepath.Join(dir, "chat.jsonl"), []byte(`{"text":"bye"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r2, err := Start(context.Background(), prog, nil, Options{Now: func() time.Time { return at.Add(time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	r2.Finish(errors.New("stage failed"), at.Add(2*time.Minute))
	m2, err := ReadManifest(r2.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if !m2.Datasets[0].Changed || m2.Datasets[0].Previous != m.Datasets[0].SHA256 || len(r2.Report) != 1 {
		t.Errorf("changed dataset not reported: %+v, report %q", m2.Datasets[0], r2.Report)
	}
	if m2.Status != StatusFailed || m2.Error != "stage failed" {
		t.Errorf("failed run: %s %q", m2.Status, m2.Error)
	}
	diff := Diff(m, m2)
	var whats []string
	for _, c := range diff {
		whats = append(whats, c.What)
	}
	joined := strings.Join(whats, "|")
	for _, want := range []string{"status", "dataset chat chat.jsonl", "metric train.sft/loss"} {
		if !strings.Contains(joined, want) {
			t.Errorf("diff lacks %q: %s", want, joined)
		}
	}
	runs, bad := List(filepath.Join(dir, "runs"))
	if len(runs) != 2 || len(bad) != 0 || runs[0].ID != m.ID {
		t.Errorf("List = %d runs, %v", len(runs), bad)
	}
	if _, _, err := Find(filepath.Join(dir, "runs"), m2.ID[:len(m2.ID)-2]); err != nil {
		t.Errorf("prefix lookup: %v", err)
	}
}

func md5Hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestConcurrentRuns starts many runs of one pipeline in the same second:
// each gets its own directory and manifest.
func TestConcurrentRuns(t *testing.T) {
	prog, dir := pipeline(t, "track {\n  backend = jsonl\n}", "")
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	const n = 24
	dirs := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := Start(context.Background(), prog, nil, Options{Now: func() time.Time { return at }})
			if err != nil {
				t.Error(err)
				return
			}
			r.Metric(Point{Stage: "s", Name: "loss", Step: int64(i), Value: float64(i)})
			r.Finish(nil, at)
			dirs[i] = r.Dir
		}(i)
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, d := range dirs {
		if seen[d] {
			t.Fatalf("two runs share %s", d)
		}
		seen[d] = true
	}
	runs, bad := List(filepath.Join(dir, "runs"))
	if len(runs) != n || len(bad) != 0 {
		t.Fatalf("List: %d runs, errors %v", len(runs), bad)
	}
	for _, m := range runs {
		pts, err := ReadPoints(filepath.Join(dir, "runs", "p", m.ID))
		if err != nil || len(pts) != 1 {
			t.Errorf("run %s: %d points, %v", m.ID, len(pts), err)
		}
	}
}

// TestKilledRun: a run whose process died leaves a readable manifest that
// reads back as interrupted.
func TestKilledRun(t *testing.T) {
	prog, _ := pipeline(t, "track {\n  backend = jsonl\n}", "")
	r, err := Start(context.Background(), prog, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Pretend another, now dead, process wrote it.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true command:", err)
	}
	r.m.PID = cmd.Process.Pid
	if err := writeManifest(r.Dir, r.m); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != StatusInterrupted || !strings.Contains(m.Error, "killed") {
		t.Errorf("status %s, error %q", m.Status, m.Error)
	}
	// A live process that reuses the pid (another start time) is not the
	// run's.
	r.m.PID, r.m.PIDStart = os.Getppid(), "1"
	if err := writeManifest(r.Dir, r.m); err != nil {
		t.Fatal(err)
	}
	if m, err := ReadManifest(r.Dir); err != nil || m.Status != StatusInterrupted {
		t.Errorf("pid reused: %v, %v", m.Status, err)
	}
	r.m.PIDStart = processStart(os.Getppid())
	writeManifest(r.Dir, r.m)
	if m, err := ReadManifest(r.Dir); err != nil || m.Status != StatusRunning {
		t.Errorf("live process: %v, %v", m.Status, err)
	}
	// An interrupt (context cancelled) is recorded as such.
	r2, err := Start(context.Background(), prog, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r2.Finish(fmt.Errorf("stage: %w", context.Canceled), time.Now())
	if m, _ := ReadManifest(r2.Dir); m == nil || m.Status != StatusInterrupted {
		t.Errorf("cancelled run: %+v", m)
	}
}

func TestBadManifests(t *testing.T) {
	prog, dir := pipeline(t, "track {\n  backend = jsonl\n}", "")
	r, err := Start(context.Background(), prog, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.Finish(nil, time.Now())
	good, err := os.ReadFile(filepath.Join(r.Dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, content, want string
	}{
		{"truncated", string(good[:len(good)/2]), "malformed"},
		{"garbage", "not json", "malformed JSON at line 1"},
		{"wrong type", strings.Replace(string(good), `"threads": `, `"threads": "x", "old": `, 1), `field "threads"`},
		{"version", strings.Replace(string(good), ManifestFormat, "whisperc-run/99", 1), "format_version"},
		{"status", strings.Replace(string(good), `"status": "succeeded"`, `"status": "great"`, 1), "status"},
		{"edited source", strings.Replace(string(good), `backend = jsonl`, `backend = mlflow`, 1), "does not match its sha256"},
		{"trailing", string(good) + "{}", "data after"},
		{"empty", "", "malformed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(r.Dir, "manifest.json"), []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadManifest(r.Dir)
			var me *ManifestError
			if !errors.As(err, &me) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "manifest.json") {
				t.Errorf("error %v, want a ManifestError about %q", err, c.want)
			}
			runs, bad := List(filepath.Join(dir, "runs"))
			if len(runs) != 0 || len(bad) != 1 {
				t.Errorf("List: %d runs, %v", len(runs), bad)
			}
		})
	}
	if _, err := ReadManifest(filepath.Join(dir, "runs", "p", "nope")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing run dir: %v", err)
	}
	if _, bad := List(filepath.Join(dir, "nowhere")); len(bad) != 1 || !strings.Contains(bad[0].Error(), "nowhere") {
		t.Errorf("missing track dir: %v", bad)
	}
}

// TestUnwritableDir: a track dir that cannot be created fails Start with
// a message naming it, before anything runs.
func TestUnwritableDir(t *testing.T) {
	prog, dir := pipeline(t, "track {\n  backend = jsonl\n  dir = \"blocked/runs\"\n}", "")
	if err := os.WriteFile(filepath.Join(dir, "blocked"), []byte("a file, not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), prog, nil, Options{})
	if err == nil || !strings.Contains(err.Error(), "blocked") || !strings.Contains(err.Error(), "writable directory") {
		t.Fatalf("err = %v", err)
	}
}

// failingFile accepts limit bytes, then writes part of the next record
// and fails with ENOSPC, as a full disk does.
type failingFile struct {
	f     *os.File
	limit int
}

func (w *failingFile) Write(b []byte) (int, error) {
	if len(b) <= w.limit {
		w.limit -= len(b)
		return w.f.Write(b)
	}
	n, _ := w.f.Write(b[:len(b)/2])
	w.limit = 0
	return n, &os.PathError{Op: "write", Path: w.f.Name(), Err: syscall.ENOSPC}
}
func (w *failingFile) Truncate(n int64) error { return w.f.Truncate(n) }
func (w *failingFile) Sync() error            { return w.f.Sync() }
func (w *failingFile) Close() error           { return w.f.Close() }

// TestDiskFull: a write that fails half-way fails the run loudly and
// leaves every file readable: whole records only, a valid manifest.
func TestDiskFull(t *testing.T) {
	for _, backend := range []string{"jsonl", "tensorboard", "mlflow"} {
		t.Run(backend, func(t *testing.T) {
			prog, _ := pipeline(t, "track {\n  backend = "+backend+"\n}", "")
			create := func(name string) (appendFile, error) {
				f, err := createAppend(name)
				if err != nil {
					return nil, err
				}
				return &failingFile{f: f.(*os.File), limit: 900}, nil
			}
			r, err := Start(context.Background(), prog, nil, Options{create: create})
			if err != nil {
				t.Fatal(err)
			}
			st := stage("train.sft", planner.StageTrain)
			r.StageStarted(st, time.Now())
			var werr error
			for step := int64(0); step < 100 && werr == nil; step++ {
				werr = r.Metric(Point{Time: time.Now(), Stage: st.ID, Name: "loss", Step: step, Value: 1 / float64(step+1)})
			}
			if werr == nil || !errors.Is(werr, syscall.ENOSPC) || r.Err() == nil {
				t.Fatalf("a failing write was not reported: %v", werr)
			}
			if err := r.Metric(Point{Stage: st.ID, Name: "loss", Step: 200}); err == nil {
				t.Error("a metric after the failure was accepted")
			}
			r.StageFinished(st, nil, time.Now())
			if err := r.Finish(nil, time.Now()); err == nil {
				t.Error("Finish did not return the recording failure")
			}
			m, err := ReadManifest(r.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != StatusFailed || !strings.Contains(m.Error, "no space") {
				t.Errorf("manifest status %s, error %q", m.Status, m.Error)
			}
			pts, err := ReadPoints(r.Dir)
			if err != nil || len(pts) == 0 {
				t.Fatalf("metrics.jsonl after the failure: %d points, %v", len(pts), err)
			}
			b, _ := os.ReadFile(filepath.Join(r.Dir, MetricsFile))
			if !bytes.HasSuffix(b, []byte("\n")) {
				t.Errorf("metrics.jsonl ends in a partial record: %q", b[len(b)-20:])
			}
			if backend == "tensorboard" {
				checkTFRecords(t, r.Dir)
			}
		})
	}
}

// checkTFRecords checks that the event file holds whole records only.
func checkTFRecords(t *testing.T, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	if len(files) != 1 {
		t.Fatalf("event files: %v", files)
	}
	b, _ := os.ReadFile(files[0])
	n := 0
	for len(b) > 0 {
		if len(b) < 16 {
			t.Fatalf("record %d: %d trailing bytes", n, len(b))
		}
		size := int(uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24)
		if len(b) < 16+size {
			t.Fatalf("record %d: truncated", n)
		}
		b = b[16+size:]
		n++
	}
	if n < 2 {
		t.Errorf("only %d records", n)
	}
}

// TestMaskedCRC checks CRC-32C against its published check value and the
// masking against TFRecord's definition.
func TestMaskedCRC(t *testing.T) {
	c := crc32Castagnoli([]byte("123456789"))
	if c != 0xE3069283 {
		t.Fatalf("crc32c check value %#x, want 0xe3069283", c)
	}
	want := ((c >> 15) | (c << 17)) + 0xa282ead8
	if got := maskedCRC([]byte("123456789")); got != want {
		t.Errorf("masked %#x, want %#x", got, want)
	}
}

// countingOpener counts the bytes read through it.
type countingOpener struct{ n int64 }

type countingReader struct {
	io.ReadCloser
	n *int64
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.ReadCloser.Read(b)
	*c.n += int64(n)
	return n, err
}

// TestHashOnce: hashing a file reads it once for sha256 and md5 together,
// and a second run with the file unchanged reads nothing.
func TestHashOnce(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "model.bin")
	data := bytes.Repeat([]byte("weights!"), 1<<17) // 1 MiB
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var c countingOpener
	open := func(n string) (io.ReadCloser, error) {
		f, err := os.Open(n)
		return countingReader{f, &c.n}, err
	}
	h := NewHasher(dir)
	h.open = open
	d, err := h.File(name)
	if err != nil {
		t.Fatal(err)
	}
	if c.n != int64(len(data)) {
		t.Errorf("first hash read %d bytes, want %d", c.n, len(data))
	}
	if d.MD5 != md5Hex(string(data)) || d.SHA256 != sha256Hex(data) {
		t.Errorf("digest %+v", d)
	}
	if err := h.Save(); err != nil {
		t.Fatal(err)
	}
	h2 := NewHasher(dir)
	h2.open = open
	c.n = 0
	if d2, err := h2.File(name); err != nil || d2 != d || c.n != 0 {
		t.Errorf("cached hash: %+v, %v, read %d bytes", d2, err, c.n)
	}
	// A changed file (new mtime) is hashed again.
	later := time.Now().Add(time.Hour)
	os.Chtimes(name, later, later)
	if _, err := h2.File(name); err != nil || c.n != int64(len(data)) {
		t.Errorf("changed file: read %d bytes, %v", c.n, err)
	}
	// A corrupt cache is ignored.
	os.WriteFile(filepath.Join(dir, hashCacheFile), []byte("{broken"), 0o644)
	if _, err := NewHasher(dir).File(name); err != nil {
		t.Error(err)
	}
}

func TestParseRef(t *testing.T) {
	for _, c := range []struct {
		in   string
		id   string
		step int64
		has  bool
		bad  bool
	}{
		{"261206-100000-abcd", "261206-100000-abcd", 0, false, false},
		{"2612@500", "2612", 500, true, false},
		{"2612@step500", "2612", 500, true, false},
		{"2612@last", "", 0, false, true},
		{"2612@-3", "", 0, false, true},
	} {
		id, step, has, err := ParseRef(c.in)
		if (err != nil) != c.bad || (!c.bad && (id != c.id || step != c.step || has != c.has)) {
			t.Errorf("ParseRef(%q) = %q %d %v %v", c.in, id, step, has, err)
		}
	}
}

func TestManifestJSONRoundTrip(t *testing.T) {
	m := Manifest{FormatVersion: ManifestFormat, ID: "261206-100000-abcd", Pipeline: "p", Status: StatusSucceeded, Started: time.Now().UTC()}
	b, _ := json.Marshal(m)
	got, err := parseManifest(b)
	if err != nil || got.ID != m.ID {
		t.Fatalf("%v %+v", err, got)
	}
}

func crc32Castagnoli(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// TestSIGKILL kills a process in the middle of a run (SIGKILL: no
// cleanup runs) and reads what it left: a valid manifest, read back as
// interrupted, and the metrics written before the kill.
func TestSIGKILL(t *testing.T) {
	if dir := os.Getenv("WHISPERC_TRACK_KILL_DIR"); dir != "" {
		prog, ds := compiler.Check(filepath.Join(dir, "p.whisper"), compiler.Options{})
		if ds.HasErrors() {
			os.Exit(3)
		}
		r, err := Start(context.Background(), prog, nil, Options{})
		if err != nil {
			os.Exit(4)
		}
		st := stage("train.sft", planner.StageTrain)
		r.StageStarted(st, time.Now())
		for step := int64(1); step <= 3; step++ {
			r.Metric(Point{Time: time.Now(), Stage: st.ID, Name: "loss", Step: step, Value: 1})
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	_, dir := pipeline(t, "track {\n  backend = tensorboard\n}", "")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILL$")
	cmd.Env = append(os.Environ(), "WHISPERC_TRACK_KILL_DIR="+dir)
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper did not die by SIGKILL: %v", err)
	}
	runs, bad := List(filepath.Join(dir, "runs"))
	if len(runs) != 1 || len(bad) != 0 {
		t.Fatalf("runs %d, errors %v", len(runs), bad)
	}
	m := runs[0]
	if m.Status != StatusInterrupted || !m.Ended.IsZero() {
		t.Errorf("killed run: status %s, ended %v", m.Status, m.Ended)
	}
	pts, err := ReadPoints(filepath.Join(dir, "runs", "p", m.ID))
	if err != nil || len(pts) != 3 {
		t.Errorf("metrics after the kill: %d, %v", len(pts), err)
	}
}

// TestObserverInterrupt: through the observer, a run cancelled in a stage
// that fails is interrupted; one whose stages all end well (a server
// drained after Ctrl-C) succeeded.
func TestObserverInterrupt(t *testing.T) {
	prog, _ := pipeline(t, "track {\n  backend = jsonl\n}", "")
	for _, c := range []struct {
		stageErr error
		want     Status
	}{{errors.New("stopped after 3 tokens"), StatusInterrupted}, {nil, StatusSucceeded}} {
		ctx, cancel := context.WithCancel(context.Background())
		r, err := Start(ctx, prog, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		o := r.Observer(ctx)
		st := stage("serve.api", planner.StageServe)
		o.StageStarted(observe.StageStart{Stage: st, Time: time.Now()})
		cancel()
		o.StageFinished(observe.StageEnd{Stage: st, Err: c.stageErr, Time: time.Now()})
		o.RunFinished(observe.RunEnd{Err: c.stageErr, Time: time.Now()})
		m, err := ReadManifest(r.Dir)
		if err != nil || m.Status != c.want || m.Stages[0].Status != c.want {
			t.Errorf("stage error %v: run %s, stage %s, %v; want %s", c.stageErr, m.Status, m.Stages[0].Status, err, c.want)
		}
	}
}

// TestDiffRenamedRoot: two runs of differently named copies of a pipeline
// differ only in the lines that changed.
func TestDiffRenamedRoot(t *testing.T) {
	src := func(path, text string) Source { return Source{Path: path, SHA256: sha256Hex([]byte(text)), Text: text} }
	a := &Manifest{Sources: []Source{src("ft.whisper", "model m {}\nlr = 5e-3\n"), src("common.whisper", "x = 1\n")}}
	b := &Manifest{Sources: []Source{src("ft-lr.whisper", "model m {}\nlr = 1e-3\n"), src("common.whisper", "x = 1\n")}}
	got := Diff(a, b)
	want := []Change{{What: "ft.whisper:2", A: "lr = 5e-3"}, {What: "ft-lr.whisper:2", B: "lr = 1e-3"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Diff = %+v, want %+v", got, want)
	}
}
