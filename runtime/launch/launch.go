// Package launch runs a plan's GPU stages on the engine they were lowered
// to (planner/engines): it writes the export, finds the engine's own
// launcher (accelerate, tune, vllm) on PATH and runs it in the export
// directory, streaming its output to the caller and to a log file, and
// reports the metrics the lowered scripts print (the allocator's peaks,
// the decisions that took effect, the training loss) to an observer.
//
// When the launcher is missing nothing runs: Run returns a *MissingError
// that says exactly what to install.
package launch

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/engines"
	"github.com/modelwhisperer/whisperc/runtime/observe"
)

// LogName is the file in the export directory that receives the engine's
// output.
const LogName = "engine.log"

// maxLine bounds one line of engine output that is parsed for metrics;
// longer lines are streamed but not parsed.
const maxLine = 1 << 20

// Options configure Run.
type Options struct {
	// Dir is the export directory the files are written to.
	Dir string
	// Stdout and Stderr receive the engine's output as it comes.
	Stdout, Stderr io.Writer
	// Observer, when set, receives each stage's start and end and the
	// metrics the engine prints.
	Observer observe.Observer
	// Plan gives the stages for the observer's events; nil is allowed.
	Plan *planner.Plan
	// LookPath finds a launcher; nil uses exec.LookPath.
	LookPath func(string) (string, error)
}

// MissingError says that an engine's launcher is not installed.
type MissingError struct {
	Engine   engines.Engine
	Launcher string
	Install  string
	Dir      string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("%s is not installed: `%s` is not on PATH. The export is in %s; install the engine with\n    cd %s && %s\nand run again",
		e.Engine, e.Launcher, e.Dir, e.Dir, e.Install)
}

// Result is what the engine reported.
type Result struct {
	// Metrics are the last value of each metric the engine printed, by
	// stage and name ("train.sft" → "peak_allocated_bytes").
	Metrics map[string]map[string]float64
	// Decisions are the whisperc-decisions records, by stage.
	Decisions map[string]map[string]any
}

// Write writes the export's files into dir, scripts executable.
func Write(dir string, x *engines.Export) error {
	for _, f := range x.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if f.Executable {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(f.Data), mode); err != nil {
			return err
		}
	}
	return nil
}

// Check reports, before anything runs, the first command whose launcher
// is missing.
func Check(x *engines.Export, opts Options) error {
	look := opts.LookPath
	if look == nil {
		look = exec.LookPath
	}
	for _, c := range x.Commands {
		l := launcher(c)
		if _, err := look(l); err != nil {
			return &MissingError{Engine: x.Engine, Launcher: l, Install: c.Install, Dir: opts.Dir}
		}
	}
	return nil
}

func launcher(c engines.Command) string {
	if c.Launcher != "" {
		return c.Launcher
	}
	return c.Argv[0]
}

// Run writes nothing: it runs the export already written in opts.Dir,
// command by command, and stops at the first failure.
func Run(ctx context.Context, x *engines.Export, opts Options) (Result, error) {
	res := Result{Metrics: map[string]map[string]float64{}, Decisions: map[string]map[string]any{}}
	if err := Check(x, opts); err != nil {
		return res, err
	}
	logf, err := os.OpenFile(filepath.Join(opts.Dir, LogName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return res, err
	}
	defer logf.Close()
	for _, c := range x.Commands {
		if err := runOne(ctx, c, opts, logf, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func runOne(ctx context.Context, c engines.Command, opts Options, logf io.Writer, res *Result) error {
	var st *planner.Stage
	if opts.Plan != nil {
		st = opts.Plan.Stage(c.Stage)
	}
	if st == nil {
		st = &planner.Stage{ID: c.Stage}
	}
	start := time.Now()
	if opts.Observer != nil {
		opts.Observer.StageStarted(observe.StageStart{Stage: st, Time: start})
	}
	fmt.Fprintf(logf, "== %s: %s (in %s)\n", c.Stage, strings.Join(c.Argv, " "), opts.Dir)
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Dir = opts.Dir
	cmd.WaitDelay = 10 * time.Second
	outR, outW := io.Pipe()
	cmd.Stdout, cmd.Stderr = outW, outW
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 64<<10), maxLine)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			fmt.Fprintln(logf, line)
			if opts.Stderr != nil {
				fmt.Fprintln(opts.Stderr, line)
			}
			mu.Unlock()
			parseLine(c.Stage, line, res, opts.Observer)
		}
		// A line longer than maxLine stops the parse; drain the rest so the
		// engine never blocks on a full pipe.
		_, _ = io.Copy(logf, outR)
	}()
	err := cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	outW.Close()
	wg.Wait()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%s: %s exited with status %d; its output is in %s", c.Stage, strings.Join(c.Argv, " "), ee.ExitCode(), filepath.Join(opts.Dir, LogName))
		} else {
			err = fmt.Errorf("%s: %w", c.Stage, err)
		}
	}
	if opts.Observer != nil {
		opts.Observer.Output(observe.Output{Stage: c.Stage, Kind: observe.OutputOther, Path: filepath.Join(opts.Dir, LogName), Time: time.Now()})
		opts.Observer.StageFinished(observe.StageEnd{Stage: st, Elapsed: time.Since(start), Err: err, Time: time.Now()})
	}
	return err
}

