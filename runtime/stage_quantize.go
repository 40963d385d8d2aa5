package runtime

import (
	"context"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/cost"
)

// quantize checks a quantize stage against the graphs of the stages that
// use its model: each of their per-layer linears must be stored in the
// stage's format, block size and double quantisation, and the runtime
// must have a kernel for it. The weights are quantised when the engine is
// built for a stage, with the formats that stage's graph names.
func (x *executor) quantize(_ context.Context, st *planner.Stage) *diag.Diagnostic {
	q := st.Quantize
	if q == nil {
		return x.errorf(st, "E505", "Plan cannot run here", "Quantize stage %s has no format. Plan again.", st.ID)
	}
	switch q.Format {
	case cost.NF4, cost.FP4, cost.Q8_0:
	default:
		return x.errorf(st, "E505", "Quantisation cannot run here",
			"Stage %s stores weights as %s, which has no CPU kernel (nf4, fp4 and q8_0 have). Plan again for the CPU.", st.ID, q.Format)
	}
	for i := range x.plan.Stages {
		use := &x.plan.Stages[i]
		if use.Model != st.Model || use.Graph == nil {
			continue
		}
		for _, l := range use.Graph.Layers {
			for _, ln := range l.Linears {
				if ln.Weight != q.Format || ln.BlockSize != q.BlockSize || ln.DoubleQuant != q.DoubleQuant {
					return x.errorf(st, "E505", "Plan cannot run here",
						"Stage %s quantises %s to %s (block %d, double %v) but stage %s's layer %d stores %s as %s (block %d, double %v). "+
							"A saved plan must agree with itself; plan again.",
						st.ID, st.Model, q.Format, q.BlockSize, q.DoubleQuant, use.ID, l.Index, ln.Module, ln.Weight, ln.BlockSize, ln.DoubleQuant)
				}
			}
		}
	}
	return nil
}
