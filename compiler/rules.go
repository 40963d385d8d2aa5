package compiler

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
)

// lint applies the parts of the methodology rules ML001–ML008 that depend
// on the program alone. The planner applies the hardware-dependent parts
// under the same codes.
func (c *checker) lint() {
	for _, f := range c.prog.Finetunes {
		c.lintQuantization(f)
		c.lintCheckpointing(f)
		c.lintLoRA(f)
		c.lintAttention(f)
		c.lintVersioning(f)
		if f.Compile != CompileNone && f.Compile != CompileInvalid && f.MaxSteps > 0 && f.MaxSteps < 200 {
			c.report(diag.Infof(f.ValueRange("compile"), "ML005", "Compiling a "+strconv.Itoa(f.MaxSteps)+"-step run",
				"Compilation takes minutes and recompiles when shapes change; a run of "+strconv.Itoa(f.MaxSteps)+
					" steps rarely earns that back. Use compile = none for short runs, or keep it for a long one."))
		}
	}
	for _, m := range c.prog.Models {
		c.lintQuantize(m)
	}
	for _, g := range c.prog.Generates {
		c.lintKVCache(g.Decl, g.KVCache, g.Benchmark)
		if g.Compile == CompileMaxAutotune {
			c.report(diag.Infof(g.ValueRange("compile"), "ML005", "max_autotune for a single generation",
				"Autotuning benchmarks kernel variants for minutes, longer than one generation takes. "+
					"Use compile = reduce_overhead for decoding, or none for short jobs."))
		}
	}
	for _, s := range c.prog.Serves {
		c.lintKVCache(s.Decl, s.KVCache, false)
	}
	c.lintTracking()
}

// lintQuantization is ML001 for a finetune: QLoRA needs a 4-bit base, and
// full fine-tuning cannot update quantised weights.
func (c *checker) lintQuantization(f *Finetune) {
	if f.Model == nil {
		return
	}
	switch {
	case f.Method == MethodQLoRA && !f.Model.FourBit():
		what := "has no quantize block"
		if f.Model.Quantize != nil {
			what = "is quantised to " + f.Model.Quantize.Method.String() + ", not 4 bits"
		}
		d := diag.Errorf(f.AttrRange("method"), "ML001", "QLoRA over a model that is not 4-bit",
			"method = qlora trains adapters over a base model stored in 4-bit NormalFloat, but model "+f.Model.Name+" "+what+". "+
				"Add `quantize { method = nf4, double = true, compute = bf16 }` to "+f.Model.Name+", or set method = lora.")
		d.Notes = []diag.Note{{Range: f.Model.NameRange, Message: "model " + f.Model.Name + " is declared here"}}
		c.report(d)
	case f.Method == MethodFull && f.Model.Quantize != nil:
		d := diag.Errorf(f.AttrRange("method"), "ML001", "Full fine-tuning of a quantised model",
			"Model "+f.Model.Name+" is stored as "+f.Model.Quantize.Method.String()+"; quantised weights are frozen and cannot "+
				"receive updates. Train adapters with method = qlora (or lora), or remove the quantize block.")
		d.Notes = []diag.Note{{Range: f.Model.Quantize.KindRange, Message: "quantised here"}}
		c.report(d)
	}
}

// lintQuantize is ML001 for a model's quantize block.
func (c *checker) lintQuantize(m *Model) {
	q := m.Quantize
	if q == nil {
		return
	}
	if q.Method == QuantFP4 {
		d := diag.Infof(q.ValueRange("method"), "ML001", "fp4 where nf4 does better",
			"QLoRA found 4-bit NormalFloat more accurate than 4-bit float at the same size, because weights are "+
				"normally distributed. Use method = nf4.")
		d.Suggestion = &diag.Suggestion{Message: "replace with", Range: q.ValueRange("method"), Replacement: "nf4"}
		c.report(d)
	}
	if q.Compute == DTypeFP32 && q.Method.Bits() == 4 {
		c.report(diag.Infof(q.ValueRange("compute"), "ML001", "4-bit weights computed in fp32",
			"Dequantising to fp32 doubles the memory traffic of every matrix multiplication for no accuracy "+
				"QLoRA could measure. Use compute = bf16 (or fp16 on GPUs before Ampere)."))
	}
}

