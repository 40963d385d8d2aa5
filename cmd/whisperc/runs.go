package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/runtime/track"
)

// runsCmd looks at recorded runs (the track block's dir).
type runsCmd struct {
	List    runsListCmd    `cmd:"" default:"withargs" help:"List the runs under DIR (default runs)."`
	Show    runsShowCmd    `cmd:"" help:"Show one run's manifest."`
	Diff    runsDiffCmd    `cmd:"" help:"Show what changed between two runs."`
	Plot    runsPlotCmd    `cmd:"" help:"Plot loss curves (or other metrics) of runs on one chart."`
	Restore runsRestoreCmd `cmd:"" help:"Bring a run's versioned checkpoint back from the DVC cache or git-lfs store."`
}

type runsListCmd struct {
	Dir  string `arg:"" optional:"" default:"runs" help:"The track directory (default runs), or a .whisper file whose track block names it."`
	JSON bool   `name:"json" help:"Print as JSON."`
}

type runsShowCmd struct {
	ID   string `arg:"" help:"Run id or a unique prefix of it."`
	Dir  string `name:"dir" default:"runs" help:"The track directory, or a .whisper file whose track block names it."`
	JSON bool   `name:"json" help:"Print the manifest as JSON."`
}

type runsDiffCmd struct {
	A    string `arg:"" help:"First run id."`
	B    string `arg:"" help:"Second run id."`
	Dir  string `name:"dir" default:"runs" help:"The track directory, or a .whisper file whose track block names it."`
	JSON bool   `name:"json" help:"Print as JSON."`
}

type runsPlotCmd struct {
	IDs    []string `arg:"" help:"Run ids."`
	Out    string   `short:"o" name:"out" required:"" help:"Output file, .png or .svg."`
	Metric []string `name:"metric" default:"loss,eval_loss" help:"Metrics to plot (default loss,eval_loss)."`
	Dir    string   `name:"dir" default:"runs" help:"The track directory, or a .whisper file whose track block names it."`
	JSON   bool     `name:"json" help:"Also print the plotted series as JSON."`
}

