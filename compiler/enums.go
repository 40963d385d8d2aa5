package compiler

import (
	"fmt"

	"github.com/modelwhisperer/whisperc/stdlib/attention"
	"github.com/modelwhisperer/whisperc/stdlib/dtype"
	"github.com/modelwhisperer/whisperc/stdlib/training"
)

// The typed enums of a checked program. Each zero value is invalid, so a
// field the checker forgot to set is detectable; String returns the
// .whisper spelling.

// DType is a number format: the quantisation format of a model's frozen
// weights (model.quantize.method, where `none` is no quantize block) and
// the compute type (quantize.compute, finetune.precision). It is the one
// enum of number formats, dtype.DType, which the planner and runtime use
// too. The zero value is invalid.
type DType = dtype.DType

// The values of DType the language spells.
const (
	DTypeInvalid = dtype.Invalid
	DTypeFP32    = dtype.FP32 // fp32
	DTypeFP16    = dtype.FP16 // fp16
	DTypeBF16    = dtype.BF16 // bf16
	DTypeFP8     = dtype.FP8  // fp8
	QuantNF4     = dtype.NF4  // nf4
	QuantFP4     = dtype.FP4  // fp4
	QuantInt8    = dtype.Int8 // int8
	QuantQ8_0    = dtype.Q8_0 // q8_0
	QuantQ4_0    = dtype.Q4_0 // q4_0
)

// ParseDType returns the DType spelled s, or DTypeInvalid.
func ParseDType(s string) DType {
	d, _ := dtype.Parse(s)
	return d
}

// Method is how a finetune updates the weights (finetune.method): the one
// enum of methods, training.Method, which the planner and runtime use too.
// The zero value is invalid.
type Method = training.Method

// The values of Method.
const (
	MethodInvalid = training.MethodInvalid
	MethodFull    = training.Full  // full
	MethodLoRA    = training.LoRA  // lora
	MethodQLoRA   = training.QLoRA // qlora
)

func methodNames() []string { return training.MethodNames() }

// ParseMethod returns the Method spelled s, or MethodInvalid.
func ParseMethod(s string) Method { return training.ParseMethod(s) }

// CheckpointMode is the gradient-checkpointing mode
// (finetune.checkpointing): the one enum of modes, training.Checkpointing.
// The zero value is invalid.
type CheckpointMode = training.Checkpointing

// The values of CheckpointMode.
const (
	CheckpointInvalid   = training.CheckpointInvalid
	CheckpointNone      = training.CheckpointNone      // none
	CheckpointFull      = training.CheckpointFull      // full
	CheckpointSelective = training.CheckpointSelective // selective
	CheckpointEvery     = training.CheckpointEvery     // every
)

func checkpointModeNames() []string { return training.CheckpointingNames() }

// ParseCheckpointMode returns the CheckpointMode spelled s, or CheckpointInvalid.
func ParseCheckpointMode(s string) CheckpointMode { return training.ParseCheckpointing(s) }

// Attention is the attention kernel an attention attribute requests: the
// one enum of attention kernels, attention.Kernel, which the planner and
// runtime use too. The zero value is invalid.
type Attention = attention.Kernel

// The values of Attention.
const (
	AttentionInvalid = attention.Invalid
	AttentionEager   = attention.Eager  // eager
	AttentionSDPA    = attention.SDPA   // sdpa
	AttentionFlash2  = attention.Flash2 // flash2
	AttentionAuto    = attention.Auto   // auto
)

func attentionNames() []string { return []string{"eager", "sdpa", "flash2", "auto"} }

// ParseAttention returns the Attention spelled s, or AttentionInvalid.
func ParseAttention(s string) Attention {
	a, _ := attention.Parse(s)
	return a
}

// CompileMode is the graph compilation mode (compile attributes). The zero value is invalid.
type CompileMode int

// The values of CompileMode.
const (
	CompileInvalid        CompileMode = iota
	CompileNone                       // none
	CompileDefault                    // default
	CompileReduceOverhead             // reduce_overhead
	CompileMaxAutotune                // max_autotune
)

func compileModeNames() []string {
	return []string{"none", "default", "reduce_overhead", "max_autotune"}
}

// String returns the value's .whisper spelling, or "invalid".
func (v CompileMode) String() string { return enumString(int(v), compileModeNames()) }

// ParseCompileMode returns the CompileMode spelled s, or CompileInvalid.
func ParseCompileMode(s string) CompileMode { return CompileMode(enumParse(s, compileModeNames())) }

// MarshalText renders the mode by its .whisper spelling (plan JSON).
func (v CompileMode) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText parses a mode's .whisper spelling; an unknown one is an
// error.
func (v *CompileMode) UnmarshalText(b []byte) error {
	*v = ParseCompileMode(string(b))
	if *v == CompileInvalid {
		return fmt.Errorf("unknown compile mode %q (want none, default, reduce_overhead or max_autotune)", b)
	}
	return nil
}

