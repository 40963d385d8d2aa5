package training

import "testing"

// TestNames round-trips every value's spelling and keeps the zero value
// and out-of-range values invalid.
func TestNames(t *testing.T) {
	check := func(what string, n int, str func(int) string, parse func(string) int) {
		t.Helper()
		for v := 1; v <= n; v++ {
			if got := parse(str(v)); got != v {
				t.Errorf("%s %d: %q parses to %d", what, v, str(v), got)
			}
		}
		if str(0) != "invalid" || str(n+1) != "invalid" || str(-1) != "invalid" || parse("nope") != 0 || parse("invalid") != 0 {
			t.Errorf("%s: zero, unknown and out-of-range values must be invalid", what)
		}
	}
	check("method", len(Methods()), func(v int) string { return Method(v).String() }, func(s string) int { return int(ParseMethod(s)) })
	check("checkpointing", len(Checkpointings()), func(v int) string { return Checkpointing(v).String() }, func(s string) int { return int(ParseCheckpointing(s)) })
	check("optimizer", len(Optimizers()), func(v int) string { return Optimizer(v).String() }, func(s string) int { return int(ParseOptimizer(s)) })
	check("schedule", len(Schedules()), func(v int) string { return Schedule(v).String() }, func(s string) int { return int(ParseSchedule(s)) })
	check("format", len(DataFormats()), func(v int) string { return DataFormat(v).String() }, func(s string) int { return int(ParseDataFormat(s)) })
	if !LoRA.Adapters() || !QLoRA.Adapters() || Full.Adapters() || MethodInvalid.Adapters() {
		t.Error("Adapters is LoRA and QLoRA")
	}
	if b, _ := PagedAdamW8bit.MarshalText(); string(b) != "paged_adamw_8bit" {
		t.Errorf("MarshalText = %q", b)
	}
}
