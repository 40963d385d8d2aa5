package stdlib

// blocks builds the language's block kinds. It is a function so that the
// schema is immutable: every caller gets its own copy.
func blocks() []Block {
	return []Block{
		pipelineBlock(),
		variableBlock(),
		importBlock(),
		modelBlock(),
		datasetBlock(),
		finetuneBlock(),
		generateBlock(),
		serveBlock(),
		trackBlock(),
		versionBlock(),
		exportBlock(),
		targetBlock(),
	}
}

func pipelineBlock() Block {
	return Block{
		Kind:      "pipeline",
		Name:      NameOptional,
		Singleton: true,
		Doc: "Names the pipeline and, optionally, picks which stages run. Without it the pipeline is named after " +
			"the root file and every stage runs in dependency order.",
		Attrs: []Attr{
			{Name: "description", Type: tString(), Doc: "What the pipeline is for; recorded by experiment tracking."},
			{Name: "stages", Type: tList(tRef("finetune", "generate", "serve", "export")),
				Doc:        "The stages to run. Their dependencies run first whether listed or not.",
				DefaultWhy: "Every finetune, generate, serve and export declaration, in dependency order."},
			{Name: "seed", Type: tInt(), Default: "42", Bounds: atLeast(0),
				DefaultWhy: "A fixed seed makes data shuffling and initialisation reproducible; 42 is conventional.",
				Doc:        "The global random seed, used by every stage that does not set its own."},
		},
	}
}

func variableBlock() Block {
	return Block{
		Kind: "variable",
		Name: NameRequired,
		Doc: "Declares an input variable, referenced as `var.NAME` and set on the command line with " +
			"`-var NAME=VALUE`. A variable without a default must be set.",
		Attrs: []Attr{
			{Name: "default", Type: tAny(), Doc: "The value used when `-var` does not set one; a literal or quantity."},
			{Name: "type", Type: tEnum(
				ev("string", "A string; `-var` values are taken verbatim."),
				ev("number", "A number."),
				ev("int", "An integer."),
				ev("bool", "true or false."),
				ev("size", "A size such as 24GiB."),
				ev("percent", "A percentage such as 5%."),
				ev("duration", "A duration such as 30s."),
				ev("count", "A count such as 500 steps."),
			), DefaultWhy: "The type of `default`; required when there is no default.",
				Doc: "The type `-var` values are parsed as."},
			{Name: "description", Type: tString(), Doc: "What the variable controls; shown by the language server on hover."},
		},
	}
}

func importBlock() Block {
	return Block{
		Kind: "import",
		Name: NameForbidden,
		Doc: "Includes another .whisper file, written as the statement `import \"path\"`. The path is relative " +
			"to the importing file. Declarations of every file in the import closure share one namespace; " +
			"import cycles are errors.",
		Attrs: []Attr{
			{Name: "path", Type: tPath(), Required: true, Doc: "The file to import, relative to the importing file."},
		},
	}
}

func modelBlock() Block {
	return Block{
		Kind:  "model",
		Name:  NameRequired,
		Rules: []string{"ML001", "ML002"},
		Doc:   "Loads a base model: its weights, tokenizer and, optionally, how to quantise it.",
		Attrs: []Attr{
			{Name: "source", Type: tString(), Required: true,
				Doc: "Where the weights come from: `hf:ORG/NAME` (Hugging Face Hub), `gguf:PATH`, `llama2c:PATH`, " +
					"`safetensors:DIR`, `ollama:NAME:TAG`, or a preset name known to the planner (such as `llama-2-7b`). " +
					"Paths are relative to the declaring file."},
			{Name: "tokenizer", Type: tPath(),
				Doc:        "The tokenizer file, for sources that do not carry one (llama2.c checkpoints).",
				DefaultWhy: "GGUF, Hugging Face and Ollama sources carry their tokenizer."},
			{Name: "context", Type: tInt(), Bounds: between(1, 1<<24),
				Doc:        "The context length to use, overriding the one in the weights' header.",
				DefaultWhy: "The context length the model was trained with, from its header."},
		},
		Nested: []Block{quantizeBlock()},
	}
}