type runsRestoreCmd struct {
	Ref  string `arg:"" help:"ID or ID@STEP: the run whose checkpoint to restore."`
	Dir  string `name:"dir" default:"runs" help:"The track directory, or a .whisper file whose track block names it."`
	JSON bool   `name:"json" help:"Print as JSON."`
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// listing is one row of `whisperc runs`.
type listing struct {
	ID       string             `json:"id"`
	Pipeline string             `json:"pipeline"`
	Stages   []string           `json:"stages"`
	Status   track.Status       `json:"status"`
	Started  time.Time          `json:"started"`
	Seconds  float64            `json:"seconds"`
	Final    map[string]float64 `json:"final_metrics"`
	Produced []string           `json:"produced"`
}

// trackDir returns the track directory arg names: arg itself, or for a
// .whisper file the dir of its track block.
func trackDir(arg string) (string, error) {
	if !strings.HasSuffix(arg, ".whisper") {
		return arg, nil
	}
	prog, ds := compiler.Check(arg, compiler.Options{})
	if ds.HasErrors() {
		return "", fmt.Errorf("%s does not check; run whisperc check %s", arg, arg)
	}
	if prog.Track == nil {
		return "", fmt.Errorf("%s has no track block, so its runs are not recorded", arg)
	}
	return prog.Track.Dir, nil
}

func (c runsListCmd) Run(e *env) error {
	dir, err := trackDir(c.Dir)
	if err != nil {
		return err
	}
	c.Dir = dir
	runs, bad := track.List(c.Dir)
	if runs == nil && len(bad) > 0 && !errors.As(bad[0], new(*track.ManifestError)) {
		return bad[0]
	}
	rows := make([]listing, 0, len(runs))
	for _, m := range runs {
		r := listing{ID: m.ID, Pipeline: m.Pipeline, Stages: m.StageKinds(), Status: m.Status, Started: m.Started,
			Seconds: m.Duration().Seconds(), Final: m.Final, Produced: produced(m)}
		rows = append(rows, r)
	}
	for _, b := range bad {
		fmt.Fprintf(e.stderr, "whisperc: %v\n", b)
	}
	if c.JSON {
		return writeJSON(e.stdout, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintf(e.stdout, "no runs in %s\n", c.Dir)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPIPELINE\tSTAGES\tSTATUS\tDURATION\tMETRICS\tPRODUCED")
	for _, r := range rows {
		dur := "-"
		if r.Seconds > 0 {
			dur = (time.Duration(r.Seconds*1e3) * time.Millisecond).String()
		}
		var dirs []string
		for _, d := range r.Produced {
			dirs = append(dirs, relToCwd(d))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Pipeline, strings.Join(r.Stages, ","), r.Status, dur, summaryMetrics(r.Final), orDash(strings.Join(dirs, " ")))
	}
	return tw.Flush()
}

// summaryMetrics picks the metrics a table row shows: the last loss,
// eval loss, perplexity and tokens per second, each once (the first stage
// in id order that logged it).
func summaryMetrics(final map[string]float64) string {
	var parts []string
	for _, w := range []struct{ name, short string }{
		{"loss", "loss"}, {"eval_loss", "eval"}, {"perplexity", "ppl"}, {"tokens_per_second", "tok/s"},
	} {
		for _, k := range sortedKeys(final) {
			if k[strings.LastIndexByte(k, '/')+1:] == w.name {
				parts = append(parts, w.short+"="+strconv.FormatFloat(final[k], 'g', 4, 64))
				break
			}
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// produced names what a run produced: the directories of its final
// adapters and models, else of its last checkpoint.
func produced(m *track.Manifest) []string {
	var final, last []string
	lastStep := int64(-1)
	seen := map[string]bool{}
	for _, o := range m.Outputs {
		dir := filepath.Dir(o.Path)
		switch {
		case (o.Kind == "adapter" || o.Kind == "model") && o.Step == 0:
			if !seen[dir] {
				seen[dir] = true
				final = append(final, dir)
			}
		case o.Kind == "checkpoint" && o.Step > lastStep:
			lastStep, last = o.Step, []string{dir}
		}
	}
	if len(final) > 0 {
		return final
	}
	if last == nil {
		return []string{}
	}
	return last
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (c runsShowCmd) Run(e *env) error {
	dir, err := trackDir(c.Dir)
	if err != nil {
		return err
	}
	c.Dir = dir
	_, m, err := track.Find(c.Dir, c.ID)
	if err != nil {
		return err
	}
	if c.JSON {
		return writeJSON(e.stdout, m)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "run %s of %s: %s\n", m.ID, m.Pipeline, m.Status)
	if m.Error != "" {
		fmt.Fprintf(&b, "  error:    %s\n", m.Error)
	}
	fmt.Fprintf(&b, "  started:  %s\n", m.Started.Format(time.RFC3339))
	if !m.Ended.IsZero() {
		fmt.Fprintf(&b, "  ended:    %s (%s)\n", m.Ended.Format(time.RFC3339), m.Duration().Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "  whisperc: %s on %s, %d threads\n", m.Whisperc, m.Host, m.Threads)
	if m.Git != nil {
		dirty := ""
		if m.Git.Dirty {
			dirty = " (dirty)"
		}
		fmt.Fprintf(&b, "  commit:   %s%s in %s\n", m.Git.Commit, dirty, m.Git.Root)
	}
	fmt.Fprintf(&b, "  backends: %s\n", strings.Join(m.Backends, ", "))
	b.WriteString("sources:\n")
	for _, s := range m.Sources {
		fmt.Fprintf(&b, "  %s  sha256 %s\n", s.Path, s.SHA256)
	}
	if len(m.Vars) > 0 {
		b.WriteString("vars:\n")
		for _, k := range sortedKeys(m.Vars) {
			fmt.Fprintf(&b, "  %s = %s\n", k, m.Vars[k])
		}
	}
	files := func(title string, rs []track.FileRecord) {
		if len(rs) == 0 {
			return
		}
		b.WriteString(title + ":\n")
		for _, r := range rs {
			fmt.Fprintf(&b, "  %s  %s  %d bytes  sha256 %s", r.Name+r.Stage, r.Path, r.Size, r.SHA256)
			if r.Step > 0 {
				fmt.Fprintf(&b, "  step %d", r.Step)
			}
			if v := r.Version; v != nil && v.Kind != "none" {
				fmt.Fprintf(&b, "  %s %s", v.Kind, v.ID)
			}
			if r.Changed {
				fmt.Fprintf(&b, "  CHANGED (was %.12s)", r.Previous)
			}
			b.WriteString("\n")
		}
	}
	files("models", m.Models)
	files("datasets", m.Datasets)
	if len(m.Stages) > 0 {
		b.WriteString("stages:\n")
		for _, s := range m.Stages {
			fmt.Fprintf(&b, "  %-24s %-11s %s", s.ID, s.Status, s.Ended.Sub(s.Started).Round(time.Millisecond))
			if s.MeasuredPeakBytes > 0 {
				plan := "-"
				if s.PredictedPeakBytes > 0 {
					plan = mib(s.PredictedPeakBytes)
				}
				fmt.Fprintf(&b, "  peak %s (process RSS; plan %s)", mib(s.MeasuredPeakBytes), plan)
			}
			if s.MeasuredStepSeconds > 0 {
				plan := "-"
				if s.PredictedStepSeconds > 0 {
					plan = fmt.Sprintf("%.3g s", s.PredictedStepSeconds)
				}
				fmt.Fprintf(&b, "  step %.3g s (plan %s)", s.MeasuredStepSeconds, plan)
			}
			b.WriteString("\n")
		}
	}
	files("outputs", m.Outputs)
	if len(m.Final) > 0 {
		b.WriteString("final metrics:\n")
		for _, k := range sortedKeys(m.Final) {
			fmt.Fprintf(&b, "  %s = %s\n", k, strconv.FormatFloat(m.Final[k], 'g', 6, 64))
		}
	}
	for _, n := range m.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err = e.stdout.Write(b.Bytes())
	return err
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func (c runsDiffCmd) Run(e *env) error {
	dir, err := trackDir(c.Dir)
	if err != nil {
		return err
	}
	c.Dir = dir
	_, a, err := track.Find(c.Dir, c.A)
	if err != nil {
		return err
	}
	_, b, err := track.Find(c.Dir, c.B)
	if err != nil {
		return err
	}
	changes := track.Diff(a, b)
	if c.JSON {
		if changes == nil {
			changes = []track.Change{}
		}
		return writeJSON(e.stdout, map[string]any{"a": a.ID, "b": b.ID, "changes": changes})
	}
	if len(changes) == 0 {
		fmt.Fprintf(e.stdout, "runs %s and %s do not differ in config, vars, hashes, commit or metrics\n", a.ID, b.ID)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\t%s\t%s\n", a.ID, b.ID)
	for _, ch := range changes {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", ch.What, orDash(ch.A), orDash(ch.B))
	}
	return tw.Flush()
}

// relToCwd shortens an absolute path under the working directory.
func relToCwd(p string) string {
	wd, err := os.Getwd()
	if err != nil || !filepath.IsAbs(p) {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c runsPlotCmd) Run(e *env) error {
	dir, err := trackDir(c.Dir)
	if err != nil {
		return err
	}
	c.Dir = dir
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(c.Out)), ".")
	if format != "png" && format != "svg" {
		return usageError{fmt.Sprintf("-o %s: the output must end in .png or .svg", c.Out)}
	}
	var all []track.Series
	var ids []string
	for _, id := range c.IDs {
		dir, m, err := track.Find(c.Dir, id)
		if err != nil {
			return err
		}
		pts, err := track.ReadPoints(dir)
		if err != nil {
			return err
		}
		s := track.SeriesOf(m.ID, pts, c.Metric)
		if len(s) == 0 {
			have := map[string]bool{}
			for _, p := range pts {
				if p.Step >= 0 {
					have[p.Name] = true
				}
			}
			names := sortedKeys(have)
			if len(names) == 0 {
				return fmt.Errorf("run %s logged no per-step metrics (only whole-stage values such as tokens_per_second); there is no curve to plot", m.ID)
			}
			return fmt.Errorf("run %s has no %s curve; it logged %s (choose with --metric)", m.ID, strings.Join(c.Metric, " or "), strings.Join(names, ", "))
		}
		all = append(all, s...)
		ids = append(ids, m.ID)
	}
	var buf bytes.Buffer
	if err := track.Plot(&buf, format, strings.Join(c.Metric, ", ")+" of "+strings.Join(ids, ", "), all); err != nil {
		return err
	}
	if err := os.WriteFile(c.Out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	if c.JSON {
		return writeJSON(e.stdout, map[string]any{"out": c.Out, "series": all})
	}
	fmt.Fprintf(e.stderr, "wrote %s (%d series)\n", c.Out, len(all))
	return nil
}

func (c runsRestoreCmd) Run(e *env) error {
	dir, err := trackDir(c.Dir)
	if err != nil {
		return err
	}
	rs, err := track.Restore(dir, c.Ref)
	if c.JSON && rs != nil {
		if jerr := writeJSON(e.stdout, rs); jerr != nil {
			return jerr
		}
	} else {
		for _, r := range rs {
			if r.Action == "restored" {
				fmt.Fprintf(e.stdout, "restored %s from %s\n", r.Path, r.From)
			} else {
				fmt.Fprintf(e.stdout, "%s is present with the recorded content\n", r.Path)
			}
		}
	}
	return err
}
