package planner

import (
	"context"
	"fmt"
	gguf "github.com/gpustack/gguf-parser-go"
	"os"
	"runtime/debug"
	"strings"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/input"
	"github.com/modelwhisperer/whisperc/lang/source"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/stdlib"
)

// Options configure Build.
type Options struct {
	// Arch resolves a model's architecture; nil uses ResolveArch, which
	// reads the headers of local model files and knows the presets.
	Arch func(m *compiler.Model) (arch.Config, error)
	// Engine is the training engine the memory model follows (unset:
	// Hugging Face, the engine of the measurements).
	Engine cost.Engine
	// PromptTokens counts the positions a prompt takes for a model, BOS
	// included, with the model's own tokenizer (the runtime provides it:
	// runtime.PromptTokens). Nil, or an error, estimates about four
	// characters per token and says so in the plan.
	PromptTokens func(m *compiler.Model, prompt string) (int, error)
	// DecodeStep measures the CPU runtime's decode step for a model shape,
	// weight format and compile mode on this machine: the seconds of one
	// layer and of the rest at position cost.StepPosition, and how many
	// seconds a layer's step grows per position of context (the runtime
	// provides it: runtime.DecodeStep).
	// With it, a CPU target that has measured rates (Target.CPU) predicts
	// decode speed from the runtime itself.
	// The weights are stored as block says in every transformer block and
	// as headFormat in the classifier.
	DecodeStep func(c arch.Config, block cost.BlockFormats, headFormat cost.DType, compile compiler.CompileMode) (cost.MeasuredStep, error)
	// ServeStep measures what the CPU runtime's server does with a model
	// shape on this machine: its batched decode step at batch sizes up to
	// maxBatch and the prefill of a prompt chunk of up to chunk tokens (the
	// runtime provides it: runtime.StepCalibrator.MeasureServe). With it
	// and DecodeStep, a serve stage on a CPU target with measured rates
	// predicts serving throughput from the server's own steps.
	ServeStep func(c arch.Config, block cost.BlockFormats, headFormat cost.DType, compile compiler.CompileMode, maxBatch, chunk int) (cost.MeasuredServe, error)
	// Context, when set, stops planning between stages once it is
	// cancelled (the language server's superseded analyses): the plan of
	// a cancelled Build is incomplete, never marked as fitting, and must
	// be discarded. Nil never cancels.
	Context context.Context
}

// builder carries one Build's state.
type builder struct {
	prog   *compiler.Program
	target *Target
	dev    cost.Device
	opts   Options
	plan   *Plan
	ds     diag.Diagnostics
	archs  map[*compiler.Model]*arch.Config
	stored map[*compiler.Model]int64 // weight bytes of GGUF files
	// storedTypes are the block formats of GGUF files' tensors, by name.
	storedTypes map[*compiler.Model]map[string]cost.DType
	loaded      map[*compiler.Model]string // model → ID of its last load stage
	done        map[*compiler.Finetune]string
}

// Build plans prog on target (nil: the program's target block, else the
// CPU profile). It returns the plan, partial when the program has errors,
// and the plan's diagnostics (also in Plan.Diagnostics). A stage that does
// not fit is an error (P120): `whisperc plan` exits 1.
func Build(prog *compiler.Program, target *Target, opts Options) (plan *Plan, ds diag.Diagnostics) {
	b := &builder{prog: prog, opts: opts, archs: map[*compiler.Model]*arch.Config{}, stored: map[*compiler.Model]int64{}, storedTypes: map[*compiler.Model]map[string]cost.DType{},
		loaded: map[*compiler.Model]string{}, done: map[*compiler.Finetune]string{}}
	b.plan = &Plan{FormatVersion: FormatVersion, Models: []ModelInfo{}, Stages: []Stage{}, Diagnostics: diag.Diagnostics{}}
	defer func() {
		if r := recover(); r != nil {
			var rng source.Range
			if prog != nil {
				rng = source.Range{Filename: prog.Root}
			}
			d := diag.Errorf(rng, "P199", "internal planner error",
				fmt.Sprintf("The planner failed (%v). This is a bug in whisperc; please report it with this file.\n%s", r, stackHead()))
			b.ds = append(b.ds, d)
			b.plan.Diagnostics = b.ds.Sorted()
			plan, ds = b.plan, b.plan.Diagnostics
		}
	}()
	if prog == nil {
		return b.plan, nil
	}
	b.plan.Pipeline = prog.Name
	b.resolveTarget(target)
	b.checkRequirements()
	for _, st := range prog.Stages {
		if opts.Context != nil && opts.Context.Err() != nil {
			b.plan.SetDiagnostics(b.ds)
			return b.plan, b.plan.Diagnostics
		}
		switch s := st.(type) {
		case *compiler.Finetune:
			b.finetune(s)
		case *compiler.Generate:
			b.generate(s)
		case *compiler.Serve:
			b.serve(s)
		case *compiler.Export:
			b.export(s)
		}
	}
	if len(b.plan.Models) > 0 {
		m := b.plan.Models[0]
		b.plan.Model = &m
	}
	b.plan.Fits = true
	for _, s := range b.plan.Stages {
		if s.Memory != nil && !s.Memory.Fits {
			b.plan.Fits = false
		}
	}
	b.plan.SetDiagnostics(b.ds)
	return b.plan, b.plan.Diagnostics
}

