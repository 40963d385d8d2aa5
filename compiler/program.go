package compiler

import (
	"strings"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
	"github.com/modelwhisperer/whisperc/stdlib"
)

// Program is a checked .whisper program: every declaration of the root file
// and its import closure as typed Go values with defaults applied, the
// stages in dependency order, and side tables for the language server. Check
// returns a partial Program even when it reports errors; declarations that
// failed to check keep their zero-valued (invalid) fields.
type Program struct {
	// Root is the name of the (first) root file.
	Root string
	// Files holds every parsed file by name; it is usable as diag.Files.
	Files diag.FileMap
	// ASTs holds every file's syntax tree by name.
	ASTs map[string]*ast.File
	// FileOrder lists the file names: roots first, then imports in the order
	// they were found.
	FileOrder []string

	// Name is the pipeline's name: the pipeline block's name, else the root
	// file's base name without extension.
	Name     string
	Pipeline *Pipeline

	Variables []*Variable
	Models    []*Model
	Datasets  []*Dataset
	Finetunes []*Finetune
	Generates []*Generate
	Serves    []*Serve
	Exports   []*Export
	Track     *Track
	Version   *Version
	Target    *Target

	// Stages are the stages to run (finetune, generate, serve, export) in
	// dependency order: every stage after the stages it uses.
	Stages []Stage

	// Decls lists every declaration in file order, then source order.
	Decls []*Decl
	// References lists every reference to a declaration by name, for
	// go-to-definition and find-references; its Range covers the name only
	// (`sft` of `sft.output`). Variable uses are in VarUses, not here.
	References []Reference
	// VarUses lists every use of a variable (`var.NAME`).
	VarUses []VarUse

	byName map[string]*Decl
}

// Decl returns the declaration called name, or nil.
func (p *Program) Decl(name string) *Decl {
	if p == nil {
		return nil
	}
	return p.byName[name]
}

// Model returns the model called name, or nil.
func (p *Program) Model(name string) *Model {
	if d := p.Decl(name); d != nil {
		m, _ := d.Value.(*Model)
		return m
	}
	return nil
}

// Finetune returns the finetune called name, or nil.
func (p *Program) Finetune(name string) *Finetune {
	if d := p.Decl(name); d != nil {
		f, _ := d.Value.(*Finetune)
		return f
	}
	return nil
}

// Variable returns the variable called name, or nil.
func (p *Program) Variable(name string) *Variable {
	if d := p.Decl(name); d != nil {
		v, _ := d.Value.(*Variable)
		return v
	}
	return nil
}

// Site records where a block and its attributes are in the source, so that
// later phases can position their diagnostics on the attribute that causes
// them.
type Site struct {
	// Range is the whole block.
	Range source.Range
	// NameRange is the block's name, or its kind keyword when it has none.
	NameRange source.Range
	// KindRange is the block's kind keyword.
	KindRange source.Range
	attrs     []attrSite
	nested    map[string]*Site
}

type attrSite struct {
	name        string
	full, value source.Range
}

// Has reports whether the attribute was written in the source (rather than
// defaulted).
func (s *Site) Has(name string) bool {
	_, ok := s.find(name)
	return ok
}

func (s *Site) find(name string) (attrSite, bool) {
	if s == nil {
		return attrSite{}, false
	}
	if block, rest, dotted := strings.Cut(name, "."); dotted {
		return s.nested[block].find(rest)
	}
	for _, a := range s.attrs {
		if a.name == name {
			return a, true
		}
	}
	return attrSite{}, false
}

// AttrRange returns the range of `name = value` when the attribute is
// written, and the block's name otherwise (a defaulted attribute has no
// place of its own). A dotted name reaches into a nested block:
// AttrRange("lora.rank") on a finetune.
func (s *Site) AttrRange(name string) source.Range {
	if a, ok := s.find(name); ok {
		return a.full
	}
	if s == nil {
		return source.Range{}
	}
	return s.NameRange
}