func quantizeBlock() Block {
	return Block{
		Kind:      "quantize",
		Name:      NameForbidden,
		Rules:     []string{"ML001"},
		Citations: []Citation{CiteQLoRA(), CiteLLMInt8()},
		Doc: "Stores the frozen base weights in fewer bits. 4-bit NormalFloat (nf4) with double quantisation " +
			"is what QLoRA fine-tuning expects (ML001).",
		Attrs: []Attr{
			{Name: "method", Type: tEnum(
				ev("nf4", "4-bit NormalFloat, information-theoretically optimal for normally distributed weights (QLoRA)."),
				ev("fp4", "4-bit float (e2m1); QLoRA found it worse than nf4 at the same size."),
				ev("int8", "8-bit absmax with outlier decomposition (LLM.int8()); near-lossless, half of fp16's memory."),
				ev("q8_0", "GGML 8-bit blocks of 32 with one fp16 scale each (8.5 bits per weight)."),
				ev("q4_0", "GGML 4-bit blocks of 32 with one fp16 scale each (4.5 bits per weight)."),
				ev("none", "Keep the weights in their stored precision."),
			), Default: "nf4", Rule: "ML001", Citations: []Citation{CiteQLoRA()},
				DefaultWhy: "A quantize block is nearly always written for QLoRA, whose data type is nf4.",
				Doc:        "The quantisation format of the frozen weights."},
			{Name: "double", Type: tBool(), Default: "true", Citations: []Citation{CiteQLoRA()},
				DefaultWhy: "Double quantisation saves about 0.37 bits per parameter (≈3 GB on a 65B model) at no measurable quality cost (QLoRA §3).",
				Doc:        "Quantise the quantisation constants too (nf4 and fp4 only)."},
			{Name: "compute", Type: precisionType(), Default: "bf16", Citations: []Citation{CiteQLoRA()},
				DefaultWhy: "QLoRA dequantises to bf16 for matrix multiplication; fp16 risks overflow, fp32 doubles the traffic.",
				Doc:        "The type weights are dequantised to for computation."},
			{Name: "block_size", Type: tInt(), Default: "64", Bounds: between(16, 4096),
				DefaultWhy: "QLoRA's nf4 block size: one absmax constant per 64 weights.",
				Doc:        "Weights per quantisation block (nf4, fp4, int8); GGML formats fix it at 32."},
		},
	}
}

func datasetBlock() Block {
	return Block{
		Kind:  "dataset",
		Name:  NameRequired,
		Rules: []string{"ML008"},
		Doc:   "Declares training or evaluation data: where it is, how to read it, how to split it and how it is versioned.",
		Attrs: []Attr{
			{Name: "source", Type: tPath(), Required: true,
				Doc: "A file or directory relative to the declaring file, or `hf:ORG/NAME` for a Hugging Face dataset."},
			{Name: "format", Type: tEnum(
				ev("jsonl", "One JSON object per line; `field` names the text."),
				ev("csv", "Comma-separated values with a header row; `field` names the column."),
				ev("parquet", "Apache Parquet; `field` names the column."),
				ev("text", "Plain text; documents are separated by blank lines."),
				ev("hf", "A Hugging Face dataset (source `hf:ORG/NAME`)."),
			), DefaultWhy: "Inferred from the source: `hf:` means hf, otherwise the file extension (.jsonl, .csv, .parquet, .txt).",
				Doc: "How the data is encoded."},
			{Name: "field", Type: tString(), Default: `"text"`,
				DefaultWhy: "The column name most instruction and pre-training sets use.",
				Doc:        "The field or column holding the training text."},
			{Name: "seq_len", Type: tInt(), Default: "1024", Bounds: between(1, 1<<24),
				DefaultWhy: "Long enough for most chat turns, short enough that activations fit with checkpointing on one 24 GB GPU.",
				Doc: "Tokens per training sequence. An example longer than a sequence is split across sequences with `packing = true`, " +
					"cut with `truncate = true`, and otherwise a bad record (see `on_bad_record`)."},
			{Name: "eval", Type: tOneOf(tShare(false), tInt()), Default: "5%", Bounds: atLeast(0),
				DefaultWhy: "A small held-out split detects overfitting, the common failure of LoRA on small sets.",
				Doc:        "The held-out evaluation split: a percentage of the data or a number of examples."},
			{Name: "shuffle", Type: tBool(), Default: "true",
				DefaultWhy: "Ordered data (by source, by length) biases the loss curve; shuffling with a fixed seed stays reproducible.",
				Doc:        "Shuffle examples before splitting and each epoch."},
			{Name: "seed", Type: tInt(), Bounds: atLeast(0), DefaultWhy: "The pipeline's seed.",
				Doc: "The seed for shuffling and splitting."},
			{Name: "packing", Type: tBool(), Default: "false",
				DefaultWhy: "Packing several examples into one sequence speeds training but lets attention cross example boundaries; opt in knowingly.",
				Doc:        "Concatenate short examples into full-length sequences."},
			{Name: "truncate", Type: tBool(), Default: "false",
				DefaultWhy: "Cutting an example drops its end (often the answer) without training on it; an example that does not fit is more often a wrong seq_len, so by default it is a bad record.",
				Doc: "Cut an example longer than `seq_len` to its first `seq_len` + 1 tokens (before packing, when both are set) " +
					"instead of treating it as a bad record. The run's summary counts the cut examples."},
			{Name: "on_bad_record", Type: tEnum(
				ev("error", "Stop at the first bad record with its file and line."),
				ev("skip", "Skip bad records, count them, and report the count and the first few (file:line: why) in the run's summary and record."),
			), Default: "error",
				DefaultWhy: "A bad record usually means the wrong file or field; failing names it, where skipping could silently train on little.",
				Doc: "What a bad record does (invalid JSON, a missing or empty field, a chat without an assistant turn, " +
					"an example longer than `seq_len` when neither `packing` nor `truncate` is set): " +
					"stop the run, or skip it and count it. A run with no usable record fails either way."},
			{Name: "version", Type: versionType(), Rule: "ML008", Citations: []Citation{CiteDVC(), CiteGitLFS()},
				DefaultWhy: "The `version` block's `data` setting; without either the data is unversioned (ML008 warns).",
				Doc:        "How this data is versioned."},
		},
	}
}

