package runtime

import (
	"context"
	"fmt"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/runtime/engine"
)

// quantize checks that the runtime has a kernel for the planned
// format. The weights are quantised when the engine is built for a stage,
// with the formats that stage's graph names.
func (x *executor) quantize(_ context.Context, st *planner.Stage) *diag.Diagnostic {
	if d := st.Decision("quantization"); d != nil {
		if _, err := quantizeOf(d.Choice); err != nil {
			return x.errorf(st, "E505", "Quantisation cannot run here", "%v.", err)
		}
	}
	return nil
}

// quantizeOf maps a planned weight format to the engine's.
func quantizeOf(format string) (engine.Quantize, error) {
	switch format {
	case "fp32", "fp16", "bf16", "":
		return engine.QuantizeNone, nil
	case "nf4":
		return engine.QuantizeNF4, nil
	case "fp4":
		return engine.QuantizeFP4, nil
	case "int8":
		return engine.QuantizeInt8, nil
	case "q8_0":
		return engine.QuantizeQ8_0, nil
	}
	return engine.QuantizeInvalid, fmt.Errorf("weight format %q has no CPU kernel; use nf4, fp4, int8, q8_0 or none", format)
}
