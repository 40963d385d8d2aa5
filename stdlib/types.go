package stdlib

// Constructors for the schema's types, kept short so that blocks.go reads
// like the spec table it generates.

func tString() Type { return Type{Kind: TypeString} }
func tPath() Type   { return Type{Kind: TypePath} }
func tNumber() Type { return Type{Kind: TypeNumber} }
func tInt() Type    { return Type{Kind: TypeInt} }
func tBool() Type   { return Type{Kind: TypeBool} }
func tSize() Type   { return Type{Kind: TypeSize} }

// tShare is a percentage of a whole: 0% to 100%, or below 100% when
// whole is false (a part that must leave something).
func tShare(whole bool) Type {
	return Type{Kind: TypePercent, Bounds: &Bounds{Min: 0, Max: 100, HasMin: true, HasMax: true, MaxOpen: !whole}}
}
func tCount() Type { return Type{Kind: TypeCount} }
func tAny() Type   { return Type{Kind: TypeAny} }
func tList(e Type) Type {
	return Type{Kind: TypeList, Elem: &e}
}
func tRef(kinds ...string) Type { return Type{Kind: TypeRef, Kinds: kinds} }
func tOneOf(alts ...Type) Type  { return Type{Kind: TypeOneOf, Alts: alts} }
func tEnum(vals ...EnumValue) Type {
	return Type{Kind: TypeEnum, Values: vals}
}
func ev(name, doc string) EnumValue { return EnumValue{Name: name, Doc: doc} }

func tCall(name, doc string, params ...Param) Type {
	return Type{Kind: TypeCall, Call: &CallForm{Name: name, Params: params, Doc: doc}}
}

// atLeast is [min, ∞).
func atLeast(min float64) *Bounds { return &Bounds{Min: min, HasMin: true} }

// between is [min, max].
func between(min, max float64) *Bounds {
	return &Bounds{Min: min, Max: max, HasMin: true, HasMax: true}
}

// positive is (0, ∞).
func positive() *Bounds { return &Bounds{HasMin: true, MinOpen: true} }

// Shared enums: the same value sets appear in several blocks.

// precisionType is fp32 | fp16 | bf16, the compute types of quantize and
// the weights.
func precisionType() Type {
	return tEnum(
		ev("fp32", "32-bit IEEE floats: exact, twice the memory of 16-bit types."),
		ev("fp16", "16-bit IEEE floats: fast on every GPU since Volta, narrow range (loss scaling needed for training)."),
		ev("bf16", "bfloat16: fp32's range with 8 bits of mantissa; needs compute capability 8.0 (Ampere) or later."),
	)
}

func attentionType() Type {
	return tEnum(
		ev("eager", "The textbook attention: materialises the full seq×seq score matrix, O(n²) memory."),
		ev("sdpa", "A fused scaled-dot-product kernel (memory-efficient attention) where the backend has one."),
		ev("flash2", "FlashAttention-2: tiled, IO-aware exact attention with O(n) memory; needs compute capability 8.0+ and fp16/bf16."),
		ev("auto", "flash2 where the hardware and precision allow it, sdpa otherwise, eager on CPU."),
	)
}

func compileType() Type {
	return tEnum(
		ev("none", "Run eagerly: no compilation time, no fusion."),
		ev("default", "Compile with operator fusion (torch.compile mode=\"default\")."),
		ev("reduce_overhead", "Compile and capture CUDA graphs to cut per-step launch overhead; best for small batches and decoding."),
		ev("max_autotune", "Compile and benchmark kernel variants; the longest compile, the fastest steady state."),
	)
}

func versionType() Type {
	return tEnum(
		ev("dvc", "Data Version Control: content-addressed, stored in a remote, pointer files in git."),
		ev("git_lfs", "Git Large File Storage: pointer files in git, content on the LFS server."),
		ev("none", "Not versioned: the run cannot be reproduced from its commit alone (ML008)."),
	)
}

func loraTargetType() Type {
	return tEnum(
		ev("q_proj", "The attention query projection."),
		ev("k_proj", "The attention key projection."),
		ev("v_proj", "The attention value projection."),
		ev("o_proj", "The attention output projection."),
		ev("gate_proj", "The MLP gate projection (SwiGLU)."),
		ev("up_proj", "The MLP up projection."),
		ev("down_proj", "The MLP down projection."),
	)
}

// AttentionModules are the LoRA target modules inside attention; the rest
// of loraTargetType's values are MLP modules (rule ML003).
func AttentionModules() []string { return []string{"q_proj", "k_proj", "v_proj", "o_proj"} }

// MLPModules are the LoRA target modules inside the feed-forward block.
func MLPModules() []string { return []string{"gate_proj", "up_proj", "down_proj"} }

// constraintType lists the hardware properties target.require may
// compare; the planner evaluates them against detected or profiled
// hardware.
func constraintType() Type {
	return Type{Kind: TypeConstraint, Props: []Property{
		{Name: "gpu_memory", Type: tSize(), Doc: "Memory of each GPU."},
		{Name: "compute_capability", Type: tNumber(), Doc: "CUDA compute capability, such as 8.0 (A100) or 9.0 (H100)."},
		{Name: "gpus", Type: tInt(), Doc: "Number of GPUs."},
		{Name: "ram", Type: tSize(), Doc: "Host memory."},
		{Name: "cpu_cores", Type: tInt(), Doc: "Host CPU cores."},
		{Name: "bf16", Type: tBool(), Doc: "Whether the GPU computes in bfloat16 natively (compute capability 8.0+)."},
		{Name: "fp8", Type: tBool(), Doc: "Whether the GPU computes in fp8 natively (compute capability 8.9+)."},
		{Name: "flash_attention", Type: tBool(), Doc: "Whether FlashAttention-2 kernels run on the GPU (compute capability 8.0+)."},
	}}
}