func finetuneBlock() Block {
	return Block{
		Kind:      "finetune",
		Name:      NameRequired,
		Stage:     true,
		Rules:     []string{"ML001", "ML002", "ML003", "ML005", "ML006", "ML007", "ML008"},
		Citations: []Citation{CiteLoRA(), CiteQLoRA()},
		Doc: "Fine-tunes a model on a dataset: fully or with LoRA adapters, with the memory-saving and speed " +
			"settings that make it fit and run fast.",
		Attrs: []Attr{
			{Name: "model", Type: tRef("model"), Required: true, Doc: "The base model to fine-tune."},
			{Name: "data", Type: tRef("dataset"), Required: true, Doc: "The training data."},
			{Name: "method", Type: tEnum(
				ev("full", "Update every weight: the most memory (weights, gradients and two Adam moments per parameter)."),
				ev("lora", "Freeze the base weights and train low-rank adapters (LoRA)."),
				ev("qlora", "LoRA over a 4-bit (nf4) quantised base model (QLoRA); needs a `quantize` block on the model."),
			), Rule: "ML001", Citations: []Citation{CiteLoRA(), CiteQLoRA()},
				DefaultWhy: "qlora when the model is quantised to 4 bits, otherwise lora: adapters train in a fraction of full fine-tuning's memory at comparable quality.",
				Doc:        "How the weights are updated."},
			{Name: "checkpointing", Type: tOneOf(
				tEnum(
					ev("none", "Keep every activation for the backward pass: fastest, most memory."),
					ev("full", "Keep only each layer's input and recompute its activations in the backward pass: one extra forward pass; `whisperc plan` states the memory saved and the extra compute."),
					ev("selective", "Recompute only attention's large, cheap-to-recompute parts (Korthikanti et al.): most of the saving for ~3% more compute."),
				),
				tCall("every", "Checkpoint every n-th layer: a trade-off between none and full.",
					Param{Name: "n", Type: tInt(), Bounds: atLeast(1)}),
			), Default: "none", Rule: "ML002", Citations: []Citation{CiteCheckpointing(), CiteSelectiveRecompute()},
				DefaultWhy: "Recomputation costs time; the planner (ML002) says when the activations do not fit without it.",
				Doc:        "Gradient (activation) checkpointing."},
			{Name: "attention", Type: attentionType(), Default: "auto", Rule: "ML006",
				Citations:  []Citation{CiteFlashAttention(), CiteFlashAttention2()},
				DefaultWhy: "The fastest exact kernel the hardware supports.",
				Doc:        "The attention kernel."},
			{Name: "compile", Type: compileType(), Default: "none", Rule: "ML005", Citations: []Citation{CiteTorchCompile()},
				DefaultWhy: "Compilation costs minutes up front and pays off only on long runs; opt in (ML005 says when).",
				Doc:        "Graph compilation mode."},
			{Name: "batch", Type: tInt(), Default: "1", Bounds: between(1, 1<<16),
				DefaultWhy: "The smallest activation memory; raise it, or grad_accum, once the planner shows room.",
				Doc:        "Examples per device per step (micro-batch)."},
			{Name: "grad_accum", Type: tInt(), Default: "1", Bounds: between(1, 1<<16),
				DefaultWhy: "No accumulation: the effective batch is batch × devices.",
				Doc:        "Micro-batches accumulated before each optimizer step."},
			{Name: "epochs", Type: tInt(), Default: "1", Bounds: between(1, 1<<20),
				DefaultWhy: "One pass is the usual LoRA recipe; more passes over small sets overfit.",
				Doc:        "Passes over the training data; `max_steps` overrides it."},
			{Name: "max_steps", Type: tInt(), Bounds: atLeast(1), DefaultWhy: "Unlimited: `epochs` decides.",
				Doc: "Stop after this many optimizer steps."},
			{Name: "precision", Type: tEnum(
				ev("fp32", "Full precision: exact, slowest, twice the activation memory."),
				ev("fp16", "Mixed precision with fp16 and dynamic loss scaling; for GPUs before Ampere."),
				ev("bf16", "Mixed precision with bfloat16: fp32's range, no loss scaling; compute capability 8.0+."),
				ev("fp8", "fp8 matrix multiplications (Hopper, Ada); experimental."),
			), Default: "bf16",
				DefaultWhy: "bf16 mixed precision halves activation memory without fp16's loss scaling; the planner falls back to fp16 on older GPUs.",
				Doc:        "The training compute precision."},
			{Name: "save_every", Type: tCount(), Bounds: positive(),
				DefaultWhy: "Save only at the end of training.",
				Doc:        "How often to write a checkpoint, in steps or epochs."},
			{Name: "eval_every", Type: tCount(), Bounds: positive(),
				DefaultWhy: "At the end of each epoch, and always at the end of training.",
				Doc:        "How often to evaluate on the held-out split (loss and perplexity), in steps or epochs; the final evaluation always runs."},
			{Name: "max_grad_norm", Type: tNumber(), Default: "1", Bounds: atLeast(0),
				DefaultWhy: "Hugging Face's Trainer and the QLoRA recipe clip the global gradient norm at 1.0.",
				Doc:        "Clip gradients by their global L2 norm to this value before each update; 0 turns clipping off."},
			{Name: "nan_patience", Type: tInt(), Default: "3", Bounds: between(1, 1000),
				DefaultWhy: "One bad batch is skipped without losing work; three in a row means the weights themselves went bad.",
				Doc: "A step whose loss or gradient is NaN or infinite is skipped (no update); after this many such steps in a row " +
					"the run rolls back to its last good state (the last checkpoint, or the start) and lowers the learning rate."},
			{Name: "nan_lr_factor", Type: tNumber(), Default: "0.5", Bounds: &Bounds{Min: 0, Max: 1, HasMin: true, HasMax: true, MinOpen: true},
				DefaultWhy: "Halving the learning rate is the usual first answer to a divergence.",
				Doc:        "The factor the learning rate is multiplied by at each rollback (1 keeps it)."},
			{Name: "nan_rollbacks", Type: tInt(), Default: "3", Bounds: between(0, 1000),
				DefaultWhy: "A run that diverges again after three rollbacks will not recover by itself; stopping says so.",
				Doc:        "The most rollbacks before the run stops with an error; 0 stops at the first run of nan_patience bad steps."},
			{Name: "output", Type: tPath(),
				DefaultWhy: "`checkpoints/NAME` next to the declaring file.",
				Doc:        "Where checkpoints and the final adapter or weights are written; referenced as `NAME.output`."},
			{Name: "seed", Type: tInt(), Bounds: atLeast(0), DefaultWhy: "The pipeline's seed.",
				Doc: "The seed for adapter initialisation and dropout."},
			{Name: "loss_chunks", Type: tInt(), Bounds: between(1, 256),
				DefaultWhy: "The engine's own: TRL's SFTTrainer (hf) computes the head and the fp32 loss on 256 tokens at a time; torchtune's recipes use 8 chunks; with no engine, transformers' own loss casts the whole logits to fp32.",
				Doc: "Compute the output projection and the loss's fp32 cast over this many chunks of the sequence " +
					"(torchtune's CEWithChunkedOutputLoss), so the fp32 logits of the whole batch never exist at once."},
			{Name: "activation_offloading", Type: tBool(), Default: "false",
				DefaultWhy: "Copying every saved activation to host memory and back costs PCIe bandwidth; the planner suggests it when activations do not fit.",
				Doc:        "Move the tensors saved for the backward pass to host memory as they are made and bring them back in backward: about two layers' activations stay on the GPU."},
			{Name: "optimizer_in_backward", Type: tBool(), Default: "false",
				DefaultWhy: "It rules out gradient accumulation and gradient clipping; worth it only when the full set of gradients does not fit.",
				Doc:        "Full fine-tuning: apply the optimizer to each parameter as soon as its gradient is ready and free the gradient, so the gradients of the whole model never exist at once (torchtune's optimizer_in_bwd)."},
		},
		Nested: []Block{loraBlock(), optimizerBlock(), distributedBlock()},
	}
}