// hfLog matches the Hugging Face Trainer's log dictionaries:
// {'loss': 1.234, 'grad_norm': 0.5, 'learning_rate': 0.0002, 'epoch': 0.1}.
var hfLog = regexp.MustCompile(`^\{'loss': `)

// ttLog matches torchtune's metric lines: "Step 10 | loss:1.23 lr:0.0002 ...".
var ttLog = regexp.MustCompile(`^Step (\d+) \| (.*)$`)

var hfPair = regexp.MustCompile(`'([a-z_]+)': ([-+0-9.eE]+|nan|inf)`)

// parseLine maps a line of engine output to metrics.
func parseLine(stage, line string, res *Result, obs observe.Observer) {
	emit := func(name string, v float64, step int64) {
		m := res.Metrics[stage]
		if m == nil {
			m = map[string]float64{}
			res.Metrics[stage] = m
		}
		m[name] = v
		if obs != nil {
			unit := ""
			if strings.HasSuffix(name, "_bytes") {
				unit = "B"
			}
			obs.Metric(observe.Metric{Stage: stage, Name: name, Value: v, Unit: unit, Step: step, Time: time.Now()})
		}
	}
	decide := func(k string, v any) {
		d := res.Decisions[stage]
		if d == nil {
			d = map[string]any{}
			res.Decisions[stage] = d
		}
		d[k] = v
	}
	switch {
	case strings.HasPrefix(line, "whisperc-metrics "):
		var rec map[string]float64
		if json.Unmarshal([]byte(strings.TrimPrefix(line, "whisperc-metrics ")), &rec) == nil {
			for _, k := range sortedKeys(rec) {
				emit(k, rec[k], -1)
			}
		}
	case strings.HasPrefix(line, "whisperc-decisions "):
		var rec map[string]any
		if json.Unmarshal([]byte(strings.TrimPrefix(line, "whisperc-decisions ")), &rec) == nil {
			for k, v := range rec {
				decide(k, v)
			}
		}
	case strings.HasPrefix(line, "whisperc-data "):
		// whisperc_support.RecordLog: what reading the data did.
		var rec struct {
			Records, Skipped, Truncated *float64
			LongSkipped                 *float64 `json:"long_skipped"`
			Problems                    []string
		}
		if json.Unmarshal([]byte(strings.TrimPrefix(line, "whisperc-data ")), &rec) == nil {
			for _, f := range []struct {
				name string
				v    *float64
			}{{"data_records", rec.Records}, {"data_skipped", rec.Skipped}, {"data_long_skipped", rec.LongSkipped}, {"data_truncated", rec.Truncated}} {
				if f.v != nil {
					emit(f.name, *f.v, -1)
				}
			}
			if len(rec.Problems) > 0 {
				decide("data_problems", rec.Problems)
			}
		}
	case strings.HasPrefix(line, "whisperc-guard "):
		// whisperc_support.NonFiniteGuard: a skipped step or a rollback.
		var rec struct {
			Event             string
			Step              int64
			Skipped, Rollback *float64
			LRScale           *float64 `json:"lr_scale"`
		}
		if json.Unmarshal([]byte(strings.TrimPrefix(line, "whisperc-guard ")), &rec) == nil {
			switch {
			case rec.Event == "skip" && rec.Skipped != nil:
				emit("nan_skipped_steps", *rec.Skipped, rec.Step)
			case rec.Event == "rollback" && rec.Rollback != nil:
				emit("nan_rollbacks", *rec.Rollback, rec.Step)
				if rec.LRScale != nil {
					emit("nan_lr_scale", *rec.LRScale, rec.Step)
				}
			}
		}
	case hfLog.MatchString(line):
		for _, m := range hfPair.FindAllStringSubmatch(line, -1) {
			if v, err := strconv.ParseFloat(m[2], 64); err == nil {
				emit(m[1], v, -1)
			}
		}
	default:
		if m := ttLog.FindStringSubmatch(line); m != nil {
			step, _ := strconv.ParseInt(m[1], 10, 64)
			for _, f := range strings.Fields(m[2]) {
				k, v, ok := strings.Cut(f, ":")
				if !ok {
					continue
				}
				if x, err := strconv.ParseFloat(v, 64); err == nil {
					emit(k, x, step)
				}
			}
		}
	}
}

func sortedKeys(m map[string]float64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