// ValueRange returns the range of the attribute's value when it is written,
// and the block's name otherwise.
func (s *Site) ValueRange(name string) source.Range {
	if a, ok := s.find(name); ok {
		return a.value
	}
	if s == nil {
		return source.Range{}
	}
	return s.NameRange
}

// Decl is one top-level declaration: a named block, or an anonymous
// singleton (track, version, target, pipeline).
type Decl struct {
	Site
	Kind string
	// Name is the declared name; anonymous singletons get their kind (but
	// are not in the namespace: Program.Decl does not find them).
	Name string
	// File is the name of the declaring file.
	File string
	// Block is the syntax of the declaration.
	Block *ast.Block
	// Schema is the block kind's stdlib definition.
	Schema *stdlib.Block
	// Value is the typed declaration: *Model, *Dataset, *Finetune,
	// *Generate, *Serve, *Export, *Track, *Version, *Target, *Pipeline or
	// *Variable.
	Value any
	// Deps are the declarations this one refers to, in attribute order.
	Deps []*Decl
}

// Reference is one use of a declaration's name.
type Reference struct {
	Range source.Range
	Decl  *Decl
}

// VarUse is one use of a variable; Range covers the whole `var.NAME`.
type VarUse struct {
	Range source.Range
	Var   *Variable
}

// Stage is a declaration that does work when the pipeline runs: *Finetune,
// *Generate, *Serve or *Export.
type Stage interface {
	StageDecl() *Decl
}

// StageDecl returns the finetune's declaration.
func (f *Finetune) StageDecl() *Decl { return f.Decl }

// StageDecl returns the generate's declaration.
func (g *Generate) StageDecl() *Decl { return g.Decl }

// StageDecl returns the serve's declaration.
func (s *Serve) StageDecl() *Decl { return s.Decl }

// StageDecl returns the export's declaration.
func (e *Export) StageDecl() *Decl { return e.Decl }

// Value is a checked attribute value: a string, number, bool or quantity.
// Variables carry one; the planner may read a quantity's base value.
type Value struct {
	Type     VarType
	String   string
	Number   float64
	Bool     bool
	Quantity stdlib.Quantity
}

// Variable is a `variable` declaration with its resolved value.
type Variable struct {
	*Decl
	Description string
	// Value is the -var override, else the default. Its Type is invalid
	// when the variable has no value.
	Value Value
	// FromCommandLine reports whether -var set it.
	FromCommandLine bool
}

// Pipeline is the `pipeline` block.
type Pipeline struct {
	*Decl
	Description string
	// Stages are the listed stages, or nil when every stage runs.
	Stages []Stage
	Seed   int
}

// SourceScheme says where a model's weights come from. The zero value is
// invalid.
type SourceScheme int

// The model source schemes.
const (
	SchemeInvalid     SourceScheme = iota
	SchemeHF                       // hf:ORG/NAME
	SchemeGGUF                     // gguf:PATH
	SchemeLlama2C                  // llama2c:PATH
	SchemeSafetensors              // safetensors:DIR
	SchemeOllama                   // ollama:NAME:TAG
	SchemePreset                   // a preset name
)

func schemeNames() []string {
	return []string{"hf", "gguf", "llama2c", "safetensors", "ollama", "preset"}
}

// String returns the scheme's prefix ("hf", "gguf", ...) or "preset".
func (s SourceScheme) String() string { return enumString(int(s), schemeNames()) }

// IsFile reports whether the scheme names a local file or directory.
func (s SourceScheme) IsFile() bool {
	return s == SchemeGGUF || s == SchemeLlama2C || s == SchemeSafetensors
}

// ModelSource is a parsed model.source.
type ModelSource struct {
	Scheme SourceScheme
	// Path is the file or directory for file schemes, resolved against the
	// declaring file's directory.
	Path string
	// Ref is the hub or registry reference: "meta-llama/Llama-2-7b-hf" for
	// hf, "llama2:7b" for ollama.
	Ref string
	// Preset is the preset name for SchemePreset.
	Preset string
	// Raw is the string as written.
	Raw string
}