func loraBlock() Block {
	return Block{
		Kind:      "lora",
		Name:      NameForbidden,
		Rules:     []string{"ML003"},
		Citations: []Citation{CiteLoRA(), CiteQLoRA()},
		Doc:       "Low-rank adapters: W + (alpha/rank)·B·A on the target modules (alpha/√rank with rslora), with only A and B trained.",
		Attrs: []Attr{
			{Name: "rank", Type: tInt(), Default: "16", Bounds: between(1, 4096), Rule: "ML003",
				Citations:  []Citation{CiteLoRA(), CiteQLoRA()},
				DefaultWhy: "LoRA's experiments show ranks as low as 8 match higher ones; 16 leaves headroom at a trivial memory cost.",
				Doc:        "The adapter rank r."},
			{Name: "alpha", Type: tNumber(), Default: "32", Bounds: positive(), Citations: []Citation{CiteLoRA()},
				DefaultWhy: "alpha = 2·rank is the common recipe; the update is scaled by alpha/rank.",
				Doc:        "The adapter scaling numerator; updates are scaled by alpha/rank."},
			{Name: "dropout", Type: tNumber(), Default: "0.05", Bounds: &Bounds{Min: 0, Max: 1, HasMin: true, HasMax: true, MaxOpen: true},
				Citations:  []Citation{CiteQLoRA()},
				DefaultWhy: "QLoRA's setting for models up to 13B.",
				Doc:        "Dropout on the adapter input."},
			{Name: "rslora", Type: tBool(), Default: "false", Citations: []Citation{CiteRSLoRA()},
				DefaultWhy: "LoRA's alpha/rank is what PEFT and most published recipes use; rank-stabilised scaling matters at high ranks.",
				Doc:        "Rank-stabilised LoRA: scale updates by alpha/√rank instead of alpha/rank, so high ranks keep learning (PEFT's use_rslora)."},
			{Name: "targets", Type: tOneOf(
				tEnum(
					ev("attention", "q_proj, k_proj, v_proj and o_proj."),
					ev("mlp", "gate_proj, up_proj and down_proj."),
					ev("all", "Every linear layer of every transformer block."),
				),
				tList(loraTargetType()),
			), Default: "attention", Rule: "ML003", Citations: []Citation{CiteLoRA(), CiteQLoRA()},
				DefaultWhy: "LoRA adapted the attention projections; adapters there capture most of the gain per parameter.",
				Doc:        "The modules that get adapters: a group or a list of module names."},
		},
	}
}

