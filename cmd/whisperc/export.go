package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/planner/engines"
	"github.com/modelwhisperer/whisperc/planner/hw"
)

// exportCmd lowers a pipeline to an engine's files.
type exportCmd struct {
	Engine string `required:"" enum:"hf,torchtune,vllm" help:"The engine: hf (transformers + PEFT + TRL, launched by Accelerate), torchtune (tune run) or vllm (generate and serve)."`
	Out    string `short:"o" placeholder:"DIR" help:"The directory to write (default: export-ENGINE next to the file)."`
	Target string `help:"Plan for a named target instead of the target block." placeholder:"T"`
	programFlags
	File string `arg:"" help:"The .whisper file to export."`
}

func (c exportCmd) Run(e *env) error {
	prog, ds, err := checkProgram(e, c.File, c.programFlags, false)
	if err != nil {
		return err
	}
	target, tds := planner.ResolveTarget(c.Target, prog, func() (*hw.Hardware, error) { return hw.Detect(e.ctx) })
	if tds.HasErrors() {
		diag.WriteText(e.stderr, prog.Files, tds, diag.TextOptions{Color: isTerminal(e.stderr)})
		return exitError{exitUsage}
	}
	if target == nil || !target.Profile.GPU {
		return usageError{"export: the engines run on GPUs, and this plan is for the CPU; add a target block or pass --target (a100-80gb, h100-80gb*8, ...)"}
	}
	plan, pds := planner.Build(prog, target, planner.Options{Engine: engineCost(c.Engine)})
	out := c.Out
	if out == "" {
		out = filepath.Join(filepath.Dir(c.File), "export-"+c.Engine)
	}
	dir, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	root, err := filepath.Abs(".")
	if err != nil {
		return err
	}
	// The program's paths are relative to the working directory; the
	// lowering writes them relative to the export directory.
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		rel = dir
	}
	x, lds := engines.Lower(prog, plan, engines.ParseEngine(c.Engine), engines.Options{Dir: rel, Source: filepath.ToSlash(c.File)})
	all := ds.Extend(pds).Extend(lds)
	// The plan's own errors (a stage that does not fit) do not stop an
	// export; they are shown with the engine's.
	if len(all) > 0 {
		diag.WriteText(e.stderr, prog.Files, all.Sorted(), diag.TextOptions{Color: isTerminal(e.stderr)})
	}
	if x == nil {
		fmt.Fprintf(e.stderr, "export: nothing written: %s cannot run this pipeline as planned\n", c.Engine)
		return exitError{exitErrors}
	}
	for _, f := range x.Files {
		p := filepath.Join(out, filepath.FromSlash(f.Path))
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
		fmt.Fprintln(e.stdout, p)
	}
	for _, cmd := range x.Commands {
		fmt.Fprintf(e.stderr, "export: %s: cd %s && %s\n", cmd.Stage, out, strings.Join(cmd.Argv, " "))
	}
	return nil
}

// engineCost maps --engine to the memory model's engine.
func engineCost(name string) cost.Engine {
	switch name {
	case "torchtune":
		return cost.EngineTorchtune
	case "hf":
		return cost.EngineHF
	}
	return cost.EngineUnset
}