func stackHead() string {
	lines := strings.Split(string(debug.Stack()), "\n")
	if len(lines) > 16 {
		lines = lines[:16]
	}
	return strings.Join(lines, "\n")
}

func (b *builder) report(d *diag.Diagnostic) { b.ds = append(b.ds, d) }

// resolveTarget settles the target: the argument, else the program's
// target block, else the CPU.
func (b *builder) resolveTarget(t *Target) {
	if t == nil && b.prog.Target != nil && b.prog.Target.Profile != "" {
		pt := b.prog.Target
		// An unknown profile is the checker's error (E312); plan for the CPU.
		if p, ok := stdlib.LookupTarget(pt.Profile); ok {
			t = &Target{Profile: p, Count: max(pt.Count, 1), Source: "builtin"}
		}
	}
	if t == nil {
		p, _ := stdlib.LookupTarget("cpu")
		t = &Target{Profile: p, Count: 1, Source: "builtin"}
	}
	if b.prog.Target != nil && b.prog.Target.Count > 1 && t.Count == 1 && t.Source != "detected" {
		t.Count = b.prog.Target.Count
	}
	b.target = t
	b.dev = t.Device()
	p := t.Profile
	b.plan.Target = TargetInfo{Name: t.Name(), Description: p.Description, Source: t.Source, Count: t.Count, GPU: p.GPU,
		MemoryBytes: p.MemoryBytes, BandwidthBytes: p.BandwidthBytes, ComputeCapability: p.ComputeCapability,
		BF16: p.BF16, FP8: p.FP8, PeakTFLOPS: p.PeakTFLOPS}
}

// ResolveArch returns a model's architecture: from the header of a local
// llama2.c, GGUF or safetensors (config.json) model, or from the presets
// for hub references and preset names.
func ResolveArch(m *compiler.Model) (arch.Config, error) {
	src := m.Source
	switch src.Scheme {
	case compiler.SchemeLlama2C:
		f, _, err := input.Open(src.Path, "model")
		if err != nil {
			return arch.Config{}, err
		}
		defer f.Close()
		return arch.FromLlama2c(f)
	case compiler.SchemeGGUF:
		c, _, err := resolveGGUF(src.Path)
		return c, err
	case compiler.SchemeSafetensors:
		data, err := input.ReadFile(src.Path+string(os.PathSeparator)+"config.json", "model config", 1<<20)
		if err != nil {
			return arch.Config{}, err
		}
		return arch.FromHFConfig(data)
	case compiler.SchemeHF, compiler.SchemeOllama, compiler.SchemePreset:
		name := src.Ref
		if src.Scheme == compiler.SchemePreset {
			name = src.Preset
		}
		if src.Scheme == compiler.SchemeOllama {
			name = strings.ReplaceAll(name, ":", "-")
		}
		if c, ok := arch.Preset(name); ok {
			return c, nil
		}
		return arch.Config{}, fmt.Errorf("no built-in architecture for %q (presets: %s)", name, strings.Join(arch.PresetNames(), ", "))
	}
	return arch.Config{}, fmt.Errorf("unknown model source %q", src.Raw)
}

// resolveGGUF reads a GGUF header: the architecture and the bytes of its
// tensors as stored (whatever block types they use).
func resolveGGUF(path string) (arch.Config, int64, error) {
	c, n, _, err := resolveGGUFTypes(path)
	return c, n, err
}

// ggmlFormats maps the GGML block types to the cost model's formats;
// other tensors (F32, F16, BF16) are held in fp32 by the CPU runtime.
var ggmlFormats = map[gguf.GGMLType]cost.DType{
	gguf.GGMLTypeQ8_0: cost.Q8_0, gguf.GGMLTypeQ4_0: cost.Q4_0, gguf.GGMLTypeQ4_1: cost.Q4_1,
	gguf.GGMLTypeQ5_0: cost.Q5_0, gguf.GGMLTypeQ5_1: cost.Q5_1, gguf.GGMLTypeQ4_K: cost.Q4K,
	gguf.GGMLTypeQ5_K: cost.Q5K, gguf.GGMLTypeQ6_K: cost.Q6K,
}

