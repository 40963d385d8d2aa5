package main

import (
	"fmt"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/hw"
	"github.com/modelwhisperer/whisperc/runtime"
	"github.com/modelwhisperer/whisperc/runtime/track"
)

// runCmd compiles a pipeline, plans it for this machine and executes it,
// or executes a saved plan after checking that it still holds.
type runCmd struct {
	File string `arg:"" help:"The .whisper file to run, or a saved plan (.json) from whisperc plan -out."`
	programFlags
	Engine string `enum:",hf,torchtune,vllm" default:"" placeholder:"E" help:"Hand the pipeline's GPU stages to an engine (hf, torchtune, vllm) through its own launcher. On a machine with GPUs a finetune goes to hf unless another is named."`
}

// Run checks the file, plans it for the detected hardware and executes
// the plan. Generated text goes to stdout and nothing else does;
// diagnostics, the timing line and progress go to stderr.
func (c runCmd) Run(e *env) error {
	color := isTerminal(e.stderr)
	var plan *planner.Plan
	report := func(files diag.Files, ds diag.Diagnostics) error {
		if code, ok := e.stopped(); ok && (code == exitBrokenPipe || ds.HasErrors() || !servesOnly(plan)) {
			// Interrupted, or stdout closed: what failed because of it
			// is not the user's mistake. whisperc says "interrupted"
			// (exit 130), or nothing when the reader of stdout left
			// (141). A server that drains on the signal exits 0.
			return exitError{code}
		}
		if len(ds) > 0 {
			diag.WriteText(e.stderr, files, ds, diag.TextOptions{Color: color})
		}
		if ds.HasErrors() {
			return exitError{exitErrors}
		}
		return nil
	}
	h, err := hw.Detect(e.ctx)
	if err != nil {
		return fmt.Errorf("detecting the hardware: %w", err)
	}
	var prog *compiler.Program
	var ds diag.Diagnostics
	if strings.HasSuffix(c.File, ".json") {
		if len(c.Var) > 0 {
			return usageError{"--var cannot change a saved plan; plan again with the new values"}
		}
		if plan, prog, ds, err = loadSaved(c.File, h); err != nil {
			return err
		}
		if ds.HasErrors() {
			return report(prog.Files, ds)
		}
	} else {
		opts, err := c.options(e, c.File)
		if err != nil {
			return err
		}
		if c.File == "-" {
			c.File = stdinName
		}
		prog, ds = compiler.Check(c.File, opts)
		if ds.HasErrors() {
			return report(prog.Files, ds)
		}
		if engine := c.engineFor(prog, h); engine != "" {
			return runOnEngine(e, c.File, engine, prog, ds, h)
		}
		var pds diag.Diagnostics
		// The Gorgonia backend executes on the CPU, so the plan is for this
		// machine's CPU and RAM even where it has GPUs.
		cpu := *h
		cpu.GPUs = nil
		target := planner.FromHardware(&cpu)
		// Only a cached calibration: measuring here would raise this
		// process's peak memory above the plan's (whisperc plan measures).
		target.CPU = cpuRates(e, &cpu, false)
		plan, pds = planner.Build(prog, target, planner.Options{PromptTokens: runtime.PromptTokens})
		if ds = append(ds, pds...); ds.HasErrors() {
			return report(prog.Files, ds)
		}
	}
	streams := runtime.Streams{Stdout: e.stdout, Stderr: e.stderr, Progress: color}
	var rec *track.Run
	if track.Enabled(prog) {
		if rec, err = track.Start(e.ctx, prog, plan, track.Options{Version: versionString(), Hardware: h, Threads: goruntime.GOMAXPROCS(0)}); err != nil {
			return fmt.Errorf("recording the run (track block): %w", err)
		}
		streams.Observer = rec.Observer(e.ctx)
	}
	ds = append(ds, runtime.Execute(e.ctx, plan, prog, streams)...)
	if rec != nil {
		for _, line := range rec.Report {
			fmt.Fprintf(e.stderr, "track: %s\n", line)
		}
		// The observer completed the record when the run ended; Finish
		// returns what failed while recording.
		var runErr error
		if ds.HasErrors() {
			runErr = ds.Errs()
		}
		if err := rec.Finish(runErr, time.Now()); err != nil {
			report(prog.Files, ds)
			return err
		}
		fmt.Fprintf(e.stderr, "run %s recorded in %s\n", rec.Manifest().ID, rec.Dir)
	}
	return report(prog.Files, ds)
}

// loadSaved reads a saved plan, checks its program again with the
// variables it was planned with, and reports E504 for every way the plan
// no longer matches the program, the model files or this machine.
func loadSaved(name string, h *hw.Hardware) (*planner.Plan, *compiler.Program, diag.Diagnostics, error) {
	plan, err := planner.Load(name)
	if err != nil {
		return nil, nil, nil, err
	}
	if plan.Saved == nil || len(plan.Saved.Inputs) == 0 {
		return nil, nil, nil, fmt.Errorf("%s: the plan was saved without its inputs; plan again with whisperc plan -out", name)
	}
	if plan.Target.GPU {
		return nil, nil, nil, fmt.Errorf("%s: the plan was made for %s, a GPU target, but whisperc run executes on this machine's CPU; "+
			"plan again with --target cpu (or no target on a CPU machine), or run the .whisper file", name, plan.Target.Name)
	}
	// A saved plan is untrusted input: it may only name a .whisper file,
	// so that nothing else is read and shown in diagnostics.
	if root := plan.Saved.Inputs[0].Path; !strings.HasSuffix(root, compiler.SourceExt) {
		return nil, nil, nil, fmt.Errorf("%s: the plan's input %q is not a .whisper file; a saved plan names the pipeline it was made from. "+
			"Plan again with whisperc plan -out", name, filepath.Base(root))
	}
	prog, ds := compiler.Check(plan.Saved.Inputs[0].Path, compiler.Options{Vars: plan.Saved.Variables})
	changes, err := plan.Changes(prog, h)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, ch := range changes {
		ds = append(ds, &diag.Diagnostic{Severity: diag.Error, Code: "E504", Summary: "Saved plan is stale",
			Detail: fmt.Sprintf("%s: %s since the plan was made, so its predictions no longer hold. Plan again (whisperc plan -out %s ...) or run the .whisper file directly.", name, ch, name)})
	}
	if !ds.HasErrors() {
		// What the runtime would not obey as written is refused; the
		// graphs are obeyed node by node or refused by the runtime.
		cpu := *h
		cpu.GPUs = nil
		fresh, _ := planner.Build(prog, planner.FromHardware(&cpu), planner.Options{PromptTokens: runtime.PromptTokens})
		for _, ed := range plan.Edits(fresh) {
			ds = append(ds, &diag.Diagnostic{Severity: diag.Error, Code: "E504", Summary: "Saved plan was edited",
				Detail: fmt.Sprintf("%s: %s. The runtime executes a saved plan exactly as written or not at all; plan again (whisperc plan -out %s ...) or run the .whisper file directly.", name, ed, name)})
		}
	}
	return plan, prog, ds, nil
}

// servesOnly reports whether the plan ends with a serve stage. A run
// interrupted while serving drains and exits 0: every stage before the
// server completed (an interrupt before the serve stage fails that stage).
func servesOnly(p *planner.Plan) bool {
	return p != nil && len(p.Stages) > 0 && p.Stages[len(p.Stages)-1].Kind == planner.StageServe
}
