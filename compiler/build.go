package compiler

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/suggest"
	"github.com/modelwhisperer/whisperc/stdlib"
)

// buildOrder is the order in which kinds are built: a kind only uses kinds
// built before it.
func buildOrder() []string {
	return []string{"version", "track", "target", "model", "dataset", "finetune", "generate", "serve", "export", "pipeline"}
}

// checkDecls checks every declaration's body and builds its typed value.
func (c *checker) checkDecls() {
	for _, kind := range buildOrder() {
		for i, d := range c.prog.Decls {
			if d.Kind != kind {
				continue
			}
			if i%64 == 0 && c.cancelled() {
				return
			}
			b := c.checkBody(evalCtx{file: d.File}, d, d.Schema, d.Site, d.Block.Body, "")
			d.Site = b.site
			c.build(d, b)
		}
	}
}

func (c *checker) build(d *Decl, b *body) {
	switch d.Kind {
	case "model":
		m := c.buildModel(d, b)
		d.Value = m
		c.prog.Models = append(c.prog.Models, m)
	case "dataset":
		ds := c.buildDataset(d, b)
		d.Value = ds
		c.prog.Datasets = append(c.prog.Datasets, ds)
	case "finetune":
		f := c.buildFinetune(d, b)
		d.Value = f
		c.prog.Finetunes = append(c.prog.Finetunes, f)
	case "generate":
		g := &Generate{Decl: d,
			Model:       c.modelRef(d, b, "model"),
			Prompt:      b.str("prompt"),
			MaxTokens:   b.integer("max_tokens"),
			Temperature: b.num("temperature"),
			TopP:        b.num("top_p"),
			TopK:        b.integer("top_k"),
			Seed:        c.seed(b),
			KVCache:     b.boolean("kv_cache"),
			Attention:   ParseAttention(b.enum("attention")),
			Compile:     ParseCompileMode(b.enum("compile")),
			IgnoreEOS:   b.boolean("ignore_eos"),
			Benchmark:   b.boolean("benchmark"),
		}
		d.Value = g
		c.prog.Generates = append(c.prog.Generates, g)
	case "serve":
		s := &Serve{Decl: d,
			Model:        c.modelRef(d, b, "model"),
			Host:         b.str("host"),
			Port:         b.integer("port"),
			MaxBatch:     b.integer("max_batch"),
			MaxQueue:     b.integer("max_queue"),
			MaxTokens:    b.integer("max_tokens"),
			Timeout:      b.integer("timeout"),
			KVCache:      b.boolean("kv_cache"),
			Attention:    ParseAttention(b.enum("attention")),
			Compile:      ParseCompileMode(b.enum("compile")),
			ChatTemplate: b.enum("chat_template"),
		}
		d.Value = s
		c.prog.Serves = append(c.prog.Serves, s)
	case "export":
		e := &Export{Decl: d,
			Model:        c.modelRef(d, b, "model"),
			Format:       ParseExportFormat(b.enum("format")),
			Quantize:     ParseExportQuant(b.enum("quantize")),
			Path:         resolvePath(d.File, b.str("path")),
			Merge:        b.boolean("merge"),
			Modelfile:    b.boolean("modelfile"),
			System:       b.str("system"),
			ChatTemplate: b.enum("chat_template"),
		}
		if e.Path == "" {
			ext := map[ExportFormat]string{ExportGGUF: ".gguf", ExportSafetensors: "", ExportMerged: ""}[e.Format]
			e.Path = resolvePath(d.File, filepath.Join("export", d.Name+ext))
		}
		if e.Format != ExportGGUF && (e.Quantize == ExportQuantQ8_0 || e.Quantize == ExportQuantQ4_0 || e.Quantize == ExportQuantQ4_K_M) {
			c.report(diag.Errorf(d.ValueRange("quantize"), "E308", "GGML quantisation needs format = gguf",
				"q8_0, q4_0 and q4_k_m are GGML block formats that only GGUF files store. Set `format = gguf`, or use quantize = none or f16."))
		}
		d.Value = e
		c.prog.Exports = append(c.prog.Exports, e)
	case "track":
		t := &Track{Decl: d,
			Backend: ParseTrackBackend(b.enum("backend")),
			Dir:     resolvePath(d.File, b.str("dir")),
			Project: b.str("project"),
		}
		for _, e := range b.get("log").elems {
			t.Log = append(t.Log, ParseLogItem(e.s))
		}
		if v := b.get("backend"); v.kind == vList {
			for _, e := range v.elems {
				if be := ParseTrackBackend(e.s); !slices.Contains(t.Backends, be) {
					t.Backends = append(t.Backends, be)
				}
			}
			if len(t.Backends) == 0 {
				c.report(diag.Errorf(v.rng, "E304", "No tracking backend",
					"An empty backend list names nowhere to record metrics. Name at least one backend, such as backend = jsonl."))
			} else {
				t.Backend = t.Backends[0]
			}
		} else if t.Backend != BackendInvalid {
			t.Backends = []TrackBackend{t.Backend}
		}
		d.Value = t
		c.prog.Track = t
	case "version":
		v := &Version{Decl: d,
			Data:        ParseVersioning(b.enum("data")),
			Checkpoints: ParseVersioning(b.enum("checkpoints")),
			Remote:      b.str("remote"),
		}
		d.Value = v
		c.prog.Version = v
	case "target":
		t := &Target{Decl: d, Profile: c.targetProfile(d, b), Count: b.integer("count")}
		for _, e := range b.get("require").elems {
			if e.kind != vCompare || e.x == nil || e.y == nil {
				continue
			}
			rhs := e.y.base()
			if e.y.kind == vBool {
				rhs = 0
				if e.y.b {
					rhs = 1
				}
			}
			text := ""
			if f := c.srcs[e.rng.Filename]; f != nil && e.rng.End.Byte <= len(f.Src) && e.rng.Start.Byte <= e.rng.End.Byte {
				text = string(f.Src[e.rng.Start.Byte:e.rng.End.Byte])
			}
			t.Require = append(t.Require, Constraint{Range: e.rng, Property: e.x.s, Op: e.op, Value: rhs, Text: text})
		}
		d.Value = t
		c.prog.Target = t
	case "pipeline":
		p := &Pipeline{Decl: d, Description: b.str("description"), Seed: b.integer("seed")}
		for _, e := range b.get("stages").elems {
			if dd := c.prog.byName[e.s]; dd != nil {
				if st, ok := dd.Value.(Stage); ok {
					p.Stages = append(p.Stages, st)
				}
			}
		}
		if d.Block.Name != nil {
			c.prog.Name = d.Name
		}
		d.Value = p
		c.prog.Pipeline = p
	}
}