// paramsInName finds a parameter count such as "7b" or "1.1B" in a model
// source.
var paramsInName = regexp.MustCompile(`(?i)(?:^|[^a-z0-9.])(\d+(?:\.\d+)?)b(?:$|[^a-z0-9])`)

// billionsOf returns the parameter count, in billions, that a model's
// source names, or 0.
func billionsOf(m *Model) float64 {
	if m == nil {
		return 0
	}
	s := m.Source.Ref + " " + m.Source.Preset
	if m.Source.Path != "" {
		s += " " + m.Source.Path
	}
	best := 0.0
	for _, sub := range paramsInName.FindAllStringSubmatch(s, -1) {
		if v, err := strconv.ParseFloat(sub[1], 64); err == nil && v > best {
			best = v
		}
	}
	return best
}

// lintCheckpointing is the program-only part of ML002: a model of 7B or
// more trained without checkpointing.
func (c *checker) lintCheckpointing(f *Finetune) {
	if f.Checkpointing.Mode != CheckpointNone {
		return
	}
	b := billionsOf(f.Model)
	if b < 7 || c.hasErrorIn(f.AttrRange("checkpointing")) {
		// Below 7B it rarely matters; with an error on the attribute
		// (a mistyped value), the user did ask for checkpointing.
		return
	}
	c.report(diag.Infof(f.AttrRange("checkpointing"), "ML002", "No gradient checkpointing for "+f.Model.Name+" ("+strconv.FormatFloat(b, 'g', -1, 64)+"B parameters)",
		"Without checkpointing every layer's activations stay in memory for the backward pass; at billions of "+
			"parameters they usually outweigh the weights. `whisperc plan` tells whether they fit your target. "+
			"Set checkpointing = selective (about 3% more compute) or full, or keep none knowingly."))
}

// lintLoRA is ML003: rank outside 16–32, adapters on MLP modules.
func (c *checker) lintLoRA(f *Finetune) {
	l := f.LoRA
	if l == nil {
		return
	}
	if l.Rank > 0 && (l.Rank < 16 || l.Rank > 32) {
		why := "Above 32, adapter memory and optimizer state grow with the rank for no gain LoRA or QLoRA measured, " +
			"and small datasets overfit."
		if l.Rank < 16 {
			why = "Below 16 the adapters have little headroom for tasks far from pre-training, though LoRA found " +
				"low ranks enough for many."
		}
		d := diag.Warningf(l.AttrRange("rank"), "ML003", "LoRA rank "+strconv.Itoa(l.Rank)+" is outside 16–32",
			why+" Set rank between 16 and 32 (with alpha = 2 × rank), or keep this value knowingly.")
		c.report(d)
	}
	var mlp []string
	for _, m := range l.Targets {
		if m == ModuleGateProj || m == ModuleUpProj || m == ModuleDownProj {
			mlp = append(mlp, m.String())
		}
	}
	if len(mlp) > 0 {
		c.report(diag.Infof(l.AttrRange("targets"), "ML003", "LoRA on MLP modules",
			"Adapters on "+strings.Join(mlp, ", ")+" roughly triple the adapter's size; QLoRA found they help "+
				"match full fine-tuning, LoRA got most of the gain from attention alone. Use targets = attention "+
				"unless the task needs every linear layer."))
	}
}

// lintAttention is ML006 for training: eager attention.
func (c *checker) lintAttention(f *Finetune) {
	if f.Attention != AttentionEager {
		return
	}
	d := diag.Infof(f.ValueRange("attention"), "ML006", "Eager attention in training",
		"Eager attention materialises a seq_len × seq_len matrix per head and keeps it for the backward pass: "+
			"memory quadratic in sequence length. Use attention = auto (flash2 where the GPU supports it, sdpa otherwise).")
	d.Suggestion = &diag.Suggestion{Message: "replace with", Range: f.ValueRange("attention"), Replacement: "auto"}
	c.report(d)
}