// resolveGGUFTypes is resolveGGUF that also returns the block format of
// each block-quantised tensor, by GGUF tensor name: the CPU runtime runs
// them as stored, so the graph names them.
func resolveGGUFTypes(path string) (arch.Config, int64, map[string]cost.DType, error) {
	gf, err := arch.ParseGGUFHeader(path)
	if err != nil {
		return arch.Config{}, 0, nil, err
	}
	c, err := arch.FromGGUFFile(gf)
	types := map[string]cost.DType{}
	for _, ti := range gf.TensorInfos {
		if f, ok := ggmlFormats[ti.Type]; ok {
			types[ti.Name] = f
		}
	}
	return c, int64(gf.ModelSize), types, err
}

// arch returns the model's architecture, resolving it once.
func (b *builder) arch(m *compiler.Model) *arch.Config {
	if m == nil {
		return nil
	}
	if c, ok := b.archs[m]; ok {
		return c
	}
	resolve := b.opts.Arch
	if resolve == nil {
		resolve = ResolveArch
		path := m.Source.Path
		if m.Source.Scheme == compiler.SchemeOllama {
			// A model in the local Ollama store is planned from its GGUF
			// blob; one that is not there from the presets.
			if root, err := arch.OllamaRoot(); err == nil {
				if om, err := arch.ResolveOllama(root, m.Source.Ref); err == nil {
					path = om.Model
				}
			}
		}
		if m.Source.Scheme == compiler.SchemeGGUF || path != m.Source.Path {
			resolve = func(m *compiler.Model) (arch.Config, error) {
				c, n, types, err := resolveGGUFTypes(path)
				b.stored[m] = n
				b.storedTypes[m] = types
				return c, err
			}
		}
	}
	c, err := resolve(m)
	info := ModelInfo{Name: m.Name, Source: m.Source.Raw}
	if err != nil && m.Source.Scheme.IsFile() {
		b.report(diag.Errorf(m.ValueRange("source"), "P132", "cannot read model "+m.Name,
			fmt.Sprintf("The model's file could not be read: %v. Without its header the planner cannot know the model's "+
				"shapes, so it cannot say whether the pipeline fits. Fix the path or the file.", err)))
		b.archs[m] = nil
		b.plan.Models = append(b.plan.Models, info)
		return nil
	}
	if err != nil {
		b.report(diag.Warningf(m.ValueRange("source"), "P131", "unknown architecture for model "+m.Name,
			fmt.Sprintf("The planner could not read the model's shapes: %v. Its stages are planned without memory or time. "+
				"Use a local model file, or a source naming a built-in architecture.", err)))
		b.archs[m] = nil
		b.plan.Models = append(b.plan.Models, info)
		return nil
	}
	if m.Context > 0 {
		if trained := c.MaxSeq; trained > 0 && m.Context > trained && m.Source.Scheme.IsFile() {
			b.report(diag.Errorf(m.ValueRange("context"), "P116", "context exceeds the model's",
				fmt.Sprintf("context = %d, but %s was trained with %d positions, and whisperc does not scale rotary "+
					"positions; past %d the model produces noise. Set context to at most %d.", m.Context, m.Name, trained, trained, trained)))
		}
		c.MaxSeq = m.Context
	}
	if msg := c.Validate(); msg != "" {
		b.report(diag.Errorf(m.ValueRange("source"), "P115", "invalid architecture for model "+m.Name,
			"The model's shapes are inconsistent: "+msg+". Grouped-query attention needs the attention heads to be a "+
				"multiple of the key/value heads; use the model's own config or a built-in preset."))
		b.archs[m] = nil
		b.plan.Models = append(b.plan.Models, info)
		return nil
	}
	if m.Tokenizer != "" && m.Source.Scheme.IsFile() {
		if err := input.CheckRegular(m.Tokenizer, "tokenizer"); err != nil {
			b.report(diag.Errorf(m.ValueRange("tokenizer"), "P132", "cannot read the tokenizer of model "+m.Name,
				fmt.Sprintf("%v. A run needs it to encode prompts and data, and the plan to count them. Fix the path or the file.", err)))
		}
	}
	b.archs[m] = &c
	info = ModelInfo{Name: m.Name, Source: m.Source.Raw, Architecture: c.Name, Family: c.Family.String(), Params: c.Params(),
		Layers: c.Layers, Hidden: c.Dim, Heads: c.Heads, KVHeads: c.KVHeads, HeadDim: c.HeadSize(), FFN: c.HiddenDim,
		Vocab: c.Vocab, Context: c.MaxSeq, Tied: c.Tied, Approximation: c.Approx, Resolved: true}
	b.plan.Models = append(b.plan.Models, info)
	return &c
}