// OptimizerName is the optimizer (finetune.optimizer.name): the one enum
// of optimizers, training.Optimizer. The zero value is invalid.
type OptimizerName = training.Optimizer

// The values of OptimizerName.
const (
	OptimizerInvalid        = training.OptimizerInvalid
	OptimizerAdamW          = training.AdamW          // adamw
	OptimizerAdamW8bit      = training.AdamW8bit      // adamw_8bit
	OptimizerPagedAdamW8bit = training.PagedAdamW8bit // paged_adamw_8bit
	OptimizerSGD            = training.SGD            // sgd
	OptimizerLion           = training.Lion           // lion
)

func optimizerNameNames() []string { return training.OptimizerNames() }

// ParseOptimizerName returns the OptimizerName spelled s, or OptimizerInvalid.
func ParseOptimizerName(s string) OptimizerName { return training.ParseOptimizer(s) }

// Schedule is the learning-rate schedule (finetune.optimizer.schedule): the
// one enum of schedules, training.Schedule. The zero value is invalid.
type Schedule = training.Schedule

// The values of Schedule.
const (
	ScheduleInvalid  = training.ScheduleInvalid
	ScheduleConstant = training.Constant // constant
	ScheduleLinear   = training.Linear   // linear
	ScheduleCosine   = training.Cosine   // cosine
)

func scheduleNames() []string { return training.ScheduleNames() }

// ParseSchedule returns the Schedule spelled s, or ScheduleInvalid.
func ParseSchedule(s string) Schedule { return training.ParseSchedule(s) }

// DataFormat is how a dataset is encoded (dataset.format): the one enum of
// data formats, training.DataFormat, which the runtime's reader uses too.
// The zero value is invalid.
type DataFormat = training.DataFormat

// The values of DataFormat.
const (
	FormatInvalid = training.FormatInvalid
	FormatJSONL   = training.FormatJSONL   // jsonl
	FormatCSV     = training.FormatCSV     // csv
	FormatParquet = training.FormatParquet // parquet
	FormatText    = training.FormatText    // text
	FormatHF      = training.FormatHF      // hf
)

func dataFormatNames() []string { return training.DataFormatNames() }

// ParseDataFormat returns the DataFormat spelled s, or FormatInvalid.
func ParseDataFormat(s string) DataFormat { return training.ParseDataFormat(s) }

// Versioning is how data or checkpoints are versioned (dataset.version, version.data, version.checkpoints). The zero value is invalid.
type Versioning int

// The values of Versioning.
const (
	VersioningInvalid Versioning = iota
	VersioningDVC                // dvc
	VersioningGitLFS             // git_lfs
	VersioningNone               // none
)

func versioningNames() []string { return []string{"dvc", "git_lfs", "none"} }

// String returns the value's .whisper spelling, or "invalid".
func (v Versioning) String() string { return enumString(int(v), versioningNames()) }

// ParseVersioning returns the Versioning spelled s, or VersioningInvalid.
func ParseVersioning(s string) Versioning { return Versioning(enumParse(s, versioningNames())) }

// Strategy is the multi-GPU strategy (finetune.distributed.strategy). The zero value is invalid.
type Strategy int

// The values of Strategy.
const (
	StrategyInvalid Strategy = iota
	StrategyDDP              // ddp
	StrategyZeRO2            // zero2
	StrategyZeRO3            // zero3
	StrategyFSDP             // fsdp
)

func strategyNames() []string { return []string{"ddp", "zero2", "zero3", "fsdp"} }

// String returns the value's .whisper spelling, or "invalid".
func (v Strategy) String() string { return enumString(int(v), strategyNames()) }

// ParseStrategy returns the Strategy spelled s, or StrategyInvalid.
func ParseStrategy(s string) Strategy { return Strategy(enumParse(s, strategyNames())) }

// Engine is the distributed launcher (finetune.distributed.engine). The zero value is invalid.
type Engine int

// The values of Engine.
const (
	EngineInvalid    Engine = iota
	EngineAccelerate        // accelerate
	EngineDeepSpeed         // deepspeed
)

func engineNames() []string { return []string{"accelerate", "deepspeed"} }

// String returns the value's .whisper spelling, or "invalid".
func (v Engine) String() string { return enumString(int(v), engineNames()) }

// ParseEngine returns the Engine spelled s, or EngineInvalid.
func ParseEngine(s string) Engine { return Engine(enumParse(s, engineNames())) }

// TrackBackend is where runs are recorded (track.backend). The zero value is invalid.
type TrackBackend int

// The values of TrackBackend.
const (
	BackendInvalid     TrackBackend = iota
	BackendTensorBoard              // tensorboard
	BackendMLflow                   // mlflow
	BackendWandB                    // wandb
	BackendJSONL                    // jsonl
)

