package main

import (
	"encoding/json"
	"fmt"
	"os"
	goruntime "runtime"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/input"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/planner/engines"
	"github.com/modelwhisperer/whisperc/planner/hw"
	"github.com/modelwhisperer/whisperc/runtime"
)

// planCmd checks a pipeline and plans it against hardware.
type planCmd struct {
	Engine  string `enum:",hf,torchtune,vllm" default:"" help:"Plan for an engine's memory choices and report what it cannot express: hf (the default model), torchtune, vllm." placeholder:"E"`
	Target  string `help:"Plan for a named target (a100-80gb, h100-80gb*8), an HCL profile file, instead of the target block or this machine." placeholder:"T"`
	Targets bool   `help:"List the built-in targets and exit."`
	programFlags
	JSON bool   `name:"json" help:"Print the plan as JSON (format documented in spec/plan.md)."`
	Out  string `short:"o" placeholder:"PLAN.json" help:"Also save the plan, with the hardware fingerprint, variables and input hashes, for whisperc run."`
	File string `arg:"" optional:"" help:"The .whisper file to plan."`
}

func (c planCmd) Run(e *env) error {
	if c.Targets {
		return planner.WriteTargets(e.stdout)
	}
	if c.File == "" {
		return usageError{"plan: expected a .whisper file (or --targets)"}
	}
	prog, ds, err := checkProgram(e, c.File, c.programFlags, c.JSON)
	if err != nil {
		return err
	}
	// Detection runs only when neither --target nor a target block names
	// the hardware; it is remembered for -out's fingerprint.
	var detected *hw.Hardware
	detect := func() (*hw.Hardware, error) {
		h, err := hw.Detect(e.ctx)
		detected = h
		return h, err
	}
	target, tds := planner.ResolveTarget(c.Target, prog, detect)
	if c.Target != "" && tds.HasErrors() {
		diag.WriteText(e.stderr, prog.Files, tds, diag.TextOptions{Color: isTerminal(e.stderr)})
		return exitError{exitUsage}
	}
	ds = ds.Extend(tds)
	opts := planner.Options{Engine: engineCost(c.Engine), PromptTokens: runtime.PromptTokens}
	if target.Source == "detected" && !target.Profile.GPU && target.Hardware != nil {
		target.CPU = cpuRates(e, target.Hardware, true)
		steps, err := runtime.NewStepCalibrator(target.Hardware, goruntime.GOMAXPROCS(0), target.CPU)
		if err != nil {
			fmt.Fprintf(e.stderr, "whisperc: warning: %v\n", err)
		}
		opts.DecodeStep = func(c arch.Config, f cost.BlockFormats, head cost.DType, mode compiler.CompileMode) (cost.MeasuredStep, error) {
			return steps.Measure(e.ctx, c, f, head, mode)
		}
		opts.ServeStep = func(c arch.Config, f cost.BlockFormats, head cost.DType, mode compiler.CompileMode, maxBatch, chunk int) (cost.MeasuredServe, error) {
			return steps.MeasureServe(e.ctx, c, f, head, mode, maxBatch, chunk)
		}
	}
	plan, pds := planner.Build(prog, target, opts)
	if c.Engine != "" {
		// The engine's own limits, positioned on the attributes (P140, P141).
		_, eds := engines.Lower(prog, plan, engines.ParseEngine(c.Engine), engines.Options{})
		pds = pds.Extend(eds)
	}
	plan.SetDiagnostics(ds.Extend(pds))
	if c.Out != "" && !plan.Diagnostics.HasErrors() {
		if err := plan.Save(c.Out, prog, detected); err != nil {
			return fmt.Errorf("saving the plan: %w", err)
		}
	}
	if c.JSON {
		err = plan.WriteJSON(e.stdout)
	} else {
		err = plan.WriteReport(e.stdout, e.stderr, prog.Files, diag.TextOptions{Color: isTerminal(e.stderr)})
	}
	if err != nil {
		return err
	}
	if plan.Diagnostics.HasErrors() {
		if c.Out != "" {
			fmt.Fprintf(e.stderr, "plan: not saved to %s because the plan has errors\n", c.Out)
		}
		return exitError{exitErrors}
	}
	return nil
}

// checkProgram parses -var settings and checks the program rooted at file.
// When the program has errors it renders them on stderr and returns the
// exit error; otherwise it returns the program and its warnings.
//
// With asJSON, errors are instead printed on stdout as a plan document
// holding only them: a JSON consumer always gets a JSON document.
func checkProgram(e *env, file string, flags programFlags, asJSON bool) (*compiler.Program, diag.Diagnostics, error) {
	opts, err := flags.options(e, file)
	if err != nil {
		return nil, nil, err
	}
	if file == "-" {
		file = stdinName
	}
	prog, ds := compiler.Check(file, opts)
	if ds.HasErrors() && asJSON {
		p := &planner.Plan{FormatVersion: planner.FormatVersion, Pipeline: prog.Name, Stages: []planner.Stage{}}
		p.SetDiagnostics(ds)
		if err := p.WriteJSON(e.stdout); err != nil {
			return prog, ds, err
		}
		return prog, ds, exitError{exitErrors}
	}
	if ds.HasErrors() {
		diag.WriteText(e.stderr, prog.Files, ds, diag.TextOptions{Color: isTerminal(e.stderr)})
		fmt.Fprintln(e.stderr, summaryLine(ds))
		return prog, ds, exitError{exitErrors}
	}
	return prog, ds, nil
}

// cpuRates returns the CPU runtime's calibration for this machine (cached
// in the user cache directory; with measure, measured when absent, a few
// seconds), or nil: the plan then uses the nominal roofline.
//
// WHISPERC_CPU_RATES=off skips it; WHISPERC_CPU_RATES=FILE reads the rates
// from FILE (a cost.CPURates JSON document, as calibrated before), for
// reproducible plans.
func cpuRates(e *env, h *hw.Hardware, measure bool) *cost.CPURates {
	switch v := os.Getenv("WHISPERC_CPU_RATES"); v {
	case "":
	case "off":
		return nil
	default:
		data, err := input.ReadFile(v, "CPU rates", 1<<20)
		if err != nil {
			return nil
		}
		var r cost.CPURates
		if json.Unmarshal(data, &r) != nil {
			return nil
		}
		return &r
	}
	r, err := runtime.CalibrationFor(e.ctx, h, goruntime.GOMAXPROCS(0), measure)
	if err != nil {
		return nil
	}
	return r
}