// Model is a `model` declaration.
type Model struct {
	*Decl
	Source ModelSource
	// Tokenizer is the resolved tokenizer path, or "".
	Tokenizer string
	// Context overrides the header's context length when non-zero.
	Context int
	// Quantize is nil when the model is not quantised.
	Quantize *Quantize
}

// Quantize is a model's `quantize` block.
type Quantize struct {
	Site
	Method    DType // never fp32/fp16/bf16/fp8: `method = none` leaves Model.Quantize nil
	Double    bool
	Compute   DType
	BlockSize int
}

// FourBit reports whether the model's weights are quantised to 4 bits.
func (m *Model) FourBit() bool {
	return m != nil && m.Quantize != nil && m.Quantize.Method.Bits() == 4
}

// Split is a dataset's evaluation split: a percentage or a number of
// examples.
type Split struct {
	Percent  float64
	Examples int
	// IsPercent reports whether Percent (rather than Examples) applies.
	IsPercent bool
}

// Dataset is a `dataset` declaration.
type Dataset struct {
	*Decl
	// Source is the resolved path, or the hf: reference as written.
	Source string
	// HF is the dataset name for hf: sources.
	HF      string
	Format  DataFormat
	Field   string
	SeqLen  int
	Eval    Split
	Shuffle bool
	Seed    int
	Packing bool
	// Truncate is `truncate = true`: examples longer than SeqLen are cut
	// instead of being bad records.
	Truncate bool
	// SkipBadRecords is `on_bad_record = skip`: bad records are skipped
	// and counted instead of stopping the run.
	SkipBadRecords bool
	// Version is the dataset's own setting or the version block's data
	// setting; invalid when neither is given.
	Version Versioning
}

// Checkpointing is a finetune's gradient-checkpointing setting.
type Checkpointing struct {
	Mode CheckpointMode
	// Every is n for every(n), else 0.
	Every int
}

// LoRA is a finetune's `lora` block.
type LoRA struct {
	Site
	Rank    int
	Alpha   float64
	Dropout float64
	// RSLoRA scales updates by alpha/√rank instead of alpha/rank.
	RSLoRA bool
	// Targets are the adapted modules, groups expanded.
	Targets []Module
	// TargetGroup is "attention", "mlp" or "all" when a group was written,
	// else "".
	TargetGroup string
}

// Warmup is a learning-rate warmup: a percentage of the run or a number
// of steps.
type Warmup struct {
	Percent   float64
	Steps     int
	IsPercent bool
}

// Optimizer is a finetune's `optimizer` block (defaults when absent).
type Optimizer struct {
	Site
	Name        OptimizerName
	LR          float64
	Schedule    Schedule
	Warmup      Warmup
	WeightDecay float64
}

// Distributed is a finetune's `distributed` block.
type Distributed struct {
	Site
	Strategy Strategy
	// GPUs is the GPU count, 0 meaning every GPU of the target.
	GPUs   int
	Engine Engine
	// CPUOffload keeps optimizer state and gradients (and sharded
	// parameters) in host memory.
	CPUOffload bool
}

// Every is a count of steps or epochs, as in `save_every = 500 steps`.
type Every struct {
	N int
	// Unit is "steps", "epochs" or "tokens".
	Unit string
}

// NaNPolicy is what a run does about steps whose loss or gradient is not
// finite: it skips them, and after Patience in a row rolls back to its last
// good state with the learning rate multiplied by LRFactor, at most
// Rollbacks times before it stops.
type NaNPolicy struct {
	Patience  int
	LRFactor  float64
	Rollbacks int
}

