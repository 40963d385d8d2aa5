package runtime

import (
	"context"
	"testing"
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