// load emits the load (and quantise) stages of a model once and returns
// the ID of the last.
func (b *builder) load(m *compiler.Model) string {
	if m == nil {
		return ""
	}
	if id, ok := b.loaded[m]; ok {
		return id
	}
	c := b.arch(m)
	st := Stage{ID: "load." + m.Name, Kind: StageLoad, Decl: m.Name, Model: m.Name}
	st.Decisions = append(st.Decisions, Decision{What: "source", Choice: m.Source.Scheme.String(), Effect: m.Source.Raw})
	if c != nil {
		st.Decisions = append(st.Decisions, Decision{What: "architecture", Choice: c.Name,
			Effect: fmt.Sprintf("%s parameters, %d layers, hidden %d, %d/%d heads, vocab %d, context %d",
				humanCount(c.Params()), c.Layers, c.Dim, c.Heads, c.KVHeads, c.Vocab, c.MaxSeq)})
	}
	b.plan.Stages = append(b.plan.Stages, st)
	id := st.ID
	if q := m.Quantize; q != nil && q.Method != compiler.DTypeInvalid {
		qs := Stage{ID: "quantize." + m.Name, Kind: StageQuantize, Decl: m.Name, Model: m.Name, After: []string{id}}
		d := Decision{What: "quantization", Choice: q.Method.String(), Rule: "ML001"}
		if c != nil {
			w := cost.Workload{Arch: *c, Storage: cost.BF16, Compute: cost.BF16, Quant: quantOf(q)}
			full := cost.Workload{Arch: *c, Storage: cost.BF16, Compute: cost.BF16}
			qb, fb := w.WeightBytes(), full.WeightBytes()
			d.SavesBytes = fb - qb
			d.Effect = fmt.Sprintf("weights %s (bf16) → %s (%.3f bits per linear weight%s; the rest bf16)", gib(fb), gib(qb),
				quantOf(q).BitsPerWeight(), map[bool]string{true: ", double quantisation", false: ""}[q.Double])
		}
		qs.Decisions = append(qs.Decisions, d)
		qt := quantOf(q)
		qs.Quantize = &Quantization{Format: qt.Type}
		if qt.Type == cost.NF4 || qt.Type == cost.FP4 {
			qs.Quantize.BlockSize, qs.Quantize.DoubleQuant = max(qt.BlockSize, 0), qt.Double
			if qs.Quantize.BlockSize == 0 {
				qs.Quantize.BlockSize = 64
			}
		}
		if !b.target.Profile.GPU {
			b.checkCPUQuant(q)
		}
		if !b.target.Profile.GPU && (q.Method == compiler.QuantNF4 || q.Method == compiler.QuantFP4) {
			qs.Decisions = append(qs.Decisions, Decision{What: "kernel", Choice: "runtime " + q.Method.String(), Rule: "P113",
				Effect: "on the CPU whisperc's own block-dequantising kernels serve; bitsandbytes is not needed"})
		}
		if b.target.Profile.GPU && b.target.Hardware != nil && b.target.Hardware.CUDA == "" && q.Method != compiler.QuantQ8_0 && q.Method != compiler.QuantQ4_0 {
			b.report(diag.Errorf(q.ValueRange("method"), "P113", q.Method.String()+" quantisation needs CUDA",
				"bitsandbytes' "+q.Method.String()+" kernels run only with a CUDA driver, and none was detected. "+
					"Install the NVIDIA driver, or plan for the CPU (--target cpu), where whisperc's own kernels serve."))
		}
		b.plan.Stages = append(b.plan.Stages, qs)
		id = qs.ID
	}
	b.loaded[m] = id
	return id
}

// CPUQuantFormats are the weight formats the CPU runtime has kernels
// for, with the 4-bit formats' one block size. A quantize block asking
// for anything else is refused at plan time (P118) on a CPU target.
var cpuQuantFormats = map[compiler.DType]bool{compiler.QuantNF4: true, compiler.QuantFP4: true, compiler.QuantQ8_0: true}

// cpuBlock4Bit is the block size of the CPU runtime's 4-bit formats.
const cpuBlock4Bit = 64