func optimizerBlock() Block {
	return Block{
		Kind:      "optimizer",
		Name:      NameForbidden,
		Citations: []Citation{CiteAdamW()},
		Doc:       "The optimizer and learning-rate schedule.",
		Attrs: []Attr{
			{Name: "name", Type: tEnum(
				ev("adamw", "Adam with decoupled weight decay: two fp32 moments per trained parameter."),
				ev("adamw_8bit", "AdamW with 8-bit block-wise quantised moments: a quarter of the state memory."),
				ev("paged_adamw_8bit", "8-bit AdamW whose state pages to host memory under pressure (QLoRA's paged optimizers)."),
				ev("sgd", "SGD with momentum: one state per parameter."),
				ev("lion", "Lion (sign momentum): one state per parameter."),
			), Default: "adamw", Citations: []Citation{CiteAdamW()},
				DefaultWhy: "AdamW is the reference optimizer of the LoRA and QLoRA papers.",
				Doc:        "The optimizer."},
			{Name: "lr", Type: tNumber(), Default: "2e-4", Bounds: &Bounds{Min: 0, Max: 1, HasMin: true, HasMax: true, MinOpen: true},
				Citations:  []Citation{CiteQLoRA()},
				DefaultWhy: "QLoRA's learning rate for 7B–13B adapters; full fine-tuning wants about 10× less.",
				Doc:        "The peak learning rate."},
			{Name: "schedule", Type: tEnum(
				ev("constant", "Keep the peak rate after warmup."),
				ev("linear", "Decay linearly to zero."),
				ev("cosine", "Decay along a half cosine to zero."),
			), Default: "cosine",
				DefaultWhy: "Cosine decay is the common choice for LLM fine-tuning and is robust to the step count.",
				Doc:        "The learning-rate schedule after warmup."},
			{Name: "warmup", Type: tOneOf(tShare(true), tCount()), Default: "3%", Bounds: atLeast(0),
				Citations:  []Citation{CiteQLoRA()},
				DefaultWhy: "QLoRA's warmup ratio of 0.03.",
				Doc:        "Linear warmup: a percentage of the run or a number of steps."},
			{Name: "weight_decay", Type: tNumber(), Default: "0", Bounds: between(0, 1), Citations: []Citation{CiteAdamW()},
				DefaultWhy: "Adapters start at zero and are small; QLoRA trained without decay.",
				Doc:        "Decoupled weight decay."},
		},
	}
}

func distributedBlock() Block {
	return Block{
		Kind:      "distributed",
		Name:      NameForbidden,
		Citations: []Citation{CiteZeRO()},
		Doc:       "Training across several GPUs.",
		Attrs: []Attr{
			{Name: "strategy", Type: tEnum(
				ev("ddp", "Data parallel: every GPU holds the whole model and optimizer state."),
				ev("zero2", "ZeRO stage 2: optimizer state and gradients sharded across GPUs."),
				ev("zero3", "ZeRO stage 3: parameters sharded too; the least memory per GPU, the most communication."),
				ev("fsdp", "PyTorch Fully Sharded Data Parallel (ZeRO-3-like)."),
			), Default: "ddp", Citations: []Citation{CiteZeRO()},
				DefaultWhy: "Data parallelism has the least communication; shard only when the planner says the state does not fit.",
				Doc:        "How model and optimizer state are split across GPUs."},
			{Name: "gpus", Type: tInt(), Bounds: between(1, 1<<16),
				DefaultWhy: "Every GPU of the target.",
				Doc:        "The number of GPUs to train on."},
			{Name: "cpu_offload", Type: tBool(), Default: "false", Citations: []Citation{CiteZeRO()},
				DefaultWhy: "Host memory is slower by the PCIe link; offload only when the sharded state still does not fit.",
				Doc:        "Keep the optimizer state and gradients (with zero3 and fsdp the sharded parameters too) in host memory: DeepSpeed's offload_optimizer and offload_param, FSDP's CPU offload."},
			{Name: "engine", Type: tEnum(
				ev("accelerate", "Hugging Face Accelerate."),
				ev("deepspeed", "Microsoft DeepSpeed."),
			), Default: "accelerate",
				DefaultWhy: "Accelerate drives ddp, fsdp and DeepSpeed's ZeRO from one launcher.",
				Doc:        "The launcher that implements the strategy."},
		},
	}
}