// seed returns the block's seed, else the pipeline's (42 by default).
func (c *checker) seed(b *body) int {
	if b.has("seed") {
		return b.integer("seed")
	}
	if p := c.pipelineBody(); p != nil && p.has("seed") {
		return p.integer("seed")
	}
	return 42
}

// pipelineBody returns the checked pipeline block, checking it early when
// a stage needs its seed. It is checked once; the result is cached.
func (c *checker) pipelineBody() *body {
	if !c.pipelineSearched {
		c.pipelineSearched = true
		for _, d := range c.prog.Decls {
			if d.Kind == "pipeline" {
				c.pipeline = c.checkBodyQuiet(d)
				break
			}
		}
	}
	return c.pipeline
}

// checkBodyQuiet checks a body without reporting (its diagnostics are
// reported when the declaration itself is checked).
func (c *checker) checkBodyQuiet(d *Decl) *body {
	saved, savedRefs, savedUses := len(c.diags), len(c.prog.References), len(c.prog.VarUses)
	b := c.checkBody(evalCtx{file: d.File}, d, d.Schema, d.Site, d.Block.Body, "")
	c.diags = c.diags[:saved]
	c.prog.References = c.prog.References[:savedRefs]
	c.prog.VarUses = c.prog.VarUses[:savedUses]
	return b
}