// checkCPUQuant refuses, positioned on the attribute, quantisation
// settings the CPU runtime would not execute as written.
func (b *builder) checkCPUQuant(q *compiler.Quantize) {
	switch {
	case q.Method == compiler.QuantInt8:
		b.report(diag.Errorf(q.ValueRange("method"), "P118", "int8 (LLM.int8()) cannot run on the CPU",
			"method = int8 is bitsandbytes' LLM.int8(): per-row int8 weights with the outlier features multiplied in 16 bits. "+
				"The CPU runtime has no LLM.int8() kernel. Its 8-bit format is GGML's Q8_0 (blocks of 32 int8 with one fp16 scale): "+
				"write method = \"q8_0\", or plan for a CUDA GPU."))
	case !cpuQuantFormats[q.Method]:
		b.report(diag.Errorf(q.ValueRange("method"), "P118", q.Method.String()+" cannot run on the CPU",
			fmt.Sprintf("The CPU runtime has kernels for nf4, fp4 and q8_0 weights, not for %s. Use one of those, or plan for a target that runs %s.", q.Method, q.Method)))
	case (q.Method == compiler.QuantNF4 || q.Method == compiler.QuantFP4) && q.BlockSize > 0 && q.BlockSize != cpuBlock4Bit:
		b.report(diag.Errorf(q.ValueRange("block_size"), "P118", fmt.Sprintf("block_size = %d cannot run on the CPU", q.BlockSize),
			fmt.Sprintf("The CPU runtime's %s kernels use blocks of %d weights (QLoRA's and bitsandbytes' default). Write block_size = %d or remove it.", q.Method, cpuBlock4Bit, cpuBlock4Bit)))
	}
}

// quantOf is a quantize block as the cost model's weight format (the
// same enum; the block adds its block size and double quantisation).
func quantOf(q *compiler.Quantize) cost.Quant {
	if q == nil {
		return cost.Quant{}
	}
	return cost.Quant{Type: q.Method, BlockSize: q.BlockSize, Double: q.Double}
}

// SetDiagnostics records the diagnostics of the whole pipeline (the
// checker's and the planner's) sorted, deduplicated and capped, and writes
// the summary line from that same list, so that its counts are those of the
// diagnostics printed above it, and it never says "fits" with errors.
func (p *Plan) SetDiagnostics(ds diag.Diagnostics) {
	p.Diagnostics = ds.Capped(diag.MaxPerFile)
	if p.Diagnostics == nil {
		p.Diagnostics = diag.Diagnostics{}
	}
	p.Summary = p.summary()
}

// summary is the plan's last line: the verdict, then the counts.
func (p *Plan) summary() string {
	var worst *Stage
	var worstFrac float64
	for i := range p.Stages {
		s := &p.Stages[i]
		if s.Memory == nil || s.Memory.CapacityBytes <= 0 {
			continue
		}
		f := float64(s.Memory.TotalBytes) / float64(s.Memory.CapacityBytes)
		if worst == nil || f > worstFrac {
			worst, worstFrac = s, f
		}
	}
	errs, warns, infos := p.Diagnostics.Count(diag.Error), p.Diagnostics.Count(diag.Warning), p.Diagnostics.Count(diag.Info)
	target := ""
	if p.Target.Name != "" {
		target = " on " + p.Target.Name
	}
	var verdict string
	switch {
	case worst != nil && !p.Fits:
		verdict = fmt.Sprintf("Plan: does not fit: %s needs %s of %s%s", worst.ID, gib(worst.Memory.TotalBytes),
			gib(worst.Memory.CapacityBytes), target)
	case errs > 0:
		verdict = fmt.Sprintf("Plan: not valid%s: fix the errors", target)
	case worst == nil:
		verdict = fmt.Sprintf("Plan: %s%s", nouns(len(p.Stages), "stage"), target)
	default:
		verdict = fmt.Sprintf("Plan: fits: peak %s of %s (%.0f%%, %s)%s", gib(worst.Memory.TotalBytes),
			gib(worst.Memory.CapacityBytes), 100*worstFrac, worst.ID, target)
	}
	return fmt.Sprintf("%s; %s, %s, %s.", verdict, nouns(errs, "error"), nouns(warns, "warning"), nouns(infos, "note"))
}

// nouns counts a noun: "1 device", "2 devices", "0 errors".
func nouns(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// gib renders bytes in GiB with one decimal (MiB below 1 GiB).
func gib(n int64) string {
	if n < 0 {
		return "-" + gib(-n)
	}
	if n < 1<<20 {
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	if n < 1<<30 {
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// humanCount renders a parameter count: 6.74B, 16.8M.
func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}
