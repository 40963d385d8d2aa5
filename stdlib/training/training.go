// Package training holds whisperc's one enum for each training concept
// the language names: the fine-tuning method, gradient checkpointing, the
// optimizer, the learning-rate schedule and the data format. The
// compiler's checked program, the planner's cost model and the runtime's
// trainer and data reader use these types (their names for them are
// aliases), so a value never changes meaning, or gets remapped by name,
// between phases. It lives in stdlib, the lowest layer that compiler,
// planner and runtime all import. Each zero value is invalid; String
// returns the .whisper spelling and Parse reads it.
package training

// Method is how a finetune updates the weights (finetune.method).
type Method int

// The methods.
const (
	MethodInvalid Method = iota
	// Full updates every weight.
	Full
	// LoRA freezes the base weights and trains low-rank adapters.
	LoRA
	// QLoRA is LoRA over a 4-bit quantised base.
	QLoRA
)

var methodNames = []string{"full", "lora", "qlora"}

// MethodNames returns the methods' spellings in the constants' order.
func MethodNames() []string { return clone(methodNames) }

// Methods returns every valid method.
func Methods() []Method { return values[Method](methodNames) }

func (m Method) String() string { return name(m, methodNames) }

// ParseMethod returns the method spelled s, or MethodInvalid.
func ParseMethod(s string) Method { return parse[Method](s, methodNames) }

// Adapters reports whether the method trains adapters over a frozen base.
func (m Method) Adapters() bool { return m == LoRA || m == QLoRA }

// MarshalText renders the method by name.
func (m Method) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// Checkpointing is the gradient-checkpointing mode (finetune.checkpointing;
// every(k) carries its k beside it).
type Checkpointing int

// The modes.
const (
	CheckpointInvalid Checkpointing = iota
	// CheckpointNone keeps every activation for the backward pass.
	CheckpointNone
	// CheckpointFull recomputes each block in the backward pass.
	CheckpointFull
	// CheckpointSelective recomputes the attention core only.
	CheckpointSelective
	// CheckpointEvery recomputes every k-th block.
	CheckpointEvery
)

var checkpointNames = []string{"none", "full", "selective", "every"}

// CheckpointingNames returns the modes' spellings in the constants' order.
func CheckpointingNames() []string { return clone(checkpointNames) }

// Checkpointings returns every valid mode.
func Checkpointings() []Checkpointing { return values[Checkpointing](checkpointNames) }

func (c Checkpointing) String() string { return name(c, checkpointNames) }

// ParseCheckpointing returns the mode spelled s, or CheckpointInvalid.
func ParseCheckpointing(s string) Checkpointing { return parse[Checkpointing](s, checkpointNames) }

// MarshalText renders the mode by name.
func (c Checkpointing) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Optimizer is the training optimizer (finetune.optimizer.name).
type Optimizer int

// The optimizers.
const (
	OptimizerInvalid Optimizer = iota
	// AdamW is Adam with decoupled weight decay.
	AdamW
	// AdamW8bit is AdamW with block-wise 8-bit moments (bitsandbytes).
	AdamW8bit
	// PagedAdamW8bit is AdamW8bit whose state pages to host memory.
	PagedAdamW8bit
	// SGD is stochastic gradient descent with momentum.
	SGD
	// Lion keeps one moment per parameter (bitsandbytes).
	Lion
)

var optimizerNames = []string{"adamw", "adamw_8bit", "paged_adamw_8bit", "sgd", "lion"}

// OptimizerNames returns the optimizers' spellings in the constants' order.
func OptimizerNames() []string { return clone(optimizerNames) }

// Optimizers returns every valid optimizer.
func Optimizers() []Optimizer { return values[Optimizer](optimizerNames) }

func (o Optimizer) String() string { return name(o, optimizerNames) }

// ParseOptimizer returns the optimizer spelled s, or OptimizerInvalid.
func ParseOptimizer(s string) Optimizer { return parse[Optimizer](s, optimizerNames) }

// MarshalText renders the optimizer by name.
func (o Optimizer) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// CPUTrainer reports whether whisperc's own CPU trainer runs o. The
// planner refuses the others on a CPU target (P118), and the trainer
// refuses them too; GPU engines run them all.
func (o Optimizer) CPUTrainer() bool {
	switch o {
	case AdamW, AdamW8bit, SGD:
		return true
	}
	return false
}

// Schedule is the learning-rate schedule after warmup
// (finetune.optimizer.schedule).
type Schedule int

// The schedules.
const (
	ScheduleInvalid Schedule = iota
	Constant
	Linear
	Cosine
)

var scheduleNames = []string{"constant", "linear", "cosine"}

// ScheduleNames returns the schedules' spellings in the constants' order.
func ScheduleNames() []string { return clone(scheduleNames) }

// Schedules returns every valid schedule.
func Schedules() []Schedule { return values[Schedule](scheduleNames) }

func (s Schedule) String() string { return name(s, scheduleNames) }

// ParseSchedule returns the schedule spelled s, or ScheduleInvalid.
func ParseSchedule(s string) Schedule { return parse[Schedule](s, scheduleNames) }

// MarshalText renders the schedule by name.
func (s Schedule) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// DataFormat is how a dataset is encoded (dataset.format).
type DataFormat int

// The formats.
const (
	FormatInvalid DataFormat = iota
	// FormatJSONL is one JSON object per line.
	FormatJSONL
	// FormatCSV is comma-separated values with a header row.
	FormatCSV
	// FormatParquet is Apache Parquet.
	FormatParquet
	// FormatText is plain text; documents are separated by blank lines.
	FormatText
	// FormatHF is a Hugging Face Hub dataset.
	FormatHF
)

var dataFormatNames = []string{"jsonl", "csv", "parquet", "text", "hf"}

// DataFormatNames returns the formats' spellings in the constants' order.
func DataFormatNames() []string { return clone(dataFormatNames) }

// DataFormats returns every valid format.
func DataFormats() []DataFormat { return values[DataFormat](dataFormatNames) }

func (f DataFormat) String() string { return name(f, dataFormatNames) }

// ParseDataFormat returns the format spelled s, or FormatInvalid.
func ParseDataFormat(s string) DataFormat { return parse[DataFormat](s, dataFormatNames) }

// MarshalText renders the format by name.
func (f DataFormat) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// name returns names[v-1], or "invalid" outside the range.
func name[E ~int](v E, names []string) string {
	if v < 1 || int(v) > len(names) {
		return "invalid"
	}
	return names[v-1]
}

// parse returns the 1-based index of s in names, or 0 (invalid).
func parse[E ~int](s string, names []string) E {
	for i, n := range names {
		if n == s {
			return E(i + 1)
		}
	}
	return 0
}

func values[E ~int](names []string) []E {
	vs := make([]E, len(names))
	for i := range vs {
		vs[i] = E(i + 1)
	}
	return vs
}

func clone(s []string) []string { return append([]string(nil), s...) }
