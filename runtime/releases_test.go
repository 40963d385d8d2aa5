package runtime

import (
	"testing"

	"github.com/modelwhisperer/whisperc/planner"
)

// TestReleasesOnlyGenerations checks which plans release the executable's
// startup pages before loading: a plan that generates, and neither trains
// nor serves (the serve and training memory models count the pages
// kept; planner/cost's cpuMemory and cpuTrainingMemory).
func TestReleasesOnlyGenerations(t *testing.T) {
	plan := func(kinds ...planner.StageKind) *planner.Plan {
		p := &planner.Plan{}
		for _, k := range kinds {
			p.Stages = append(p.Stages, planner.Stage{Kind: k})
		}
		return p
	}
	for _, c := range []struct {
		plan *planner.Plan
		want bool
	}{
		{plan(planner.StageLoad, planner.StageGenerate), true},
		{plan(planner.StageLoad, planner.StageQuantize, planner.StageGenerate, planner.StageExport), true},
		{plan(planner.StageLoad, planner.StageServe), false},
		{plan(planner.StageLoad, planner.StageExport, planner.StageServe), false},
		{plan(planner.StageLoad, planner.StageAdapters, planner.StageTrain, planner.StageGenerate), false},
		{plan(planner.StageLoad, planner.StageExport), false},
		{plan(), false},
	} {
		var kinds []planner.StageKind
		for _, s := range c.plan.Stages {
			kinds = append(kinds, s.Kind)
		}
		if got := releases(c.plan); got != c.want {
			t.Errorf("%v: releases %v, want %v", kinds, got, c.want)
		}
	}
}
