package stdlib

// planCodes documents the codes of the plan phase: target profiles and
// hardware compatibility (P10x–P11x), memory fit (P12x), target
// requirements and architectures (P13x), and internal errors (P199).
var planCodes = []Code{
	{ID: "P101", Title: "invalid target profile", Phase: "plan",
		Explain: "A hardware target profile file (HCL, the format of the built-in profiles in stdlib/targets) " +
			"could not be read: a syntax error, an unknown or missing attribute, or an impossible value such as " +
			"a negative memory size or a GPU without a compute capability.\n\n" +
			"Fix the attribute the diagnostic points at; every built-in profile is an example of the expected shape.",
		Example: "target \"my-gpu\" {\n  device        = \"gpu\"\n  memory_mib    = 24576\n  bandwidth_gbs = 936\n  source        = \"vendor data sheet\"\n  # compute_capability missing\n}"},
	{ID: "P102", Title: "unknown target", Phase: "plan",
		Explain: "The target names neither a built-in profile (a100-40gb, a100-80gb, a10g, cpu, h100-80gb, h200, l4, " +
			"rtx3090, rtx4090, t4, v100-16gb and their aliases) nor a readable HCL profile file.\n\n" +
			"Use the suggested name, or write a profile file and pass its path: `--target path/to/my.hcl`.",
		Example: "target { profile = \"a100-80\" }"},
	{ID: "P103", Title: "invalid device count", Phase: "plan",
		Explain: "A `--target NAME*N` argument has a count that is not a whole number between 1 and 65536.\n\n" +
			"Write the count after the star: `--target h100-80gb*8`."},
	{ID: "P104", Title: "hardware detection failed", Phase: "plan",
		Explain: "Without --target or a target block, `whisperc plan` plans for the detected machine; detection failed " +
			"(or was unavailable), so the plan uses the nominal CPU profile and its numbers may not describe this machine.\n\n" +
			"Name the hardware with `--target NAME` or a `target { profile = ... }` block."},
	{ID: "P110", Title: "flash2 unavailable", Phase: "plan",
		Explain: "FlashAttention-2's CUDA kernels run only on NVIDIA GPUs of compute capability 8.0 (Ampere) or later, " +
			"computing in fp16 or bf16. On older GPUs the planner falls back to the fused SDPA kernel: exact, with more " +
			"memory for long sequences. (On the CPU, flash2 and sdpa run whisperc's own tiled FlashAttention-2 kernel in fp32.)\n\n" +
			"Plan for an Ampere or later GPU, compute in bf16 or fp16, or write `attention = auto`. To make the " +
			"fallback an error, require the kernel: `require = [flash_attention == true]`.",
		Example:   "finetune ft {\n  model = base\n  data = d\n  attention = flash2   # on a V100 (compute capability 7.0)\n}",
		Citations: []Citation{CiteFlashAttention2()}},
	{ID: "P111", Title: "bf16 needs compute capability 8.0", Phase: "plan",
		Explain: "bfloat16 arithmetic needs an Ampere (compute capability 8.0) or later GPU; T4 (7.5) and V100 (7.0) " +
			"have none. When bf16 is only the default the planner uses fp16 with dynamic loss scaling and warns; " +
			"when it is written, it is an error.\n\nWrite `precision = fp16` (or `compute = fp16` in a quantize block), " +
			"or plan for a newer GPU.",
		Example: "finetune ft {\n  model = base\n  data = d\n  precision = bf16   # on a T4\n}"},
	{ID: "P112", Title: "fp8 needs compute capability 8.9", Phase: "plan",
		Explain: "fp8 tensor cores arrived with Ada Lovelace (8.9: L4, RTX 4090) and Hopper (9.0: H100, H200).\n\n" +
			"Use `precision = bf16` on Ampere, or plan for an fp8-capable GPU.",
		Example: "finetune ft {\n  model = base\n  data = d\n  precision = fp8   # on an A100\n}"},
	{ID: "P113", Title: "quantisation kernels need CUDA", Phase: "plan",
		Explain: "bitsandbytes' nf4, fp4 and int8 kernels run only with a CUDA driver. On a GPU target without one the " +
			"quantised model cannot run; on the CPU whisperc's own block-dequantising kernels serve (an informational " +
			"decision in the plan).\n\nInstall the NVIDIA driver, or plan for the CPU with `--target cpu`.",
		Citations: []Citation{CiteQLoRA(), CiteLLMInt8()}},
	{ID: "P114", Title: "adapter target not in the architecture", Phase: "plan",
		Explain: "A LoRA target names a module the model does not have, such as gate_proj on BERT (whose feed-forward " +
			"block is not gated). Written as a list it is an error; a group (attention, mlp, all) expands to what the " +
			"family has and only warns.\n\nAdapt only modules the architecture has; the diagnostic lists them.",
		Example:   "lora { rank = 8, targets = [q_proj, gate_proj] }   # on bert-base-uncased",
		Citations: []Citation{CiteLoRA()}},
	{ID: "P115", Title: "inconsistent architecture", Phase: "plan",
		Explain: "The model's shapes cannot be right: a dimension is zero, or the attention heads are not a multiple of " +
			"the key/value heads, which grouped-query attention requires (each key/value head serves heads/kv_heads " +
			"query heads).\n\nUse the model's published config.json or a built-in preset."},
	{ID: "P116", Title: "sequence longer than the model's context", Phase: "plan",
		Explain: "A dataset's seq_len (or a generation's prompt plus max_tokens) exceeds the number of positions the " +
			"model was trained for; positions beyond it fall outside the position encoding and quality collapses.\n\n" +
			"Lower seq_len or max_tokens, or set the model's `context` when it was extended (RoPE scaling).",
		Example: "dataset d { source = \"d.jsonl\", seq_len = 8192 }   # for Llama-2 (4096 positions)"},
	{ID: "P117", Title: "compile mode needs static shapes", Phase: "plan",
		Explain: "`compile = reduce_overhead` captures CUDA graphs and `max_autotune` tunes kernels for fixed tensor " +
			"shapes; batches of varying length recompile or fall back to eager. The planner warns when the training " +
			"data is not packed, and preallocates a static KV cache for compiled decoding.\n\n" +
			"Set `packing = true` on the dataset, or use `compile = default`.",
		Citations: []Citation{CiteTorchCompile()}},
	{ID: "P118", Title: "setting the CPU runtime cannot execute", Phase: "plan",
		Explain: "The plan is for a CPU, where whisperc's own runtime executes it, and a setting asks for something that " +
			"runtime would not do as written: 16-bit arithmetic (`precision` or `compute` = bf16, fp16, fp8; the CPU " +
			"runtime computes in fp32; a finetune's `precision = bf16` is the exception: LoRA stores the frozen base in bf16, and " +
			"full fine-tuning stores the block linear weights in bf16 and trains them there, with fp32 arithmetic, fp32 gradients " +
			"and fp32 AdamW moments, each update rounded to bf16; that needs `adamw`), `method = int8` (bitsandbytes' LLM.int8(), which has no CPU kernel; GGML's 8-bit " +
			"format is `q8_0`), a quantisation format without a CPU kernel, a 4-bit `block_size` other than 64, " +
			"or an optimizer the CPU trainer does not run (`lion`; `paged_adamw_8bit`, whose paging is CUDA unified memory: " +
			"`adamw_8bit` is the same 8-bit state on the CPU, and P120's suggestions name it there). " +
			"The planner refuses rather than running something else silently.\n\n" +
			"Change the setting as the diagnostic says, or plan for a GPU target.",
		Example: "model m {\n  source = \"llama2c:stories260K.bin\"\n  quantize { method = int8 }   # on the CPU\n}"},
	{ID: "P120", Title: "does not fit in device memory", Phase: "plan",
		Explain: "The predicted peak memory of a stage exceeds one device's capacity. The plan lists each component " +
			"(weights, adapters, gradients, optimizer state, activations, logits, KV cache, allocator reserve, CUDA " +
			"context) and the diagnostic ranks concrete changes by what each saves: gradient checkpointing, 4-bit " +
			"quantisation (QLoRA), an 8-bit optimizer, a smaller batch with more accumulation (same effective batch), " +
			"shorter sequences, or ZeRO-3 sharding over more GPUs.\n\n" +
			"Apply the first change that fits alone, or combine them; `whisperc plan` exits 1 until the plan fits.",
		Example:   "finetune ft {\n  model = llama70b\n  data = d\n  method = full   # 70B parameters on one A100\n}",
		Citations: []Citation{CiteQLoRA(), CiteCheckpointing(), CiteSelectiveRecompute(), CiteZeRO()}},
	{ID: "P121", Title: "close to device memory", Phase: "plan",
		Explain: "The predicted peak uses more than 90% of device memory. The model is within a few percent of measured " +
			"peaks, but fragmentation and data-dependent shapes can push a run over.\n\n" +
			"Leave headroom: enable checkpointing, lower the batch (raising grad_accum), or shorten sequences."},
	{ID: "P122", Title: "more GPUs requested than the target has", Phase: "plan",
		Explain: "`distributed.gpus` asks for more devices than the target provides; the plan uses the target's count.\n\n" +
			"Lower gpus, or plan for more devices with `--target NAME*N`."},
	{ID: "P130", Title: "target requirement not met", Phase: "plan",
		Explain: "A `target.require` comparison is false for the planned hardware (or cannot be checked against a " +
			"profile, a warning). Requirements make a pipeline's assumptions explicit: memory per GPU, compute " +
			"capability, GPU count, bf16, fp8, FlashAttention.\n\nChoose hardware that satisfies it, or relax the requirement.",
		Example: "target { profile = \"t4\", require = [compute_capability >= 8.0] }"},
	{ID: "P131", Title: "unknown architecture", Phase: "plan",
		Explain: "The planner could not learn the model's shapes: a local file is missing or unreadable, or a hub name " +
			"matches no built-in architecture. Its stages are listed without memory or time.\n\n" +
			"Point the source at a local llama2.c, GGUF or safetensors (with config.json) model, or name a model with a " +
			"built-in architecture (Llama 2/3/3.1, Mistral 7B, Qwen2.5 7B, Gemma, Phi-3 mini, TinyLlama, TinyStories, BERT)."},
	{ID: "P132", Title: "model or tokenizer file cannot be read", Phase: "plan",
		Explain: "A local model file (llama2c:, gguf:, safetensors:) or a tokenizer file is missing, unreadable, not a " +
			"regular file, or corrupt. Without the model's header the planner cannot know its shapes, so it cannot say " +
			"that the pipeline fits: this is an error, where P131 (a hub name with no built-in architecture) is a " +
			"warning.\n\nFix the path, or replace the file.",
		Example: "model base { source = \"llama2c:missing.bin\" }"},
	{ID: "P140", Title: "the engine cannot express a decision", Phase: "plan",
		Explain: "`whisperc export --engine E` (and `whisperc run` on a GPU) hands the plan to an engine GPU users already " +
			"run: Hugging Face (transformers, PEFT, bitsandbytes, TRL, Accelerate), torchtune, or vLLM. Each plan decision " +
			"becomes one of the engine's flags or config keys (spec/engines.md lists them all); some values have no " +
			"counterpart, such as an FP4 base in torchtune, whose QLoRA stores NF4 only. Nothing is written then.\n\n" +
			"Change the attribute as the diagnostic says, or export with an engine that expresses it.",
		Example: "model m {\n  source = \"hf:meta-llama/Llama-2-7b-hf\"\n  quantize { method = fp4 }   # whisperc export --engine torchtune\n}"},
	{ID: "P141", Title: "the engine approximates a decision", Phase: "plan",
		Explain: "The engine's closest setting differs from the plan's decision in a stated way: torchtune's attention " +
			"dispatches through PyTorch's SDPA rather than the flash-attn package, or it saves checkpoints once per epoch. " +
			"The export is written; the warning says what differs.\n\n" +
			"Accept the difference, change the attribute to a value the engine expresses exactly, or use another engine."},
	{ID: "P142", Title: "nothing for the engine to run", Phase: "plan",
		Explain: "hf and torchtune lower `finetune` blocks; vllm lowers `generate` and `serve`. The file has none of the " +
			"stages the chosen engine runs.\n\nChoose the engine for the stages the file has."},
	{ID: "P199", Title: "internal planner error", Phase: "plan",
		Explain: "The planner failed on this program. This is a bug in whisperc.\n\n" +
			"Report it with the .whisper file; the diagnostics before it are what was found until the failure."},
}
