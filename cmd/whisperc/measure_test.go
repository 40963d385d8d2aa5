package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/planner/hw"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/track"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// The llama2.c TinyStories shapes the plan-versus-measured table covers.
var measuredShapes = []arch.Config{
	{Name: "15M", Family: arch.Llama, Dim: 288, HiddenDim: 768, Layers: 6, Heads: 6, KVHeads: 6, Vocab: 32000, MaxSeq: 256, RopeTheta: 10000, NormEps: 1e-5, Tied: true},
	{Name: "42M", Family: arch.Llama, Dim: 512, HiddenDim: 1376, Layers: 8, Heads: 8, KVHeads: 8, Vocab: 32000, MaxSeq: 1024, RopeTheta: 10000, NormEps: 1e-5, Tied: true},
	{Name: "110M", Family: arch.Llama, Dim: 768, HiddenDim: 2048, Layers: 12, Heads: 12, KVHeads: 12, Vocab: 32000, MaxSeq: 1024, RopeTheta: 10000, NormEps: 1e-5, Tied: true},
}

// The examples measured beside the shapes: the generate-only pipelines
// that run on this machine without downloads.
var measuredExamples = []string{"story", "tiny-cpu"}

// measuredRow is one line of the plan-versus-measured table.
type measuredRow struct {
	Model        string  `json:"model"`
	Format       string  `json:"format"`
	Tokens       int     `json:"tokens"`
	PredictedRSS int64   `json:"predicted_peak_rss"`
	MeasuredRSS  int64   `json:"measured_peak_rss"`
	PredictedTPS float64 `json:"predicted_tokens_per_s"`
	MeasuredTPS  float64 `json:"measured_tokens_per_s"`
	// RunTPS is the run's timing line, the first token's time included.
	RunTPS       float64 `json:"run_tokens_per_s"`
	FileBytes    int64   `json:"file_bytes"`
	MeasuredWall float64 `json:"measured_wall_s"`
	// StepLayer, StepHead and StepPos are the decode step the plan
	// measured on the shape (runtime.DecodeStep: a layer and the rest at
	// position 32, and a layer's growth per position), from which it
	// predicted PredictedTPS; planner/cost's TestMeasuredCPU re-predicts
	// speed from them.
	StepLayer float64 `json:"decode_layer_seconds,omitempty"`
	StepHead  float64 `json:"decode_head_seconds,omitempty"`
	StepPos   float64 `json:"decode_position_seconds,omitempty"`
	// StepLayers is how many layers the timed model had (all the
	// shape's, or three when it was too large to time whole).
	StepLayers int    `json:"decode_layers,omitempty"`
	Note       string `json:"note,omitempty"`
	// PlanEach and RunEach are each plan's predicted and each run's
	// measured decode tok/s, in the order they alternated (planAndRun).
	PlanEach []float64 `json:"plan_tokens_per_s_each,omitempty"`
	RunEach  []float64 `json:"run_tokens_per_s_each,omitempty"`
}

