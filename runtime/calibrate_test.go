package runtime

import (
	"context"
	"os"
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
)

// TestCalibrate checks that the calibration measures every format the
// CPU runtime stores and every compile mode, with plausible values.
func TestCalibrate(t *testing.T) {
	if testing.Short() {
		t.Skip("calibration takes a few seconds")
	}
	r, err := Calibrate(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"fp32", "nf4", "fp4", "q8_0"} {
		pts := r.Stream[f]
		if len(pts) < 3 {
			t.Fatalf("%s: %d points", f, len(pts))
		}
		for _, p := range pts {
			if p.BytesPerSecond < 1e8 || p.BytesPerSecond > 1e12 {
				t.Errorf("%s at %d bytes: %.3g B/s", f, p.Bytes, p.BytesPerSecond)
			}
		}
	}
	for _, m := range []string{"none", "default", "reduce_overhead", "max_autotune"} {
		if r.LayerSeconds[m] <= 0 || r.LayerSeconds[m] > 0.1 || r.TokenSeconds[m] < 0 {
			t.Errorf("%s: layer %.3g s, token %.3g s", m, r.LayerSeconds[m], r.TokenSeconds[m])
		}
	}
	if r.BaseBytes <= 0 {
		t.Errorf("base %d bytes", r.BaseBytes)
	}
	t.Logf("%+v", r)
}

// TestDecodeStep checks that the decode step is measured for every
// weight format the CPU runtime stores, on weights mapped from a
// temporary file that is gone afterwards.
func TestDecodeStep(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	c := arch.Config{Name: "step", Family: arch.Llama, Dim: 64, HiddenDim: 172, Layers: 5, Heads: 8, KVHeads: 4, Vocab: 512, MaxSeq: 512, Tied: true}
	for _, f := range []cost.DType{cost.FP32, cost.Q8_0, cost.NF4, cost.FP4} {
		layer, head, pos, err := DecodeStep(context.Background(), c, f, cost.FP32, compiler.CompileDefault, 1)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// A position of context costs a layer less than its whole step.
		if layer <= 0 || layer > 0.1 || head <= 0 || head > 0.1 || pos < 0 || pos > layer {
			t.Errorf("%s: layer %.3g s, head %.3g s, %.3g s a position", f, layer, head, pos)
		}
		t.Logf("%s: layer %.1f us, head %.1f us, %.3f us a position", f, 1e6*layer, 1e6*head, 1e6*pos)
	}
	short := c
	short.MaxSeq = 64
	if _, _, pos, err := DecodeStep(context.Background(), short, cost.FP32, cost.FP32, compiler.CompileDefault, 1); err != nil || pos != 0 {
		t.Errorf("a 64-position shape: %v, %.3g s a position, want none measured", err, pos)
	}
	if _, _, _, err := DecodeStep(context.Background(), c, cost.BF16, cost.FP32, compiler.CompileDefault, 1); err == nil {
		t.Error("bf16 has no CPU kernel, yet its step was measured")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the step model's temporary files are left behind: %v", left)
	}
}