// modelRef resolves a model-or-finetune reference attribute.
func (c *checker) modelRef(d *Decl, b *body, name string) ModelRef {
	v, ok := b.vals[name]
	if !ok || v.kind != vRef {
		return ModelRef{}
	}
	target := c.prog.byName[v.s]
	if target == nil {
		return ModelRef{}
	}
	switch t := target.Value.(type) {
	case *Model:
		d.Deps = append(d.Deps, target)
		return ModelRef{Model: t}
	case *Finetune:
		// An address uses a recorded output: the stage needs the base
		// model, not the finetune, which runs only when the pipeline runs
		// it anyway (every stage, or a listed one).
		if v.at != nil && t.Model != nil {
			d.Deps = append(d.Deps, t.Model.Decl)
		} else {
			d.Deps = append(d.Deps, target)
		}
		return ModelRef{Finetune: t, At: v.at}
	}
	d.Deps = append(d.Deps, target)
	return ModelRef{}
}

var hubRef = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`)
var presetName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (c *checker) buildModel(d *Decl, b *body) *Model {
	m := &Model{Decl: d, Tokenizer: resolvePath(d.File, b.str("tokenizer")), Context: b.integer("context")}
	if src, ok := b.vals["source"]; ok {
		m.Source = c.parseSource(d, src)
	}
	if q := b.nested["quantize"]; q != nil {
		method := q.enum("method")
		m.Quantize = &Quantize{Site: q.site,
			Method:    ParseDType(method),
			Double:    q.boolean("double"),
			Compute:   ParseDType(q.enum("compute")),
			BlockSize: q.integer("block_size"),
		}
		if m.Quantize.Method != QuantNF4 && m.Quantize.Method != QuantFP4 {
			if q.has("double") && q.boolean("double") {
				c.report(diag.Errorf(q.site.AttrRange("double"), "E308", "Double quantisation needs nf4 or fp4",
					"Double quantisation compresses the per-block constants of QLoRA's 4-bit formats; "+
						method+" has none to compress. Remove `double = true` or use method = nf4."))
			}
			m.Quantize.Double = false
		}
		if m.Quantize.Method == QuantQ8_0 || m.Quantize.Method == QuantQ4_0 {
			m.Quantize.BlockSize = 32
		}
		if method == "none" {
			// No quantisation: the model keeps its stored formats.
			m.Quantize = nil
		}
	}
	return m
}

// parseSource reads model.source: SCHEME:REF or a preset name.
func (c *checker) parseSource(d *Decl, v val) ModelSource {
	raw := v.s
	out := ModelSource{Raw: raw}
	bad := func(why string) ModelSource {
		c.report(diag.Errorf(v.rng, "E310", "Invalid model source", why+
			" Write hf:ORG/NAME, gguf:PATH, llama2c:PATH, safetensors:DIR, ollama:NAME:TAG or a preset name."))
		return ModelSource{Raw: raw}
	}
	scheme, rest, hasScheme := strings.Cut(raw, ":")
	if !hasScheme {
		if !presetName.MatchString(raw) {
			return bad(quote(raw) + " is neither SCHEME:REFERENCE nor a preset name.")
		}
		out.Scheme, out.Preset = SchemePreset, raw
		return out
	}
	if rest == "" {
		return bad("The source " + quote(raw) + " has nothing after the scheme.")
	}
	switch scheme {
	case "hf":
		if !hubRef.MatchString(rest) {
			return bad("A Hugging Face source is hf:ORG/NAME; " + quote(rest) + " is not.")
		}
		out.Scheme, out.Ref = SchemeHF, rest
	case "ollama":
		name, tag, _ := strings.Cut(rest, ":")
		if !presetName.MatchString(name) || (tag != "" && !presetName.MatchString(tag)) {
			return bad("An Ollama source is ollama:NAME or ollama:NAME:TAG; " + quote(rest) + " is not.")
		}
		out.Scheme, out.Ref = SchemeOllama, rest
	case "gguf", "llama2c", "safetensors":
		out.Scheme = ParseSourceScheme(scheme)
		out.Path = resolvePath(d.File, rest)
	default:
		d := diag.Errorf(v.rng, "E310", "Unknown model source scheme "+scheme,
			"The source scheme "+quote(scheme)+" is not one whisperc reads.")
		best := suggest.Closest(scheme, schemeNames()[:5])
		if l := strings.ToLower(scheme); strings.HasPrefix(l, "hug") || l == "hub" {
			best = "hf"
		}
		if best != "" {
			d.Detail += ` Did you mean "` + best + `"?`
			d.Suggestion = &diag.Suggestion{Message: "replace with", Range: v.rng, Replacement: `"` + best + ":" + rest + `"`}
		}
		d.Detail += " Write hf:ORG/NAME, gguf:PATH, llama2c:PATH, safetensors:DIR, ollama:NAME:TAG or a preset name."
		c.report(d)
		return ModelSource{Raw: raw}
	}
	return out
}

// ParseSourceScheme returns the scheme spelled s ("hf", "gguf", ...).
func ParseSourceScheme(s string) SourceScheme { return SourceScheme(enumParse(s, schemeNames())) }

func (c *checker) buildDataset(d *Decl, b *body) *Dataset {
	ds := &Dataset{Decl: d,
		Field:    b.str("field"),
		SeqLen:   b.integer("seq_len"),
		Shuffle:  b.boolean("shuffle"),
		Seed:     c.seed(b),
		Packing:  b.boolean("packing"),
		Truncate: b.boolean("truncate"),

		SkipBadRecords: b.enum("on_bad_record") == "skip",
	}
	src := b.str("source")
	if strings.HasPrefix(src, "hf:") {
		ds.Source, ds.HF = src, strings.TrimPrefix(src, "hf:")
	} else {
		ds.Source = resolvePath(d.File, src)
	}
	if e := b.get("eval"); e.kind == vQuantity {
		ds.Eval = Split{Percent: e.n, IsPercent: true}
		if e.n > 100 {
			c.report(diag.Errorf(d.ValueRange("eval"), "E304", "Value out of range for eval",
				"eval must lie in [0%, 100%]; found "+formatVal(e)+". Use a share below 100%."))
		}
	} else if e.kind == vNumber {
		ds.Eval = Split{Examples: int(e.n)}
	}
	if f, ok := b.vals["format"]; ok {
		ds.Format = ParseDataFormat(f.s)
	} else if src != "" && !b.bad["source"] {
		ds.Format = inferFormat(src)
		if ds.Format == FormatInvalid {
			c.report(diag.Errorf(d.ValueRange("source"), "E311", "Cannot tell the format of "+filepath.Base(src),
				"The dataset has no format and the extension of "+quote(src)+" does not say one. "+
					"Set `format = jsonl` (or csv, parquet, text, hf)."))
		}
	}
	if v, ok := b.vals["version"]; ok {
		ds.Version = ParseVersioning(v.s)
	} else if c.prog.Version != nil {
		ds.Version = c.prog.Version.Data
	}
	return ds
}

func formatVal(v val) string {
	if v.kind == vQuantity {
		return stdlib.Quantity{Value: v.n, Unit: v.unit.Name}.String()
	}
	return stdlib.FormatNumber(v.n)
}

// inferFormat guesses a dataset's format from its source.
func inferFormat(src string) DataFormat {
	if strings.HasPrefix(src, "hf:") {
		return FormatHF
	}
	switch strings.ToLower(filepath.Ext(src)) {
	case ".jsonl", ".json", ".ndjson":
		return FormatJSONL
	case ".csv":
		return FormatCSV
	case ".parquet":
		return FormatParquet
	case ".txt", ".text", ".md":
		return FormatText
	}
	return FormatInvalid
}

func (c *checker) buildFinetune(d *Decl, b *body) *Finetune {
	f := &Finetune{Decl: d,
		Attention: ParseAttention(b.enum("attention")),
		Compile:   ParseCompileMode(b.enum("compile")),
		Batch:     b.integer("batch"),
		GradAccum: b.integer("grad_accum"),
		Epochs:    b.integer("epochs"),
		MaxSteps:  b.integer("max_steps"),
		Precision: ParseDType(b.enum("precision")),
		Seed:      c.seed(b),

		MaxGradNorm: b.num("max_grad_norm"),
		NaN:         NaNPolicy{Patience: b.integer("nan_patience"), LRFactor: b.num("nan_lr_factor"), Rollbacks: b.integer("nan_rollbacks")},

		LossChunks:           b.integer("loss_chunks"),
		ActivationOffloading: b.boolean("activation_offloading"),
		OptimizerInBackward:  b.boolean("optimizer_in_backward"),
	}
	if v, ok := b.vals["model"]; ok {
		if t := c.prog.byName[v.s]; t != nil {
			d.Deps = append(d.Deps, t)
			f.Model, _ = t.Value.(*Model)
		}
	}
	if v, ok := b.vals["data"]; ok {
		if t := c.prog.byName[v.s]; t != nil {
			d.Deps = append(d.Deps, t)
			f.Data, _ = t.Value.(*Dataset)
		}
	}
	// method: written, else qlora over a 4-bit model, else lora.
	f.Method = ParseMethod(b.enum("method"))
	if f.Method == MethodInvalid && !b.bad["method"] {
		f.Method = MethodLoRA
		if f.Model.FourBit() {
			f.Method = MethodQLoRA
		}
	}
	lb := b.nested["lora"]
	if f.Method == MethodFull && lb != nil {
		c.report(diag.Errorf(lb.site.KindRange, "E308", "A lora block with method = full",
			"Full fine-tuning trains every weight, so LoRA settings do not apply. Remove the lora block, or set method = lora."))
	}
	if f.Method == MethodLoRA || f.Method == MethodQLoRA {
		if lb == nil {
			lb = &body{site: Site{Range: d.Range, NameRange: d.NameRange, KindRange: d.KindRange}, vals: map[string]val{}, bad: map[string]bool{}}
			lb.schema, _ = d.Schema.NestedBlock("lora")
		}
		f.LoRA = buildLoRA(lb)
		if t, ok := lb.vals["targets"]; ok && t.kind == vList && len(t.elems) == 0 {
			c.report(diag.Errorf(t.rng, "E304", "No LoRA target modules",
				"An empty targets list adapts nothing, so nothing would train. List at least one module, or write targets = attention."))
		}
	}
	switch cp := b.get("checkpointing"); cp.kind {
	case vIdent:
		f.Checkpointing = Checkpointing{Mode: ParseCheckpointMode(cp.s)}
	case vCall:
		if len(cp.elems) == 1 {
			f.Checkpointing = Checkpointing{Mode: CheckpointEvery, Every: int(cp.elems[0].n)}
		}
	}
	ob := b.nested["optimizer"]
	if ob == nil {
		ob = &body{site: Site{Range: d.Range, NameRange: d.NameRange, KindRange: d.KindRange}, vals: map[string]val{}, bad: map[string]bool{}}
		ob.schema, _ = d.Schema.NestedBlock("optimizer")
	}
	f.Optimizer = Optimizer{Site: ob.site,
		Name:        ParseOptimizerName(ob.enum("name")),
		LR:          ob.num("lr"),
		Schedule:    ParseSchedule(ob.enum("schedule")),
		WeightDecay: ob.num("weight_decay"),
	}
	w := ob.get("warmup")
	f.Optimizer.Warmup = warmupOf(w)
	if w.kind == vQuantity && w.unit.Class == stdlib.TypeCount && w.unit.Canonical != "steps" {
		c.report(diag.Errorf(w.rng, "E305", "Wrong unit for optimizer.warmup",
			"Warmup is a share of the run or a number of optimizer steps; found "+w.unit.Canonical+". Write a percentage such as 3% or a count such as 100 steps."))
	}
	if se, ok := b.vals["save_every"]; ok && se.kind == vQuantity {
		f.SaveEvery = Every{N: int(se.n), Unit: se.unit.Canonical}
		if se.unit.Canonical == "tokens" {
			c.report(diag.Errorf(se.rng, "E305", "Wrong unit for save_every",
				"Checkpoints are written between optimizer steps; expected steps or epochs, found tokens. Write a number of steps or epochs."))
		}
	}
	if ee, ok := b.vals["eval_every"]; ok && ee.kind == vQuantity {
		f.EvalEvery = Every{N: int(ee.n), Unit: ee.unit.Canonical}
		if ee.unit.Canonical == "tokens" {
			c.report(diag.Errorf(ee.rng, "E305", "Wrong unit for eval_every",
				"Evaluation runs between optimizer steps; expected steps or epochs, found tokens. Write a number of steps or epochs."))
		}
	}
	if out := b.str("output"); out != "" {
		f.Output = resolvePath(d.File, out)
	} else {
		f.Output = resolvePath(d.File, filepath.Join("checkpoints", d.Name))
	}
	if db := b.nested["distributed"]; db != nil {
		f.Distributed = &Distributed{Site: db.site,
			Strategy: ParseStrategy(db.enum("strategy")),
			GPUs:     db.integer("gpus"),
			Engine:   ParseEngine(db.enum("engine")),

			CPUOffload: db.boolean("cpu_offload"),
		}
	}
	return f
}

func buildLoRA(lb *body) *LoRA {
	l := &LoRA{Site: lb.site, Rank: lb.integer("rank"), Alpha: lb.num("alpha"), Dropout: lb.num("dropout"), RSLoRA: lb.boolean("rslora")}
	switch t := lb.get("targets"); t.kind {
	case vIdent:
		l.TargetGroup = t.s
		var names []string
		switch t.s {
		case "attention":
			names = []string{"q_proj", "k_proj", "v_proj", "o_proj"}
		case "mlp":
			names = []string{"gate_proj", "up_proj", "down_proj"}
		case "all":
			names = moduleNames()
		}
		for _, n := range names {
			l.Targets = append(l.Targets, ParseModule(n))
		}
	case vList:
		seen := map[string]bool{}
		for _, e := range t.elems {
			if !seen[e.s] {
				seen[e.s] = true
				l.Targets = append(l.Targets, ParseModule(e.s))
			}
		}
	}
	return l
}

func warmupOf(w val) Warmup {
	if w.kind != vQuantity {
		return Warmup{}
	}
	if w.unit.Name == "%" {
		return Warmup{Percent: w.n, IsPercent: true}
	}
	return Warmup{Steps: int(w.n)}
}

// targetProfile checks target.profile: a built-in profile name or alias
// (returned as the canonical name), or an .hcl file (returned resolved
// against the declaring file).
func (c *checker) targetProfile(d *Decl, b *body) string {
	v, ok := b.vals["profile"]
	if !ok {
		return ""
	}
	name := v.s
	if strings.HasSuffix(name, ".hcl") || strings.ContainsAny(name, `/\`) {
		return resolvePath(d.File, name)
	}
	if p, ok := stdlib.LookupTarget(name); ok {
		return p.Name
	}
	var cands []string
	for _, p := range stdlib.Targets() {
		cands = append(cands, p.Name)
		cands = append(cands, p.Aliases...)
	}
	e := diag.Errorf(v.rng, "E312", "Unknown target profile "+quote(name),
		"There is no built-in profile "+quote(name)+".")
	if best := suggest.Closest(strings.ToLower(name), cands); best != "" {
		e.Detail += ` Did you mean "` + best + `"?`
		e.Suggestion = &diag.Suggestion{Message: "replace with", Range: v.rng, Replacement: quote(best)}
	}
	e.Detail += " The built-in profiles are " + strings.Join(stdlib.TargetNames(), ", ") +
		"; name one of them (or an alias), or a profile file ending in .hcl."
	c.report(e)
	return name
}