func generateBlock() Block {
	return Block{
		Kind:      "generate",
		Name:      NameRequired,
		Stage:     true,
		Rules:     []string{"ML004", "ML005", "ML006"},
		Citations: []Citation{CitePagedAttention()},
		Doc:       "Generates text from a model or a fine-tune's output.",
		Attrs: []Attr{
			{Name: "model", Type: tRef("model", "finetune"), Required: true,
				Doc: "The model to sample from: a model, or a finetune (its output; \"sft@step500\" or \"sft@RUNID[/stepN]\" for a recorded checkpoint, see language.md)."},
			{Name: "prompt", Type: tString(), Required: true, Doc: "The prompt text."},
			{Name: "max_tokens", Type: tInt(), Default: "256", Bounds: between(1, 1<<24),
				DefaultWhy: "Enough for a paragraph; generation stops earlier at end-of-sequence.",
				Doc:        "The most tokens to generate."},
			{Name: "temperature", Type: tNumber(), Default: "1", Bounds: between(0, 100),
				DefaultWhy: "Sample from the model's own distribution; 0 is greedy and deterministic.",
				Doc:        "Softmax temperature; 0 means greedy decoding."},
			{Name: "top_p", Type: tNumber(), Default: "1", Bounds: &Bounds{Min: 0, Max: 1, HasMin: true, HasMax: true, MinOpen: true},
				DefaultWhy: "No nucleus truncation.",
				Doc:        "Nucleus sampling: sample from the smallest set of tokens whose probability reaches top_p."},
			{Name: "top_k", Type: tInt(), Default: "0", Bounds: atLeast(0),
				DefaultWhy: "0 disables top-k truncation.",
				Doc:        "Sample from the k most likely tokens only."},
			{Name: "seed", Type: tInt(), Bounds: atLeast(0), DefaultWhy: "The pipeline's seed.",
				Doc: "The sampling seed."},
			{Name: "kv_cache", Type: tBool(), Default: "true", Rule: "ML004", Citations: []Citation{CitePagedAttention()},
				DefaultWhy: "Without a cache every new token recomputes attention over the whole prefix: quadratic instead of linear work.",
				Doc:        "Cache attention keys and values across decoding steps."},
			{Name: "attention", Type: attentionType(), Default: "auto", Rule: "ML006",
				DefaultWhy: "The fastest exact kernel the hardware supports.",
				Doc:        "The attention kernel."},
			{Name: "compile", Type: compileType(), Default: "default", Rule: "ML005",
				DefaultWhy: "Decoding runs the same graph once per token, so building it once and reusing it pays off from the second token; reduce_overhead (preallocated buffers, fused element-wise ops) is the next step for long generations.",
				Doc:        "Graph compilation mode."},
			{Name: "ignore_eos", Type: tBool(), Default: "false",
				DefaultWhy: "Stop at end-of-sequence, as users expect.",
				Doc:        "Keep generating past the end-of-sequence token (for benchmarks)."},
			{Name: "benchmark", Type: tBool(), Default: "false",
				DefaultWhy: "Ordinary generation.",
				Doc:        "Mark this stage as a benchmark, a baseline to compare against: ML004 then allows kv_cache = false."},
		},
	}
}