func trackBackendNames() []string { return []string{"tensorboard", "mlflow", "wandb", "jsonl"} }

// String returns the value's .whisper spelling, or "invalid".
func (v TrackBackend) String() string { return enumString(int(v), trackBackendNames()) }

// ParseTrackBackend returns the TrackBackend spelled s, or BackendInvalid.
func ParseTrackBackend(s string) TrackBackend { return TrackBackend(enumParse(s, trackBackendNames())) }

// LogItem is one thing experiment tracking records (track.log). The zero value is invalid.
type LogItem int

// The values of LogItem.
const (
	LogInvalid   LogItem = iota
	LogConfig            // config
	LogModelHash         // model_hash
	LogCommit            // commit
	LogHardware          // hardware
	LogMetrics           // metrics
)

func logItemNames() []string {
	return []string{"config", "model_hash", "commit", "hardware", "metrics"}
}

// String returns the value's .whisper spelling, or "invalid".
func (v LogItem) String() string { return enumString(int(v), logItemNames()) }

// ParseLogItem returns the LogItem spelled s, or LogInvalid.
func ParseLogItem(s string) LogItem { return LogItem(enumParse(s, logItemNames())) }

// ExportFormat is an export's output format (export.format). The zero value is invalid.
type ExportFormat int

// The values of ExportFormat.
const (
	ExportInvalid     ExportFormat = iota
	ExportGGUF                     // gguf
	ExportSafetensors              // safetensors
	ExportMerged                   // merged
)

func exportFormatNames() []string { return []string{"gguf", "safetensors", "merged"} }

// String returns the value's .whisper spelling, or "invalid".
func (v ExportFormat) String() string { return enumString(int(v), exportFormatNames()) }

// ParseExportFormat returns the ExportFormat spelled s, or ExportInvalid.
func ParseExportFormat(s string) ExportFormat { return ExportFormat(enumParse(s, exportFormatNames())) }

// ExportQuant is the quantisation applied to an export (export.quantize). The zero value is invalid.
type ExportQuant int

// The values of ExportQuant.
const (
	ExportQuantInvalid ExportQuant = iota
	ExportQuantNone                // none
	ExportQuantF16                 // f16
	ExportQuantQ8_0                // q8_0
	ExportQuantQ4_0                // q4_0
	ExportQuantQ4_K_M              // q4_k_m
)

func exportQuantNames() []string { return []string{"none", "f16", "q8_0", "q4_0", "q4_k_m"} }

// String returns the value's .whisper spelling, or "invalid".
func (v ExportQuant) String() string { return enumString(int(v), exportQuantNames()) }

// ParseExportQuant returns the ExportQuant spelled s, or ExportQuantInvalid.
func ParseExportQuant(s string) ExportQuant { return ExportQuant(enumParse(s, exportQuantNames())) }

// Module is a transformer linear layer that LoRA can adapt (lora.targets). The zero value is invalid.
type Module int

// The values of Module.
const (
	ModuleInvalid  Module = iota
	ModuleQProj           // q_proj
	ModuleKProj           // k_proj
	ModuleVProj           // v_proj
	ModuleOProj           // o_proj
	ModuleGateProj        // gate_proj
	ModuleUpProj          // up_proj
	ModuleDownProj        // down_proj
)

func moduleNames() []string {
	return []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
}

// String returns the value's .whisper spelling, or "invalid".
func (v Module) String() string { return enumString(int(v), moduleNames()) }

// ParseModule returns the Module spelled s, or ModuleInvalid.
func ParseModule(s string) Module { return Module(enumParse(s, moduleNames())) }

// VarType is the type of a variable's value (variable.type). The zero value is invalid.
type VarType int

// The values of VarType.
const (
	VarInvalid  VarType = iota
	VarString           // string
	VarNumber           // number
	VarInt              // int
	VarBool             // bool
	VarSize             // size
	VarPercent          // percent
	VarDuration         // duration
	VarCount            // count
)

func varTypeNames() []string {
	return []string{"string", "number", "int", "bool", "size", "percent", "duration", "count"}
}

// String returns the value's .whisper spelling, or "invalid".
func (v VarType) String() string { return enumString(int(v), varTypeNames()) }

// ParseVarType returns the VarType spelled s, or VarInvalid.
func ParseVarType(s string) VarType { return VarType(enumParse(s, varTypeNames())) }

// enumString returns names[v-1], or "invalid" outside the range.
func enumString(v int, names []string) string {
	if v < 1 || v > len(names) {
		return "invalid"
	}
	return names[v-1]
}

// enumParse returns the 1-based index of s in names, or 0.
func enumParse(s string, names []string) int {
	for i, n := range names {
		if n == s {
			return i + 1
		}
	}
	return 0
}