// lintKVCache is ML004: kv_cache = false outside a benchmark.
func (c *checker) lintKVCache(d *Decl, kv, benchmark bool) {
	if kv || benchmark || !d.Has("kv_cache") {
		return
	}
	w := diag.Warningf(d.AttrRange("kv_cache"), "ML004", "Decoding without a KV cache",
		"Without the cache each new token recomputes keys and values for the whole prefix: O(n²) work for n "+
			"tokens instead of O(n). Remove kv_cache = false, or set benchmark = true if this is a baseline.")
	w.Suggestion = &diag.Suggestion{Message: "replace with", Range: d.ValueRange("kv_cache"), Replacement: "true"}
	c.report(w)
}

// lintTracking is ML007: training without a track block, or a track block
// that leaves out what reproducing a run needs.
func (c *checker) lintTracking() {
	if len(c.prog.Finetunes) == 0 {
		return
	}
	t := c.prog.Track
	if t == nil {
		f := c.prog.Finetunes[0]
		c.report(diag.Warningf(f.NameRange, "ML007", "Training without experiment tracking",
			"Finetune "+f.Name+" runs, but nothing records its configuration, base-model hash, commit, hardware and "+
				"metrics, so the result cannot be tied to what produced it. Add `track { backend = tensorboard }`."))
		return
	}
	var missing []string
	for _, item := range []LogItem{LogConfig, LogModelHash, LogCommit} {
		if !t.Logs(item) {
			missing = append(missing, item.String())
		}
	}
	if len(missing) > 0 && t.Has("log") {
		c.report(diag.Infof(t.AttrRange("log"), "ML007", "Tracking leaves out "+strings.Join(missing, ", "),
			"A run is reproducible only with its resolved config, base-model hash and commit. Add "+
				strings.Join(missing, ", ")+" to log, or remove log to record everything."))
	}
}

// lintVersioning is ML008: the finetune's data or checkpoints unversioned.
func (c *checker) lintVersioning(f *Finetune) {
	if ds := f.Data; ds != nil && ds.Version == VersioningInvalid {
		d := diag.Warningf(ds.NameRange, "ML008", "Dataset "+ds.Name+" is not versioned",
			"Finetune "+f.Name+" trains on "+ds.Name+", but no version records which data that was, so the run "+
				"cannot be reproduced or audited. Set `version = dvc` on the dataset, add `version { data = dvc }`, "+
				"or write `version = none` to record the decision.")
		c.report(d)
	}
	if c.prog.Version == nil {
		c.report(diag.Warningf(f.NameRange, "ML008", "Checkpoints of "+f.Name+" are not versioned",
			"Nothing versions the checkpoints "+f.Name+" writes, so a result cannot be traced back to its weights. "+
				"Add `version { checkpoints = dvc }` (or git_lfs), or `checkpoints = none` to record the decision."))
	}
}

// refersTo reports whether expression e mentions the declaration name.
func refersTo(e ast.Expr, name string) bool {
	found := false
	if e == nil {
		return false
	}
	ast.Inspect(e, func(n ast.Node) bool {
		if r, ok := n.(*ast.Reference); ok && len(r.Parts) > 0 && r.Parts[0].Name == name {
			found = true
		}
		return !found
	})
	return found
}

// hasErrorIn reports whether an error was reported within r.
func (c *checker) hasErrorIn(r source.Range) bool {
	for _, d := range c.diags {
		if d.Severity == diag.Error && d.Subject != nil && d.Subject.Filename == r.Filename &&
			r.Start.Byte <= d.Subject.Start.Byte && d.Subject.End.Byte <= r.End.Byte {
			return true
		}
	}
	return false
}