func serveBlock() Block {
	return Block{
		Kind:      "serve",
		Name:      NameRequired,
		Stage:     true,
		Rules:     []string{"ML004", "ML005", "ML006"},
		Citations: []Citation{CitePagedAttention()},
		Doc:       "Serves a model or a fine-tune's output over HTTP.",
		Attrs: []Attr{
			{Name: "model", Type: tRef("model", "finetune"), Required: true,
				Doc: "The model to serve: a model, or a finetune (its output)."},
			{Name: "host", Type: tString(), Default: `"127.0.0.1"`,
				DefaultWhy: "Listen on loopback only; exposing a model server is a deliberate choice.",
				Doc:        "The address to listen on."},
			{Name: "port", Type: tInt(), Default: "8080", Bounds: between(1, 65535),
				DefaultWhy: "A conventional unprivileged HTTP port.",
				Doc:        "The TCP port to listen on."},
			{Name: "max_batch", Type: tInt(), Default: "8", Bounds: between(1, 1<<16),
				DefaultWhy: "Batches of a few requests raise throughput with little latency cost; the KV cache of each costs memory.",
				Doc:        "The most requests decoded together."},
			{Name: "kv_cache", Type: tBool(), Default: "true", Rule: "ML004", Citations: []Citation{CitePagedAttention()},
				DefaultWhy: "Without a cache every new token recomputes attention over the whole prefix.",
				Doc:        "Cache attention keys and values across decoding steps."},
			{Name: "attention", Type: attentionType(), Default: "auto", Rule: "ML006",
				DefaultWhy: "The fastest exact kernel the hardware supports.",
				Doc:        "The attention kernel."},
			{Name: "compile", Type: compileType(), Default: "none", Rule: "ML005",
				DefaultWhy: "Servers run long, so compilation pays off, but it must be chosen knowingly: it delays start-up.",
				Doc:        "Graph compilation mode."},
			{Name: "max_queue", Type: tInt(), Default: "64", Bounds: between(0, 1<<20),
				DefaultWhy: "Enough to absorb bursts of a few batches; beyond it clients are told to retry (429 with Retry-After) instead of waiting unboundedly.",
				Doc:        "The most requests waiting for a batch slot; more are refused with 429."},
			{Name: "max_tokens", Type: tInt(), Default: "512", Bounds: between(1, 1<<24),
				DefaultWhy: "Long enough for a chat reply; a request asking for more is refused with 400.",
				Doc:        "The most tokens one request may generate, and the default when a request sets none."},
			{Name: "timeout", Type: tInt(), Default: "600", Bounds: between(1, 86400),
				DefaultWhy: "Ten minutes ends a stuck request without cutting off long generations.",
				Doc:        "The longest one request may take, in seconds; it then ends with 504 and frees its slot."},
			{Name: "chat_template", Type: chatTemplateType(), Default: "auto",
				DefaultWhy: "The template the model's metadata names, so chat requests look like its training data.",
				Doc:        "How chat requests become prompts."},
		},
	}
}

// chatTemplateType is the chat template of serve and export.
func chatTemplateType() Type {
	return tEnum(
		ev("auto", "The model's own template when its metadata carries a known one, else plain."),
		ev("plain", "The messages' contents, one per line: for base models without chat training."),
		ev("chatml", "ChatML: <|im_start|>role ... <|im_end|> turns."),
		ev("llama2", "Llama 2 chat: [INST] ... [/INST] turns, a system message in <<SYS>>."),
		ev("llama3", "Llama 3 instruct: <|start_header_id|>role<|end_header_id|> ... <|eot_id|> turns."),
	)
}

func trackBlock() Block {
	return Block{
		Kind:      "track",
		Name:      NameOptional,
		Singleton: true,
		Rules:     []string{"ML007"},
		Citations: []Citation{CiteMLflow(), CiteTensorBoard()},
		Doc:       "Experiment tracking: where each run's configuration, provenance and metrics are recorded (ML007).",
		Attrs: []Attr{
			{Name: "backend", Type: tOneOf(tEnum(
				ev("tensorboard", "TensorBoard event files in each run's directory under dir."),
				ev("mlflow", "An MLflow file store in dir/mlruns (`mlflow ui --backend-store-uri dir/mlruns`)."),
				ev("wandb", "Weights & Biases: not written by whisperc run (it needs an account and a network); metrics stay in metrics.jsonl."),
				ev("jsonl", "metrics.jsonl only: one JSON object per metric value, in each run's directory."),
			), tList(tEnum(
				ev("tensorboard", "TensorBoard event files in each run's directory under dir."),
				ev("mlflow", "An MLflow file store in dir/mlruns (`mlflow ui --backend-store-uri dir/mlruns`)."),
				ev("wandb", "Weights & Biases: not written by whisperc run (it needs an account and a network); metrics stay in metrics.jsonl."),
				ev("jsonl", "metrics.jsonl only: one JSON object per metric value, in each run's directory."),
			))), Default: "tensorboard",
				DefaultWhy: "Local, free and needs no account.",
				Doc:        "Where runs' metrics are recorded besides metrics.jsonl: one backend, or a list such as [tensorboard, mlflow] for several at once."},
			{Name: "dir", Type: tPath(), Default: `"runs"`,
				DefaultWhy: "TensorBoard's conventional directory, next to the declaring file.",
				Doc:        "The local directory for tensorboard, mlflow (file store) and jsonl."},
			{Name: "project", Type: tString(),
				DefaultWhy: "The pipeline's name.",
				Doc:        "The MLflow experiment or W&B project."},
			{Name: "log", Type: tList(tEnum(
				ev("config", "The resolved pipeline, every default applied."),
				ev("model_hash", "A content hash of the base weights."),
				ev("commit", "The git commit and whether the tree is dirty."),
				ev("hardware", "GPUs, driver, memory, as detected."),
				ev("metrics", "Loss, learning rate, throughput and memory per step."),
			)), Default: "[config, model_hash, commit, hardware, metrics]", Rule: "ML007",
				DefaultWhy: "A run is reproducible only with all of them.",
				Doc:        "What each run records."},
		},
	}
}