// Finetune is a `finetune` declaration.
type Finetune struct {
	*Decl
	Model  *Model
	Data   *Dataset
	Method Method
	// LoRA is nil for full fine-tuning.
	LoRA          *LoRA
	Checkpointing Checkpointing
	Attention     Attention
	Compile       CompileMode
	Optimizer     Optimizer
	Batch         int
	GradAccum     int
	Epochs        int
	// MaxSteps is 0 when epochs decide.
	MaxSteps  int
	Precision DType
	// SaveEvery is zero when checkpoints are written only at the end.
	SaveEvery Every
	// EvalEvery is zero when evaluation runs at the end of each epoch.
	EvalEvery Every
	// MaxGradNorm clips gradients by global norm; 0 does not clip.
	MaxGradNorm float64
	// NaN is the policy for non-finite losses and gradients.
	NaN NaNPolicy
	// Output is the resolved output directory.
	Output string
	Seed   int
	// Distributed is nil on one GPU.
	Distributed *Distributed
	// LossChunks is the number of loss chunks, 0 for the engine's own.
	LossChunks int
	// ActivationOffloading and OptimizerInBackward are the memory
	// techniques of the same names.
	ActivationOffloading bool
	OptimizerInBackward  bool
}

// ModelRef is what generate, serve and export use: a base model, or a
// finetune's output. Exactly one of the two is set in a valid program.
type ModelRef struct {
	Model    *Model
	Finetune *Finetune
	// At addresses a recorded version of Finetune's output
	// (`model = "sft@step500"`); nil means the output of this run.
	At *Checkpoint
}

// Base returns the underlying base model (the finetune's model for a
// finetune output), or nil.
func (r ModelRef) Base() *Model {
	if r.Finetune != nil {
		return r.Finetune.Model
	}
	return r.Model
}

// Decl returns the referenced declaration, or nil.
func (r ModelRef) Decl() *Decl {
	switch {
	case r.Finetune != nil:
		return r.Finetune.Decl
	case r.Model != nil:
		return r.Model.Decl
	}
	return nil
}

// Generate is a `generate` declaration.
type Generate struct {
	*Decl
	Model       ModelRef
	Prompt      string
	MaxTokens   int
	Temperature float64
	TopP        float64
	TopK        int
	Seed        int
	KVCache     bool
	Attention   Attention
	Compile     CompileMode
	IgnoreEOS   bool
	Benchmark   bool
}

// Serve is a `serve` declaration.
type Serve struct {
	*Decl
	Model     ModelRef
	Host      string
	Port      int
	MaxBatch  int
	MaxQueue  int
	MaxTokens int
	// Timeout is the per-request limit in seconds.
	Timeout      int
	KVCache      bool
	Attention    Attention
	Compile      CompileMode
	ChatTemplate string // auto, plain, chatml, llama2 or llama3
}

// Track is the `track` block.
type Track struct {
	*Decl
	// Backend is the first of Backends, every backend the block names
	// (`backend = mlflow` or `backend = [tensorboard, mlflow]`).
	Backend  TrackBackend
	Backends []TrackBackend
	// Dir is resolved against the declaring file's directory.
	Dir     string
	Project string
	Log     []LogItem
}

// Logs reports whether the track block records item.
func (t *Track) Logs(item LogItem) bool {
	if t == nil {
		return false
	}
	for _, l := range t.Log {
		if l == item {
			return true
		}
	}
	return false
}

// Version is the `version` block.
type Version struct {
	*Decl
	Data        Versioning
	Checkpoints Versioning
	Remote      string
}

// Export is an `export` declaration.
type Export struct {
	*Decl
	Model    ModelRef
	Format   ExportFormat
	Quantize ExportQuant
	// Path is the resolved output path.
	Path         string
	Merge        bool
	Modelfile    bool
	System       string
	ChatTemplate string // auto, plain, chatml, llama2 or llama3
}

// Target is the `target` block.
type Target struct {
	*Decl
	// Profile is the hardware profile's name, or "" for detected hardware.
	Profile string
	Count   int
	Require []Constraint
}

// Constraint is one `target.require` comparison: Property Op Value.
type Constraint struct {
	Range    source.Range
	Property string
	// Op is one of == != < <= > >=.
	Op string
	// Value is the right-hand side in the property's base unit (bytes for
	// sizes), 1 or 0 for booleans.
	Value float64
	// Text is the comparison as written, for messages.
	Text string
}