// TestMeasurePlanVsRun writes random-weight llama2.c models of the
// 15M/42M/110M shapes, plans and runs each in fp32, nf4 and q8_0 with a
// built whisperc, and writes the predicted and measured peak RSS and
// decode speed, with the calibration and the machine, to the file named
// by WHISPERC_MEASURE (planner/testdata/measured/cpu-*.json). It runs only
// when that variable is set: minutes of work and 1 GB of disk.
func TestMeasurePlanVsRun(t *testing.T) {
	out := os.Getenv("WHISPERC_MEASURE")
	if out == "" {
		t.Skip("set WHISPERC_MEASURE=path.json to measure the plan against runs")
	}
	tok, err := filepath.Abs("../../../shared/models/llama2c-tokenizer32k.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tok); err != nil {
		t.Fatalf("the 32k tokenizer is missing: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "whisperc")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	uncache(t, bin)
	ctx := context.Background()
	h, err := hw.Detect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Calibrate in a whisperc process, as plan does on first use, so that
	// the process's base memory is whisperc's own.
	cache := filepath.Join(dir, "cache")
	tiny := filepath.Join(dir, "tiny.whisper")
	story, err := filepath.Abs("../../../shared/models")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tiny, []byte("model m {\n  source = \"llama2c:"+story+"/stories260K.bin\"\n  tokenizer = \""+story+"/tok512.bin\"\n}\n"+
		"generate g {\n  model = m\n  prompt = \"\"\n  max_tokens = 10\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cc := exec.Command(bin, "plan", tiny)
	cc.Env = append(os.Environ(), "XDG_CACHE_HOME="+cache, "WHISPERC_CPU_RATES=")
	if b, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("calibrating: %v\n%s", err, b)
	}
	cached, err := os.ReadFile(filepath.Join(cache, "whisperc", "cpu-rates.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cal struct {
		Rates *cost.CPURates `json:"rates"`
	}
	if err := json.Unmarshal(cached, &cal); err != nil || cal.Rates == nil {
		t.Fatalf("calibration cache: %v", err)
	}
	rates := cal.Rates
	ratesFile := filepath.Join(dir, "rates.json")
	rb, _ := json.Marshal(rates)
	if err := os.WriteFile(ratesFile, rb, 0o644); err != nil {
		t.Fatal(err)
	}
	only := os.Getenv("WHISPERC_MEASURE_ONLY") // e.g. "15M" to measure one shape
	var rows []measuredRow
	for _, c := range measuredShapes {
		if only != "" && !strings.Contains(","+only+",", ","+c.Name+",") {
			continue
		}
		model := filepath.Join(dir, c.Name+".bin")
		f, err := os.Create(model)
		if err != nil {
			t.Fatal(err)
		}
		bw := bufio.NewWriter(f)
		if err := llama2c.Write(bw, weights.Random(c, 42), 0); err != nil {
			t.Fatal(err)
		}
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		uncache(t, model)
		st, _ := os.Stat(model)
		tokens := min(c.MaxSeq-1, 200)
		for _, format := range []string{"fp32", "nf4", "q8_0"} {
			q := ""
			if format != "fp32" {
				q = "  quantize { method = " + format + " }\n"
			}
			src := fmt.Sprintf("model m {\n  source = \"llama2c:%s\"\n  tokenizer = \"%s\"\n%s}\n"+
				"generate g {\n  model = m\n  prompt = \"\"\n  max_tokens = %d\n  temperature = 0\n  ignore_eos = true\n  kv_cache = true\n}\n"+trackMetrics,
				model, tok, q, tokens)
			wf := filepath.Join(dir, c.Name+"-"+format+".whisper")
			env := append(os.Environ(), "WHISPERC_CPU_RATES="+ratesFile)
			gen, hwm, tps, runTPS, wall, pe, re := planAndRun(t, bin, env, wf, src, c.Name+" "+format)
			row := measuredRow{PlanEach: pe, RunEach: re, Model: c.Name, Format: format, Tokens: tokens, PredictedRSS: gen.Memory.TotalBytes, MeasuredRSS: hwm,
				PredictedTPS: gen.Time.TokensPerSecond, MeasuredTPS: tps, RunTPS: runTPS, FileBytes: st.Size(), MeasuredWall: wall,
				StepLayer: gen.Time.DecodeLayerSeconds, StepHead: gen.Time.DecodeHeadSeconds, StepPos: gen.Time.DecodePositionSeconds,
				StepLayers: gen.Time.DecodeLayers}
			t.Logf("%-5s %-5s RSS plan %6.1f MiB run %6.1f MiB (%+5.1f%%)  tok/s plan %7.1f run %7.1f (%+5.1f%%)", c.Name, format,
				float64(row.PredictedRSS)/(1<<20), float64(row.MeasuredRSS)/(1<<20), 100*(float64(row.PredictedRSS)/float64(row.MeasuredRSS)-1),
				row.PredictedTPS, row.MeasuredTPS, 100*(row.PredictedTPS/row.MeasuredTPS-1))
			rows = append(rows, row)
		}
		os.Remove(model)
	}
	// GGUF files that whisperc runs as stored (random weights, as
	// runtime/bench/models.sh writes them: SHAPE-q8_0.gguf and
	// SHAPE-q4_0.gguf by whisperc's writer, SHAPE-q4_k_m.gguf by
	// llama.cpp's quantiser), when WHISPERC_MEASURE_GGUF names their
	// directory; each must be there.
	if gdir := os.Getenv("WHISPERC_MEASURE_GGUF"); gdir != "" && (only == "" || strings.Contains(","+only+",", ",gguf,")) {
		for _, c := range measuredShapes {
			for _, format := range []string{"q8_0", "q4_0", "q4_k_m"} {
				file, err := filepath.Abs(filepath.Join(gdir, c.Name+"-"+format+".gguf"))
				if err != nil {
					t.Fatal(err)
				}
				st, err := os.Stat(file)
				if err != nil {
					t.Fatalf("WHISPERC_MEASURE_GGUF: %v (runtime/bench/models.sh writes it)", err)
				}
				uncache(t, file)
				tokens := min(c.MaxSeq-1, 200)
				src := fmt.Sprintf("model m {\n  source = \"gguf:%s\"\n}\n"+
					"generate g {\n  model = m\n  prompt = \"\"\n  max_tokens = %d\n  temperature = 0\n  ignore_eos = true\n  kv_cache = true\n}\n"+trackMetrics,
					file, tokens)
				wf := filepath.Join(dir, "gguf-"+c.Name+"-"+format+".whisper")
				env := append(os.Environ(), "WHISPERC_CPU_RATES="+ratesFile)
				gen, hwm, tps, runTPS, wall, pe, re := planAndRun(t, bin, env, wf, src, "gguf "+c.Name+" "+format)
				row := measuredRow{PlanEach: pe, RunEach: re, Model: "gguf:" + c.Name, Format: format, Tokens: tokens, PredictedRSS: gen.Memory.TotalBytes, MeasuredRSS: hwm,
					PredictedTPS: gen.Time.TokensPerSecond, MeasuredTPS: tps, RunTPS: runTPS, FileBytes: st.Size(), MeasuredWall: wall,
					StepLayer: gen.Time.DecodeLayerSeconds, StepHead: gen.Time.DecodeHeadSeconds, StepPos: gen.Time.DecodePositionSeconds,
					StepLayers: gen.Time.DecodeLayers}
				if gen.Time.Bound == "unknown" {
					row.Note = gen.Time.Assumption
				}
				t.Logf("%-16s %-6s RSS plan %6.1f MiB run %6.1f MiB (%+5.1f%%)  tok/s plan %7.1f run %7.1f", row.Model, format,
					float64(row.PredictedRSS)/(1<<20), float64(row.MeasuredRSS)/(1<<20), 100*(float64(row.PredictedRSS)/float64(row.MeasuredRSS)-1),
					row.PredictedTPS, row.MeasuredTPS)
				rows = append(rows, row)
			}
		}
	}
	// The examples that run on this machine, as written (their model
	// paths made absolute, so that a run writes nothing into the tree).
	// finetune-tiny trains first and serve-tiny serves until stopped, so
	// neither prints one decode timing; the others need a GPU or downloads.
	for _, ex := range measuredExamples {
		if only != "" && !strings.Contains(","+only+",", ",example,") {
			continue
		}
		src, err := os.ReadFile(filepath.Join("..", "..", "examples", ex+".whisper"))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(src), "\"../../shared/models", "\""+story)
		text = strings.ReplaceAll(text, "llama2c:../../shared/models", "llama2c:"+story)
		if !strings.Contains(text, "\ntrack {") {
			text += trackMetrics
		}
		wf := filepath.Join(dir, ex+".whisper")
		env := append(os.Environ(), "WHISPERC_CPU_RATES="+ratesFile)
		gen, hwm, tps, runTPS, wall, pe, re := planAndRun(t, bin, env, wf, text, "example "+ex)
		row := measuredRow{PlanEach: pe, RunEach: re, Model: "example:" + ex, Format: "fp32", PredictedRSS: gen.Memory.TotalBytes, MeasuredRSS: hwm,
			PredictedTPS: gen.Time.TokensPerSecond, MeasuredTPS: tps, RunTPS: runTPS, MeasuredWall: wall,
			StepLayer: gen.Time.DecodeLayerSeconds, StepHead: gen.Time.DecodeHeadSeconds, StepPos: gen.Time.DecodePositionSeconds,
			StepLayers: gen.Time.DecodeLayers}
		t.Logf("%-16s RSS plan %6.1f MiB run %6.1f MiB (%+5.1f%%)  tok/s plan %7.1f run %7.1f (%+5.1f%%)", row.Model,
			float64(row.PredictedRSS)/(1<<20), float64(row.MeasuredRSS)/(1<<20), 100*(float64(row.PredictedRSS)/float64(row.MeasuredRSS)-1),
			row.PredictedTPS, row.MeasuredTPS, 100*(row.PredictedTPS/row.MeasuredTPS-1))
		rows = append(rows, row)
	}
	if os.Getenv("WHISPERC_MEASURE_MEMORY_ONLY") == "1" {
		mergeMemory(t, out, rates, rows)
		return
	}
	quiet := os.Getenv("WHISPERC_MEASURE_QUIET") == "1"
	note := "2-vCPU VM shared with other builds while measuring: the speeds are not a quiet machine's"
	if quiet {
		note = "measured on a quiet machine (WHISPERC_MEASURE_QUIET=1): TestMeasuredCPU asserts the speed half"
	}
	doc := map[string]any{
		"quiet":   quiet,
		"what":    "whisperc plan vs whisperc run: peak RSS (VmHWM of the run process: the largest of its peak before the first stage and its stages', from its manifest) and decode tok/s (tokens after the first over the time after the first, from the run's track metrics; run_tokens_per_s is its timing line), each the median of \"runs\" runs (peak RSS their largest), each run after a plan of its own that timed the decode step afresh, the row's plan the median of those plans (plan_tokens_per_s_each and run_tokens_per_s_each in the order they alternated), random-weight llama2.c models, prompt \"\" (BOS), greedy, ignore_eos, KV cache, compile default; then the examples that run here",
		"machine": map[string]any{"cpu": h.CPU.Model, "usable_cpus": h.CPU.Usable, "gomaxprocs": goruntime.GOMAXPROCS(0), "ram_bytes": h.RAMBytes, "features": h.CPU.Features},
		"date":    time.Now().UTC().Format(time.RFC3339),
		"note":    note,
		"runs":    measureRunCount(t),
		"rates":   rates,
		"rows":    rows,
	}
	data, _ := json.MarshalIndent(doc, "", "  ")
	if err := os.WriteFile(out, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mergeMemory rewrites the measured file out with the memory half of a
// new measurement (WHISPERC_MEASURE_MEMORY_ONLY=1): every row's predicted
// and measured peak RSS, and the calibration's process memory (base,
// executable, startup and released bytes), keeping its speeds, its calibrated
// rates and steps and its quiet flag. Peak RSS does not depend on the
// machine's load the way speed does, so a change to the process's memory
// can be re-measured on a loaded machine without losing a quiet
// measurement's speeds. Every row of the file must have been measured
// again.
func mergeMemory(t *testing.T, out string, rates *cost.CPURates, rows []measuredRow) {
	t.Helper()
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("WHISPERC_MEASURE_MEMORY_ONLY: %v", err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	var old []measuredRow
	var oldRates cost.CPURates
	if err := json.Unmarshal(doc["rows"], &old); err != nil {
		t.Fatalf("%s rows: %v", out, err)
	}
	if err := json.Unmarshal(doc["rates"], &oldRates); err != nil {
		t.Fatalf("%s rates: %v", out, err)
	}
	fresh := map[string]measuredRow{}
	for _, r := range rows {
		fresh[r.Model+" "+r.Format] = r
	}
	for i, r := range old {
		n, ok := fresh[r.Model+" "+r.Format]
		if !ok {
			t.Fatalf("WHISPERC_MEASURE_MEMORY_ONLY: row %s %s was not measured again (measure every row: no WHISPERC_MEASURE_ONLY, GGUF rows with WHISPERC_MEASURE_GGUF)", r.Model, r.Format)
		}
		old[i].PredictedRSS, old[i].MeasuredRSS = n.PredictedRSS, n.MeasuredRSS
	}
	oldRates.BaseBytes, oldRates.ExecutableBytes, oldRates.StartupBytes, oldRates.ReleasedBytes = rates.BaseBytes, rates.ExecutableBytes, rates.StartupBytes, rates.ReleasedBytes
	set := func(key string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		doc[key] = b
	}
	set("rows", old)
	set("rates", &oldRates)
	set("memory_measured", map[string]any{"date": time.Now().UTC().Format(time.RFC3339), "runs": measureRunCount(t),
		"note": "peak RSS (every row's predicted and measured) and the calibration's base, executable, startup and released bytes re-measured on this date with WHISPERC_MEASURE_MEMORY_ONLY=1; the speeds, rates and steps are the measurement of \"date\""})
	merged, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, append(merged, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// planGenerate writes src to wf and returns the generate stage that
// `whisperc plan --json` predicts for it under env.
func planGenerate(t *testing.T, bin string, env []string, wf, src, what string) *planner.Stage {
	t.Helper()
	if err := os.WriteFile(wf, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	pc := exec.Command(bin, "plan", "--json", wf)
	pc.Env = env
	pj, err := pc.Output()
	if err != nil {
		t.Fatalf("%s: plan: %v", what, err)
	}
	var plan planner.Plan
	if err := json.Unmarshal(pj, &plan); err != nil {
		t.Fatalf("%s: plan JSON: %v", what, err)
	}
	var gen *planner.Stage
	for i := range plan.Stages {
		if plan.Stages[i].Kind == planner.StageGenerate {
			gen = &plan.Stages[i]
		}
	}
	if gen == nil || gen.Memory == nil || gen.Time == nil {
		t.Fatalf("%s: no generate stage prediction", what)
	}
	return gen
}

// planAndRun writes src to wf, then plans and runs it WHISPERC_MEASURE_RUNS
// times (3 when unset), a plan and a run in turn, each plan timing the
// decode step afresh (an empty step cache). It returns the plan whose
// predicted decode tok/s is the median, the largest peak resident set,
// the runs' median decode tok/s, timing-line tok/s and wall time, and
// each plan's and each run's decode tok/s. On the shared 2-vCPU VM the
// machine's speed drifts by a third within a minute with nothing else
// running here (`whisperc plan` then `run` of 15M Q8_0 six times in a
// row, 09:10 UTC: plans 1470-2055 tok/s, runs 1260-1960, each run within
// 1-17% of the plan just before it), so one plan followed by the runs
// compared the plan with another minute's machine; alternated, the
// medians see the same minutes.
func planAndRun(t *testing.T, bin string, env []string, wf, src, what string) (gen *planner.Stage, hwm int64, tps, runTPS, wall float64, planEach, runEach []float64) {
	t.Helper()
	var gens []*planner.Stage
	var rs, ws []float64
	for k := range measureRunCount(t) {
		cache := filepath.Join(t.TempDir(), fmt.Sprintf("cache%d", k))
		g := planGenerate(t, bin, append(slices.Clone(env), "XDG_CACHE_HOME="+cache), wf, src, what)
		h, a, b, w := measureRun(t, bin, env, wf, what)
		gens, hwm = append(gens, g), max(hwm, h)
		planEach, runEach = append(planEach, g.Time.TokensPerSecond), append(runEach, a)
		rs, ws = append(rs, b), append(ws, w)
	}
	byRate := slices.Clone(gens)
	slices.SortFunc(byRate, func(a, b *planner.Stage) int { return cmp.Compare(a.Time.TokensPerSecond, b.Time.TokensPerSecond) })
	gen = byRate[(len(byRate)-1)/2]
	if len(gens) > 1 {
		t.Logf("%s: decode tok/s, plan and run in turn: plans %.1f, runs %.1f", what, planEach, runEach)
	}
	return gen, hwm, median(slices.Clone(runEach)), median(rs), median(ws), planEach, runEach
}

// median returns the median of x, which it sorts.
func median(x []float64) float64 {
	slices.Sort(x)
	if len(x)%2 == 0 {
		return (x[len(x)/2-1] + x[len(x)/2]) / 2
	}
	return x[len(x)/2]
}

// measureRuns runs `whisperc run wf` WHISPERC_MEASURE_RUNS times (3
// when unset) with measureRun and returns the largest peak resident set
// and the median decode tok/s, timing-line tok/s and wall time: one run
// of stories260K's 200 tokens lasts about 50 ms, and quiet runs of the
// same pipeline a minute apart differed by a third, where the plan's
// decode step is already the median of rounds of 48 steps.
func measureRuns(t *testing.T, bin string, env []string, wf, what string) (hwm int64, tps, runTPS, wall float64) {
	t.Helper()
	runs := measureRunCount(t)
	var ts, rs, ws []float64
	for range runs {
		h, a, b, w := measureRun(t, bin, env, wf, what)
		hwm = max(hwm, h)
		ts, rs, ws = append(ts, a), append(rs, b), append(ws, w)
	}
	if runs > 1 {
		t.Logf("%s: decode tok/s over %d runs: %.1f", what, runs, ts)
	}
	return hwm, median(ts), median(rs), median(ws)
}

// measureRunCount is WHISPERC_MEASURE_RUNS, 3 when unset.
func measureRunCount(t *testing.T) int {
	v := os.Getenv("WHISPERC_MEASURE_RUNS")
	if v == "" {
		return 3
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("WHISPERC_MEASURE_RUNS=%q: want a count of 1 or more", v)
	}
	return n
}

// timing is the run's timing line.
var timing = regexp.MustCompile(`(\d+) tokens in ([0-9.]+) s \(([0-9.]+) tok/s\)`)

// measureRun runs `whisperc run wf` and returns its peak resident set,
// its decode tok/s (the tokens after the first over the time after the
// first, from its track metrics), the tok/s of its timing line (the first
// token's time included) and its wall time.
//
// The peak is the process's, from the run's own record: the largest of
// its peak before the first stage (start-up and planning, with the
// executable's start-up pages, which is the peak of the smallest models)
// and its stages' (VmHWM, which the tracker resets as each stage starts).
// It used to be polled here, reading the child's /proc status every 5 ms;
// that poller took the CPU from the run's two threads, which a decode step
// keeps busy (a spinning worker), and slowed 42M q8_0's decode by 2-13%
// (four pairs, 11:10 UTC on 2026-12-07): part of the plans' ~+20%
// optimism in the quiet tables. getrusage cannot replace it: the child's
// maximum resident set counts this test process's, which it shared until
// exec.
func measureRun(t *testing.T, bin string, env []string, wf, what string) (hwm int64, tps, runTPS, wall float64) {
	t.Helper()
	// Each run's metrics are read back from runs/ beside wf: a previous
	// run's must not be found instead.
	if err := os.RemoveAll(filepath.Join(filepath.Dir(wf), "runs")); err != nil {
		t.Fatal(err)
	}
	rc := exec.Command(bin, "run", wf)
	rc.Env = env
	rc.Dir = filepath.Dir(wf)
	var stderr strings.Builder
	rc.Stderr = &stderr
	t0 := time.Now()
	if err := rc.Run(); err != nil {
		t.Fatalf("%s: run: %v\n%s", what, err, stderr.String())
	}
	wall = time.Since(t0).Seconds()
	m := timing.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("%s: no timing line in %q", what, stderr.String())
	}
	runTPS, _ = strconv.ParseFloat(m[3], 64)
	// Decode alone, as the plan predicts it: the track block's metrics
	// give the time to the first token (prefill and the graph's build).
	dir := filepath.Join(filepath.Dir(wf), "runs", strings.TrimSuffix(filepath.Base(wf), ".whisper"))
	runs, _ := filepath.Glob(filepath.Join(dir, "*", "manifest.json"))
	if len(runs) != 1 {
		t.Fatalf("%s: want one run's record under %s, found %v", what, dir, runs)
	}
	run := filepath.Dir(runs[0])
	man, err := track.ReadManifest(run)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	hwm = man.StartPeakBytes
	for _, st := range man.Stages {
		hwm = max(hwm, st.MeasuredPeakBytes)
	}
	pts, err := track.ReadPoints(run)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	metrics := map[string]float64{}
	for _, p := range pts {
		metrics[p.Name] = p.Value
	}
	gen, secs, first := metrics["generated_tokens"], metrics["seconds"], metrics["time_to_first_token"]
	if hwm == 0 || gen < 2 || secs <= first {
		t.Fatalf("%s: no peak or decode metrics in %s (peak %d, %v)", what, run, hwm, metrics)
	}
	return hwm, (gen - 1) / (secs - first), runTPS, wall
}

// trackMetrics records a run's metrics (time to the first token among
// them) under runs/ beside the .whisper file, without hashing the model.
const trackMetrics = "track {\n  backend = jsonl\n  dir = \"runs\"\n  log = [metrics]\n}\n"