func versionBlock() Block {
	return Block{
		Kind:      "version",
		Name:      NameOptional,
		Singleton: true,
		Rules:     []string{"ML008"},
		Citations: []Citation{CiteDVC(), CiteGitLFS()},
		Doc:       "Data and checkpoint versioning for the whole pipeline (ML008).",
		Attrs: []Attr{
			{Name: "data", Type: versionType(), Default: "dvc", Rule: "ML008",
				DefaultWhy: "DVC handles large datasets and remotes without bloating git.",
				Doc:        "How datasets are versioned (a dataset's own `version` overrides it)."},
			{Name: "checkpoints", Type: versionType(), Default: "dvc", Rule: "ML008",
				DefaultWhy: "Checkpoints are large binary files: DVC, not git.",
				Doc:        "How fine-tuning outputs are versioned."},
			{Name: "remote", Type: tString(),
				DefaultWhy: "The DVC or LFS default remote.",
				Doc:        "The remote to push versions to, such as `s3://bucket/path`."},
		},
	}
}

func exportBlock() Block {
	return Block{
		Kind:  "export",
		Name:  NameRequired,
		Stage: true,
		Doc:   "Writes a model or a fine-tune's output in a deployable format.",
		Attrs: []Attr{
			{Name: "model", Type: tRef("finetune", "model"), Required: true, Doc: "What to export: a model, or a finetune (its output; \"sft@step500\" or \"sft@RUNID[/stepN]\" for a recorded checkpoint)."},
			{Name: "format", Type: tEnum(
				ev("gguf", "A single GGUF file for llama.cpp and Ollama."),
				ev("safetensors", "Safetensors weights (the adapter alone for LoRA fine-tunes)."),
				ev("merged", "Safetensors with the LoRA adapters merged into the base weights."),
			), Default: "safetensors",
				DefaultWhy: "Safe to load (no pickle), readable by every framework.",
				Doc:        "The output format."},
			{Name: "quantize", Type: tEnum(
				ev("none", "Keep the trained precision."),
				ev("f16", "16-bit floats."),
				ev("q8_0", "GGML 8-bit blocks (gguf only)."),
				ev("q4_0", "GGML 4-bit blocks (gguf only)."),
				ev("q4_k_m", "llama.cpp's Q4_K_M mix: Q4_K super-blocks, Q6_K for the value and down projections of some layers and for the classifier (gguf only)."),
			), Default: "none", Citations: []Citation{CiteLLMInt8()},
				DefaultWhy: "Quantising an export loses quality; choose it for the deployment target.",
				Doc:        "Quantisation applied to the exported weights."},
			{Name: "path", Type: tPath(),
				DefaultWhy: "`export/NAME` plus the format's extension, next to the declaring file.",
				Doc:        "Where to write the export."},
			{Name: "merge", Type: tBool(), Default: "true",
				DefaultWhy: "One self-contained file is the simplest to deploy.",
				Doc:        "For a LoRA fine-tune exported as gguf: fold the adapters into the weights; false writes the base model and the adapter as a separate GGUF adapter (general.type = adapter) that the Modelfile's ADAPTER names."},
			{Name: "modelfile", Type: tBool(), Default: "true",
				DefaultWhy: "`ollama create` takes the directory as is.",
				Doc:        "For gguf: write an Ollama Modelfile (FROM, ADAPTER, TEMPLATE, PARAMETER, SYSTEM) beside the file."},
			{Name: "system", Type: tString(),
				DefaultWhy: "No system prompt.",
				Doc:        "The Modelfile's SYSTEM prompt."},
			{Name: "chat_template", Type: chatTemplateType(), Default: "auto",
				DefaultWhy: "The template the model's metadata names.",
				Doc:        "The chat template written to the GGUF metadata (tokenizer.chat_template) and the Modelfile's TEMPLATE."},
		},
	}
}

func targetBlock() Block {
	return Block{
		Kind:      "target",
		Name:      NameOptional,
		Singleton: true,
		Doc: "The hardware the pipeline is planned for: a named profile, a GPU count and requirements " +
			"the planner checks. Without it the planner uses the detected hardware.",
		Attrs: []Attr{
			{Name: "profile", Type: tString(),
				DefaultWhy: "The detected hardware.",
				Doc:        "A built-in hardware profile, such as \"a100-80gb\" (see `whisperc plan --targets`)."},
			{Name: "count", Type: tInt(), Default: "1", Bounds: between(1, 1<<16),
				DefaultWhy: "One device.",
				Doc:        "How many devices of the profile."},
			{Name: "require", Type: tList(constraintType()),
				Doc: "Comparisons the hardware must satisfy, such as `gpu_memory >= 24GiB`; the planner reports a failed one."},
		},
	}
}
