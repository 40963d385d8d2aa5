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
	"github.com/modelwhisperer/whisperc/planner/engines"
	"github.com/modelwhisperer/whisperc/planner/hw"
	"github.com/modelwhisperer/whisperc/runtime/launch"
	"github.com/modelwhisperer/whisperc/runtime/track"
)

// engineFor returns the engine that runs prog: --engine, else hf when
// this machine has GPUs and the pipeline fine-tunes, else "" (the CPU
// runtime).
func (c runCmd) engineFor(prog *compiler.Program, h *hw.Hardware) string {
	if c.Engine != "" {
		return c.Engine
	}
	if h != nil && len(h.GPUs) > 0 && len(prog.Finetunes) > 0 {
		return "hf"
	}
	return ""
}

// runOnEngine plans prog for this machine's GPUs (or, without any, for
// the target block), writes the engine's export next to the file and runs
// it with the engine's launcher, recording the run when a track block asks.
func runOnEngine(e *env, file, engine string, prog *compiler.Program, ds diag.Diagnostics, h *hw.Hardware) error {
	color := isTerminal(e.stderr)
	var target *planner.Target
	if len(h.GPUs) > 0 {
		target = planner.FromHardware(h)
	} else {
		target, _ = planner.ResolveTarget("", prog, nil)
		if target == nil || !target.Profile.GPU {
			return usageError{fmt.Sprintf("run --engine %s: this machine has no GPU and the pipeline names no GPU target; "+
				"the engines run on GPUs (add a target block, or run on a GPU machine)", engine)}
		}
	}
	plan, pds := planner.Build(prog, target, planner.Options{Engine: engineCost(engine)})
	dir := filepath.Join(filepath.Dir(file), "export-"+engine)
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	root, err := filepath.Abs(".")
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		rel = abs
	}
	x, lds := engines.Lower(prog, plan, engines.ParseEngine(engine), engines.Options{Dir: rel, Source: filepath.ToSlash(file)})
	all := ds.Extend(pds).Extend(lds).Sorted()
	if len(all) > 0 {
		diag.WriteText(e.stderr, prog.Files, all, diag.TextOptions{Color: color})
	}
	if x == nil || all.HasErrors() {
		return exitError{exitErrors}
	}
	if err := launch.Write(dir, x); err != nil {
		return fmt.Errorf("writing the %s export: %w", engine, err)
	}
	fmt.Fprintf(e.stderr, "run: %s export written to %s\n", engine, dir)
	opts := launch.Options{Dir: dir, Stderr: e.stderr, Plan: plan}
	if err := launch.Check(x, opts); err != nil {
		return err
	}
	var rec *track.Run
	if track.Enabled(prog) {
		if rec, err = track.Start(e.ctx, prog, plan, track.Options{Version: versionString(), Hardware: h, Threads: goruntime.GOMAXPROCS(0)}); err != nil {
			return fmt.Errorf("recording the run (track block): %w", err)
		}
		opts.Observer = rec.Observer(e.ctx)
	}
	ran := map[string]bool{}
	for _, c := range x.Commands {
		ran[c.Stage] = true
	}
	var skipped []string
	for _, st := range plan.Stages {
		switch st.Kind {
		case planner.StageTrain, planner.StageGenerate, planner.StageServe, planner.StageExport:
			if !ran[st.ID] {
				skipped = append(skipped, st.ID)
			}
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintf(e.stderr, "run: %s runs %d of the pipeline's stages; not run here: %s (run generate and serve with --engine vllm, or on the CPU)\n",
			engine, len(x.Commands), strings.Join(skipped, ", "))
	}
	res, runErr := launch.Run(e.ctx, x, opts)
	for _, cmd := range x.Commands {
		st := plan.Stage(cmd.Stage)
		m := res.Metrics[cmd.Stage]
		if st == nil || st.Memory == nil || m == nil || m["peak_allocated_bytes"] == 0 {
			continue
		}
		alloc := st.Memory.TotalBytes
		for _, comp := range st.Memory.Components {
			if comp.Name == "allocator_reserve" || comp.Name == "cuda_context" {
				alloc -= comp.Bytes
			}
		}
		got := m["peak_allocated_bytes"]
		fmt.Fprintf(e.stderr, "run: %s peak allocated %.2f GiB; the plan predicted %.2f GiB (%+.1f%%)\n",
			cmd.Stage, got/(1<<30), float64(alloc)/(1<<30), 100*(float64(alloc)-got)/got)
	}
	if rec != nil {
		if err := rec.Finish(runErr, time.Now()); err != nil && runErr == nil {
			runErr = err
		}
		fmt.Fprintf(e.stderr, "run %s recorded in %s\n", rec.Manifest().ID, rec.Dir)
	}
	return runErr
}
