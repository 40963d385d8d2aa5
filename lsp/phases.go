package lsp

import (
	"context"
	"fmt"
	"strings"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/hw"
)

// runPhases runs whisperc's phases on the analysis's document, reading the
// document and its imports from the editor's buffers first and the disk
// second, and records the diagnostics, the checked program and the
// planner's memory estimates. It never runs a pipeline, writes a file or
// touches the network.
//
// When early is set and the plan is to run after a check without errors,
// early receives the analysis with the check's diagnostics first, so that
// they reach the editor without waiting for the planner.
func (s *server) runPhases(ctx context.Context, a *analysis, early func(*analysis)) {
	read := func(p string) ([]byte, error) {
		if uf, ok := a.unit[p]; ok {
			return uf.file.Src, nil
		}
		return s.readSource(p)
	}
	prog, diags := compiler.Check(a.doc.Path, compiler.Options{ReadFile: read, ImportDirs: a.importDirs, Parse: s.parse, Context: ctx})
	a.prog = prog
	a.diags = diags
	var setTarget *planner.Target
	if a.cfg.target != "" {
		// A bad target setting is reported (in a.settings) whatever the
		// program's state.
		var tds diag.Diagnostics
		if setTarget, tds = planner.ParseTarget(a.cfg.target, nil); tds.HasErrors() {
			// Planning against other hardware than the one asked for
			// would show figures for the wrong machine: plan nothing.
			return
		}
	}
	if ctx.Err() != nil || prog == nil {
		return
	}
	if diags.HasErrors() {
		// Keep the last plan's numbers for hover and inlay hints while the
		// text is broken; the planner needs a program that checks.
		s.mu.Lock()
		if old, ok := s.cache[a.doc.URI]; ok {
			a.memory = old.memory
		}
		s.mu.Unlock()
		return
	}
	if early != nil && len(a.doc.File.Src) >= s.earlyBytes {
		checked := *a
		checked.memory = nil
		s.mu.Lock()
		if old, ok := s.cache[a.doc.URI]; ok {
			checked.memory = old.memory
		}
		s.mu.Unlock()
		early(&checked)
	}
	if s.beforePlan != nil {
		s.beforePlan()
	}
	target := setTarget
	if target == nil {
		target = s.defaultTarget(ctx, prog)
	}
	plan, pds := planner.Build(prog, target, planner.Options{Context: ctx})
	if ctx.Err() != nil {
		return
	}
	a.diags = append(a.diags, pds...).Sorted()
	a.memory = memoryByDecl(plan)
}

// defaultTarget chooses what to plan against when no target is set (in
// the settings or on the command line): the program's own target block,
// else the machine the server runs on, detected once.
func (s *server) defaultTarget(ctx context.Context, prog *compiler.Program) *planner.Target {
	if prog.Target != nil && prog.Target.Profile != "" {
		return nil // planner.Build uses the program's target block
	}
	return planner.FromHardware(s.hardware(ctx))
}

// hardware detects this machine once per server: its GPUs through the
// driver library and its RAM. No disk probe, so nothing is written.
func (s *server) hardware(ctx context.Context) *hw.Hardware {
	s.hwOnce.Do(func() {
		h, err := hw.Detect(context.WithoutCancel(ctx))
		if err != nil {
			s.logf("hardware detection: %v", err)
		}
		s.hw = h
	})
	return s.hw
}

// memoryByDecl summarises a plan per declaration: the peak device memory
// of the stages that come from it (or, for a model, that work on it).
func memoryByDecl(plan *planner.Plan) map[string]memoryInfo {
	if plan == nil {
		return nil
	}
	out := map[string]memoryInfo{}
	add := func(name string, st planner.Stage) {
		m := st.Memory
		if name == "" || m == nil {
			return
		}
		if cur, ok := out[name]; ok && cur.Total >= m.TotalBytes {
			return
		}
		parts := make([]string, 0, len(m.Components))
		for _, c := range m.Components {
			if c.Bytes > 0 {
				parts = append(parts, fmt.Sprintf("%s %s", c.Name, formatBytes(c.Bytes)))
			}
		}
		detail := fmt.Sprintf("Peak of stage `%s`", st.ID)
		if m.Phase != "" {
			detail += " (" + m.Phase + ")"
		}
		if m.Devices > 1 {
			detail += fmt.Sprintf(", per device of %d", m.Devices)
		}
		if len(parts) > 0 {
			detail += ": " + strings.Join(parts, ", ")
		}
		if m.CapacityBytes > 0 {
			detail += fmt.Sprintf(". Capacity %s.", formatBytes(m.CapacityBytes))
		}
		out[name] = memoryInfo{Total: m.TotalBytes, Detail: detail, Fits: m.Fits, Device: plan.Target.Name, Stage: st.ID}
	}
	for _, st := range plan.Stages {
		add(st.Decl, st)
	}
	for _, st := range plan.Stages {
		if st.Model != st.Decl {
			if _, ok := out[st.Model]; !ok || st.Kind == planner.StageLoad || st.Kind == planner.StageQuantize {
				add(st.Model, st)
			}
		}
	}
	return out
}
