package launch

import "testing"

// FuzzParseLine feeds engine output lines (outside input) to the metric
// parser: it must never panic, whatever the engine prints.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		`whisperc-metrics {"peak_allocated_bytes": 7000000000}`,
		`whisperc-decisions {"linear4bit": 224, "attn_implementation": "sdpa"}`,
		"{'loss': 1.5, 'grad_norm': 0.25, 'learning_rate': 0.0002, 'epoch': 0.5}",
		"Step 12 | loss:1.0625 lr:0.0003 peak_memory_alloc:9.87",
		`whisperc-data {"records": 10, "skipped": 2, "problems": ["d.jsonl:3: invalid JSON"]}`,
		`whisperc-guard {"event": "rollback", "lr_scale": 0.5, "rollback": 1, "step": 8}`,
		"whisperc-metrics {", "{'loss': nan}", "Step 99999999999999999999 | a:b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		res := Result{Metrics: map[string]map[string]float64{}, Decisions: map[string]map[string]any{}}
		parseLine("train.x", line, &res, nil)
	})
}
