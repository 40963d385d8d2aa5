package engines

import (
	"fmt"
	"io"
	"strings"
)

// Support says how an engine expresses one value of a plan decision. The
// zero value is invalid, so a row without it is caught by the tests.
type Support int

// The levels of support.
const (
	SupportInvalid Support = iota
	// Exact: the engine has a flag or config key with the same meaning.
	Exact
	// Approximate: the closest setting differs in a stated way; lowering
	// warns (P141) and says how.
	Approximate
	// Unsupported: the engine cannot express the value; lowering refuses
	// (P140), positioned on the attribute.
	Unsupported
)

// Mapping is one cell of the decision × engine table: what a decision's
// value becomes in an engine's files.
type Mapping struct {
	// Decision is the attribute, as written in a .whisper file
	// ("quantize.method", "checkpointing"); Value one of its values, or "*"
	// for every value (numbers, names, paths).
	Decision string
	Value    string
	Engine   Engine
	Support  Support
	// Key is the text the lowering writes for it; for Exact and
	// Approximate mappings the tests check that it appears in the output.
	Key string
	// Note says what differs (Approximate) or why it cannot be expressed
	// (Unsupported), as the diagnostic's detail.
	Note string
	// Rule is the methodology rule behind the decision, if any.
	Rule string
}

// decisionDomain lists every training decision and its values: the rows the
// table must cover for each training engine. The order is the table's.
var decisionDomain = []struct {
	Decision string
	Rule     string
	Values   []string
}{
	{"method", "ML003", []string{"full", "lora", "qlora"}},
	{"quantize.method", "ML001", []string{"nf4", "fp4", "int8", "q8_0", "q4_0"}},
	{"quantize.double", "ML001", []string{"true", "false"}},
	{"quantize.compute", "ML001", []string{"bf16", "fp16", "fp32"}},
	{"quantize.block_size", "ML001", []string{"64", "other"}},
	{"lora.rank", "ML003", []string{"*"}},
	{"lora.alpha", "ML003", []string{"*"}},
	{"lora.dropout", "ML003", []string{"*"}},
	{"lora.targets", "ML003", []string{"attention", "mlp", "all", "part of the MLP"}},
	{"lora.rslora", "ML003", []string{"false", "true"}},
	{"checkpointing", "ML002", []string{"none", "full", "selective", "every"}},
	{"attention", "ML006", []string{"eager", "sdpa", "flash2"}},
	{"compile", "ML005", []string{"none", "default", "reduce_overhead", "max_autotune"}},
	{"precision", "", []string{"bf16", "fp16", "fp32", "fp8"}},
	{"optimizer.name", "", []string{"adamw", "adamw_8bit", "paged_adamw_8bit", "sgd", "lion"}},
	{"optimizer.lr", "", []string{"*"}},
	{"optimizer.schedule", "", []string{"constant", "linear", "cosine"}},
	{"optimizer.warmup", "", []string{"steps", "percent"}},
	{"optimizer.weight_decay", "", []string{"*"}},
	{"batch", "", []string{"*"}},
	{"grad_accum", "", []string{"*"}},
	{"epochs", "", []string{"*"}},
	{"max_steps", "", []string{"*"}},
	{"save_every", "", []string{"steps", "epochs"}},
	{"eval_every", "", []string{"steps", "epochs"}},
	{"max_grad_norm", "", []string{"off", "set"}},
	{"seed", "", []string{"*"}},
	{"output", "", []string{"*"}},
	{"dataset.format", "", []string{"jsonl", "csv", "parquet", "text", "hf"}},
	{"dataset.field", "", []string{"*"}},
	{"dataset.seq_len", "", []string{"*"}},
	{"dataset.packing", "", []string{"false", "true"}},
	{"dataset.shuffle", "", []string{"*"}},
	{"dataset.eval", "", []string{"none", "split"}},
	{"dataset.truncate", "", []string{"false", "true", "false, packing", "true, packing"}},
	{"dataset.on_bad_record", "", []string{"error", "skip"}},
	{"nan_rollbacks", "", []string{"0", "1 or more"}},
	{"distributed.strategy", "", []string{"ddp", "zero2", "zero3", "fsdp"}},
	{"distributed.gpus", "", []string{"*"}},
	{"distributed.engine", "", []string{"accelerate", "deepspeed"}},
	{"track.backend", "ML007", []string{"tensorboard", "mlflow", "wandb", "jsonl"}},
	{"loss_chunks", "", []string{"engine default", "set"}},
	{"activation_offloading", "", []string{"false", "true"}},
	{"optimizer_in_backward", "", []string{"false", "true"}},
	{"distributed.cpu_offload", "", []string{"false", "true"}},
}

// serveDomain lists the inference decisions that vLLM lowers.
var serveDomain = []struct {
	Decision string
	Rule     string
	Values   []string
}{
	{"model", "", []string{"hub", "finetune (LoRA)", "finetune (full)", "local safetensors", "gguf", "llama2c", "ollama"}},
	{"quantize.method", "ML001", []string{"none", "nf4", "fp4", "int8", "q8_0", "q4_0"}},
	{"quantize.compute", "ML001", []string{"bf16", "fp16", "fp32"}},
	{"kv_cache", "ML004", []string{"true", "false"}},
	{"attention", "ML006", []string{"eager", "sdpa", "flash2"}},
	{"compile", "ML005", []string{"none", "default", "reduce_overhead", "max_autotune"}},
	{"serve.host", "", []string{"*"}},
	{"serve.port", "", []string{"*"}},
	{"serve.max_batch", "", []string{"*"}},
	{"generate.prompt", "", []string{"*"}},
	{"generate.max_tokens", "", []string{"*"}},
	{"generate.temperature", "", []string{"*"}},
	{"generate.top_p", "", []string{"*"}},
	{"generate.top_k", "", []string{"*"}},
	{"generate.seed", "", []string{"*"}},
	{"generate.ignore_eos", "", []string{"*"}},
}

func ex(d, v string, e Engine, key string) Mapping {
	return Mapping{Decision: d, Value: v, Engine: e, Support: Exact, Key: key}
}

func approx(d, v string, e Engine, key, note string) Mapping {
	return Mapping{Decision: d, Value: v, Engine: e, Support: Approximate, Key: key, Note: note}
}

func no(d, v string, e Engine, note string) Mapping {
	return Mapping{Decision: d, Value: v, Engine: e, Support: Unsupported, Note: note}
}

// table is every mapping. Keys are the literal text the lowering writes.
// nanRollbackNote is how the engines' rollback differs from whisperc run's.
const nanRollbackNote = "A rollback restores the weights and the optimizer's moments of the last good state (where whisperc run last checkpoints, " +
	"or the start; a copy kept on the host) and lowers the learning rate, as whisperc run does, but the engine's data order and schedule go on from the current step " +
	"where whisperc run rewinds them to the checkpoint's. Write nan_rollbacks = 0 to stop at the first run of nan_patience bad steps instead."

var table = []Mapping{
	// method
	ex("method", "full", HF, "AutoModelForCausalLM.from_pretrained("),
	ex("method", "lora", HF, "LoraConfig("),
	ex("method", "qlora", HF, "BitsAndBytesConfig("),
	ex("method", "full", Torchtune, "full_finetune_"),
	ex("method", "lora", Torchtune, "lora_finetune_"),
	ex("method", "qlora", Torchtune, "quantize_base: True"),

	// quantisation of the frozen base
	ex("quantize.method", "nf4", HF, `bnb_4bit_quant_type="nf4"`),
	ex("quantize.method", "fp4", HF, `bnb_4bit_quant_type="fp4"`),
	ex("quantize.method", "int8", HF, "load_in_8bit=True"),
	no("quantize.method", "q8_0", HF, "q8_0 is a GGML block format for llama.cpp; transformers trains on bitsandbytes formats. Use method = int8 (LLM.int8()) or nf4."),
	no("quantize.method", "q4_0", HF, "q4_0 is a GGML block format for llama.cpp; transformers trains on bitsandbytes formats. Use method = nf4."),
	ex("quantize.method", "nf4", Torchtune, "quantize_base: True"),
	no("quantize.method", "fp4", Torchtune, "torchtune has no FP4 base: its QLoRA stores the frozen weights as torchao's NF4Tensor only. Use method = nf4, or export with --engine hf."),
	no("quantize.method", "int8", Torchtune, "torchtune has no 8-bit base for LoRA: its QLoRA stores the frozen weights as torchao's NF4Tensor only. Use method = nf4, or export with --engine hf."),
	no("quantize.method", "q8_0", Torchtune, "q8_0 is a GGML block format for llama.cpp; torchtune's QLoRA uses NF4. Use method = nf4."),
	no("quantize.method", "q4_0", Torchtune, "q4_0 is a GGML block format for llama.cpp; torchtune's QLoRA uses NF4. Use method = nf4."),
	ex("quantize.double", "true", HF, "bnb_4bit_use_double_quant=True"),
	ex("quantize.double", "false", HF, "bnb_4bit_use_double_quant=False"),
	ex("quantize.double", "true", Torchtune, "quantize_base: True"),
	no("quantize.double", "false", Torchtune, "torchao's NF4Tensor always quantises its block scales (8-bit scales in blocks of 256), so torchtune cannot store fp32 scales. Write double = true, or export with --engine hf."),
	ex("quantize.compute", "bf16", HF, "bnb_4bit_compute_dtype=torch.bfloat16"),
	ex("quantize.compute", "fp16", HF, "bnb_4bit_compute_dtype=torch.float16"),
	ex("quantize.compute", "fp32", HF, "bnb_4bit_compute_dtype=torch.float32"),
	ex("quantize.compute", "bf16", Torchtune, "dtype: bf16"),
	no("quantize.compute", "fp16", Torchtune, "torchtune's recipes compute in bf16 or fp32; fp16 (with loss scaling) is not supported. Write compute = bf16, or export with --engine hf."),
	ex("quantize.compute", "fp32", Torchtune, "dtype: fp32"),
	ex("quantize.block_size", "64", HF, "load_in_4bit=True"),
	no("quantize.block_size", "other", HF, "bitsandbytes' 4-bit formats use blocks of 64 weights; BitsAndBytesConfig has no block size. Remove block_size."),
	ex("quantize.block_size", "64", Torchtune, "quantize_base: True"),
	no("quantize.block_size", "other", Torchtune, "torchtune's NF4 linears use torchao's blocks of 64 weights. Remove block_size."),

	// adapters
	ex("lora.rank", "*", HF, "r="),
	ex("lora.alpha", "*", HF, "lora_alpha="),
	ex("lora.dropout", "*", HF, "lora_dropout="),
	ex("lora.rank", "*", Torchtune, "lora_rank:"),
	ex("lora.alpha", "*", Torchtune, "lora_alpha:"),
	ex("lora.dropout", "*", Torchtune, "lora_dropout:"),
	ex("lora.targets", "attention", HF, "target_modules=["),
	ex("lora.targets", "mlp", HF, "target_modules=["),
	ex("lora.targets", "all", HF, "target_modules=["),
	ex("lora.targets", "part of the MLP", HF, "target_modules=["),
	ex("lora.targets", "attention", Torchtune, "lora_attn_modules:"),
	ex("lora.targets", "mlp", Torchtune, "apply_lora_to_mlp: True"),
	ex("lora.targets", "all", Torchtune, "apply_lora_to_mlp: True"),
	ex("lora.rslora", "false", HF, "use_rslora=False"),
	ex("lora.rslora", "true", HF, "use_rslora=True"),
	ex("lora.rslora", "false", Torchtune, "lora_alpha:"),
	no("lora.rslora", "true", Torchtune, "torchtune 0.6's LoRA layers scale by alpha/rank only. Write rslora = false (and scale alpha by √rank yourself), or export with --engine hf."),
	no("lora.targets", "part of the MLP", Torchtune, "torchtune adapts the three MLP projections together (apply_lora_to_mlp) or none of them. Target all of gate_proj, up_proj and down_proj, or none, or export with --engine hf."),

	// ML002
	ex("checkpointing", "none", HF, "gradient_checkpointing=False"),
	ex("checkpointing", "full", HF, "gradient_checkpointing=True"),
	no("checkpointing", "selective", HF, "transformers checkpoints whole decoder layers; it has no selective (attention-only) recomputation. Use checkpointing = full."),
	approx("checkpointing", "every", HF, "class CheckpointEvery(", "transformers has no every-k setting; the script enables checkpointing and, when training starts, turns it off on all but every k-th decoder layer (each layer's gradient_checkpointing flag). It prints the count of checkpointed layers to check."),
	ex("checkpointing", "none", Torchtune, "enable_activation_checkpointing: False"),
	ex("checkpointing", "full", Torchtune, "enable_activation_checkpointing: True"),
	no("checkpointing", "selective", Torchtune, "torchtune 0.6's recipes checkpoint whole layers (enable_activation_checkpointing); selective recomputation is not available. Use checkpointing = full."),
	no("checkpointing", "every", Torchtune, "torchtune 0.6's recipes checkpoint every layer or none. Use checkpointing = full or none."),

	// ML006
	ex("attention", "eager", HF, `attn_implementation="eager"`),
	ex("attention", "sdpa", HF, `attn_implementation="sdpa"`),
	ex("attention", "flash2", HF, `attn_implementation="flash_attention_2"`),
	no("attention", "eager", Torchtune, "torchtune's attention always calls PyTorch's scaled_dot_product_attention; it has no eager path that materialises the scores. Use attention = sdpa."),
	ex("attention", "sdpa", Torchtune, "scaled_dot_product_attention"),
	approx("attention", "flash2", Torchtune, "scaled_dot_product_attention",
		"torchtune calls PyTorch's scaled_dot_product_attention, which dispatches to its FlashAttention-2 backend for bf16/fp16 on compute capability 8.0+; the flash-attn package is not used."),

	// ML005
	ex("compile", "none", HF, "torch_compile=False"),
	ex("compile", "default", HF, `torch_compile_mode="default"`),
	ex("compile", "reduce_overhead", HF, `torch_compile_mode="reduce-overhead"`),
	ex("compile", "max_autotune", HF, `torch_compile_mode="max-autotune"`),
	ex("compile", "none", Torchtune, "compile: False"),
	ex("compile", "default", Torchtune, "compile: True"),
	approx("compile", "reduce_overhead", Torchtune, "compile: True", "torchtune compiles each layer and the loss with torch.compile's default mode; it has no setting for reduce-overhead (CUDA graphs)."),
	approx("compile", "max_autotune", Torchtune, "compile: True", "torchtune compiles each layer and the loss with torch.compile's default mode; it has no setting for max-autotune."),

	// precision
	ex("precision", "bf16", HF, "bf16=True"),
	ex("precision", "fp16", HF, "fp16=True"),
	ex("precision", "fp32", HF, "bf16=False, fp16=False"),
	no("precision", "fp8", HF, "fp8 training needs Accelerate's fp8 recipes (TransformerEngine or torchao); whisperc does not lower them yet. Use precision = bf16."),
	ex("precision", "bf16", Torchtune, "dtype: bf16"),
	no("precision", "fp16", Torchtune, "torchtune's recipes train in bf16 or fp32; fp16 with loss scaling is not supported. Use precision = bf16 (compute capability 8.0+) or fp32."),
	ex("precision", "fp32", Torchtune, "dtype: fp32"),
	no("precision", "fp8", Torchtune, "torchtune 0.6's single-device and LoRA recipes have no fp8 training. Use precision = bf16."),

	// optimizer
	ex("optimizer.name", "adamw", HF, `optim="adamw_torch_fused"`),
	ex("optimizer.name", "adamw_8bit", HF, `optim="adamw_bnb_8bit"`),
	ex("optimizer.name", "paged_adamw_8bit", HF, `optim="paged_adamw_8bit"`),
	ex("optimizer.name", "sgd", HF, `optim="sgd"`),
	ex("optimizer.name", "lion", HF, `optim="lion_32bit"`),
	ex("optimizer.name", "adamw", Torchtune, "optimizer: torch.optim.AdamW"),
	ex("optimizer.name", "adamw_8bit", Torchtune, "optimizer: bitsandbytes.optim.AdamW8bit"),
	ex("optimizer.name", "paged_adamw_8bit", Torchtune, "optimizer: bitsandbytes.optim.PagedAdamW8bit"),
	ex("optimizer.name", "sgd", Torchtune, "optimizer: torch.optim.SGD"),
	ex("optimizer.name", "lion", Torchtune, "optimizer: bitsandbytes.optim.Lion"),
	ex("optimizer.lr", "*", HF, "learning_rate="),
	ex("optimizer.lr", "*", Torchtune, "lr:"),
	ex("optimizer.schedule", "constant", HF, `lr_scheduler_type="constant_with_warmup"`),
	ex("optimizer.schedule", "linear", HF, `lr_scheduler_type="linear"`),
	ex("optimizer.schedule", "cosine", HF, `lr_scheduler_type="cosine"`),
	ex("optimizer.schedule", "constant", Torchtune, "shape: constant"),
	ex("optimizer.schedule", "linear", Torchtune, "shape: linear"),
	ex("optimizer.schedule", "cosine", Torchtune, "shape: cosine"),
	ex("optimizer.warmup", "steps", HF, "warmup_steps="),
	ex("optimizer.warmup", "percent", HF, "warmup_steps=0."),
	ex("optimizer.warmup", "steps", Torchtune, "warmup_steps:"),
	ex("optimizer.warmup", "percent", Torchtune, "warmup_ratio:"),
	ex("optimizer.weight_decay", "*", HF, "weight_decay="),
	ex("optimizer.weight_decay", "*", Torchtune, "weight_decay:"),

	// batch and schedule of the run
	ex("batch", "*", HF, "per_device_train_batch_size="),
	ex("batch", "*", Torchtune, "batch_size:"),
	ex("grad_accum", "*", HF, "gradient_accumulation_steps="),
	ex("grad_accum", "*", Torchtune, "gradient_accumulation_steps:"),
	ex("epochs", "*", HF, "num_train_epochs="),
	ex("epochs", "*", Torchtune, "epochs:"),
	ex("max_steps", "*", HF, "max_steps="),
	approx("max_steps", "*", Torchtune, "max_steps_per_epoch:", "torchtune limits steps per epoch; whisperc writes epochs: 1 and max_steps_per_epoch = max_steps, so a dataset shorter than max_steps ends the run early."),
	ex("save_every", "steps", HF, "save_steps="),
	ex("save_every", "epochs", HF, `save_strategy="epoch"`),
	approx("save_every", "steps", Torchtune, "epochs:", "torchtune 0.6 writes checkpoints at the end of each epoch only; save_every in steps is not expressible and checkpoints come once per epoch."),
	ex("save_every", "epochs", Torchtune, "epochs:"),
	ex("eval_every", "steps", HF, "eval_steps="),
	approx("eval_every", "epochs", HF, `eval_strategy="epoch"`, "the Trainer evaluates after every epoch; eval_every in epochs above 1 is not expressible, so evaluation comes once per epoch."),
	approx("eval_every", "steps", Torchtune, "dataset:", "torchtune 0.6's recipes have no evaluation loop; nothing is evaluated."),
	approx("eval_every", "epochs", Torchtune, "dataset:", "torchtune 0.6's recipes have no evaluation loop; nothing is evaluated."),
	ex("max_grad_norm", "off", HF, "max_grad_norm=0.0"),
	ex("max_grad_norm", "set", HF, "max_grad_norm="),
	ex("max_grad_norm", "off", Torchtune, "clip_grad_norm: null"),
	ex("max_grad_norm", "set", Torchtune, "clip_grad_norm:"),
	ex("seed", "*", HF, "seed="),
	ex("seed", "*", Torchtune, "seed:"),
	ex("output", "*", HF, "output_dir="),
	ex("output", "*", Torchtune, "output_dir:"),

	// data
	ex("dataset.format", "jsonl", HF, `read_records(DATA, "jsonl"`),
	ex("dataset.format", "csv", HF, `load_dataset("csv"`),
	ex("dataset.format", "parquet", HF, `load_dataset("parquet"`),
	ex("dataset.format", "text", HF, `read_records(DATA, "text"`),
	ex("dataset.format", "hf", HF, "load_dataset("),
	ex("dataset.format", "jsonl", Torchtune, "format: jsonl"),
	ex("dataset.format", "csv", Torchtune, "format: csv"),
	ex("dataset.format", "parquet", Torchtune, "format: parquet"),
	ex("dataset.format", "text", Torchtune, "format: text"),
	ex("dataset.format", "hf", Torchtune, "source:"),
	ex("dataset.field", "*", HF, "dataset_text_field="),
	ex("dataset.field", "*", Torchtune, "column:"),
	ex("dataset.seq_len", "*", HF, "max_length=ROW_TOKENS"), // seq_len + 1 tokens: seq_len predictions, as in whisperc run
	ex("dataset.seq_len", "*", Torchtune, "seq_len:"),
	ex("dataset.packing", "false", HF, "packing=False"),
	ex("dataset.packing", "true", HF, "packing=True"),
	ex("dataset.packing", "false", Torchtune, "packing: False"),
	ex("dataset.packing", "true", Torchtune, "packing: True"),
	ex("dataset.shuffle", "*", HF, "shuffle("),
	ex("dataset.shuffle", "*", Torchtune, "shuffle:"),
	ex("dataset.eval", "none", HF, `eval_strategy="no"`),
	ex("dataset.eval", "split", HF, "train_test_split("),
	ex("dataset.eval", "none", Torchtune, "dataset:"),
	approx("dataset.eval", "split", Torchtune, "dataset:", "torchtune 0.6's recipes have no held-out evaluation loop; the export trains on the whole file and the eval split is not held out."),
	// Bad records and truncation: whisperc_support (support.py, shipped
	// beside the export) reads and checks the records as whisperc run does.
	ex("dataset.truncate", "false", HF, "TRUNCATE = False"),
	ex("dataset.truncate", "true", HF, "TRUNCATE = True"),
	approx("dataset.truncate", "false, packing", HF, "TRUNCATE = False",
		"whisperc run splits an example longer than seq_len across packed sequences; the export keeps it and TRL's packing decides, which may cut it at max_length."),
	approx("dataset.truncate", "true, packing", HF, "TRUNCATE = True",
		"whisperc run cuts an example to seq_len before packing; the export counts such examples and leaves the cutting to TRL's packing, which packs by its own rule."),
	ex("dataset.truncate", "false", Torchtune, "truncate: False"),
	ex("dataset.truncate", "true", Torchtune, "truncate: True"),
	ex("dataset.truncate", "false, packing", Torchtune, "truncate: False"),
	ex("dataset.truncate", "true, packing", Torchtune, "truncate: True"),
	ex("dataset.on_bad_record", "error", HF, `ON_BAD_RECORD = "error"`),
	ex("dataset.on_bad_record", "skip", HF, `ON_BAD_RECORD = "skip"`),
	ex("dataset.on_bad_record", "error", Torchtune, "on_bad_record: error"),
	ex("dataset.on_bad_record", "skip", Torchtune, "on_bad_record: skip"),
	// The non-finite-step guard: whisperc_support.NonFiniteGuard wraps the
	// optimizer. Skipping and stopping are exact; a rollback restores the
	// weights and moments but cannot rewind the engine's data and schedule.
	ex("nan_rollbacks", "0", HF, "NonFiniteGuard("),
	approx("nan_rollbacks", "1 or more", HF, "NonFiniteGuard(", nanRollbackNote),
	ex("nan_rollbacks", "0", Torchtune, "whisperc_support.guarded_optimizer"),
	approx("nan_rollbacks", "1 or more", Torchtune, "whisperc_support.guarded_optimizer", nanRollbackNote),

	// several GPUs
	ex("distributed.strategy", "ddp", HF, "distributed_type: MULTI_GPU"),
	ex("distributed.strategy", "zero2", HF, `"stage": 2`),
	ex("distributed.strategy", "zero3", HF, `"stage": 3`),
	ex("distributed.strategy", "fsdp", HF, "distributed_type: FSDP"),
	approx("distributed.strategy", "ddp", Torchtune, "_distributed", "torchtune's distributed recipes shard with FSDP2 and have no plain data parallelism; each GPU holds less than the plan's ddp figure."),
	ex("distributed.strategy", "zero2", Torchtune, "fsdp_reshard_after_forward: False"),
	ex("distributed.strategy", "zero3", Torchtune, "fsdp_reshard_after_forward: True"),
	ex("distributed.strategy", "fsdp", Torchtune, "fsdp_reshard_after_forward: True"),
	ex("distributed.gpus", "*", HF, "num_processes:"),
	ex("distributed.gpus", "*", Torchtune, "--nproc_per_node"),
	ex("distributed.engine", "accelerate", HF, "accelerate launch"), // Accelerate also drives DeepSpeed's ZeRO stages
	ex("distributed.engine", "deepspeed", HF, "distributed_type: DEEPSPEED"),
	approx("distributed.engine", "accelerate", Torchtune, "tune run", "torchtune launches its recipes with torchrun through `tune run`; the engine setting does not apply."),
	approx("distributed.engine", "deepspeed", Torchtune, "tune run", "torchtune shards with FSDP2 through `tune run`, not DeepSpeed; ZeRO stages map to FSDP2's resharding."),

	// ML007
	ex("track.backend", "tensorboard", HF, `report_to=["tensorboard"]`),
	ex("track.backend", "mlflow", HF, `report_to=["mlflow"]`),
	ex("track.backend", "wandb", HF, `report_to=["wandb"]`),
	ex("track.backend", "jsonl", HF, "class JSONLMetrics("),
	ex("track.backend", "tensorboard", Torchtune, "torchtune.training.metric_logging.TensorBoardLogger"),
	ex("track.backend", "mlflow", Torchtune, "torchtune.training.metric_logging.MLFlowLogger"),
	ex("track.backend", "wandb", Torchtune, "torchtune.training.metric_logging.WandBLogger"),
	approx("track.backend", "jsonl", Torchtune, "torchtune.training.metric_logging.DiskLogger", "torchtune's DiskLogger writes one text line per step (name:value pairs), not JSON lines."),

	// memory techniques
	ex("loss_chunks", "engine default", HF, `loss_type="chunked_nll"`),
	approx("loss_chunks", "set", HF, "use_liger_kernel=True", "transformers has no chunk count; Liger's fused linear cross-entropy computes the loss in chunks of its own size and never materialises the logits. It also swaps in Liger's RMSNorm, RoPE and SwiGLU kernels."),
	ex("loss_chunks", "engine default", Torchtune, "CEWithChunkedOutputLoss"),
	ex("loss_chunks", "set", Torchtune, "num_output_chunks:"),
	ex("activation_offloading", "false", HF, "activation_offloading=False"),
	ex("activation_offloading", "true", HF, "activation_offloading=True"),
	ex("activation_offloading", "false", Torchtune, "enable_activation_offloading: False"),
	ex("activation_offloading", "true", Torchtune, "enable_activation_offloading: True"),
	ex("optimizer_in_backward", "false", HF, "optim="),
	no("optimizer_in_backward", "true", HF, "The Trainer steps the optimizer after the whole backward pass; it cannot step each parameter in backward. Export with --engine torchtune (full fine-tuning), or remove optimizer_in_backward."),
	ex("optimizer_in_backward", "false", Torchtune, "optimizer: torch.optim"),
	no("optimizer_in_backward", "true", Torchtune, "torchtune's optimizer_in_bwd applies each parameter's update inside the backward pass, before the step's other gradients exist, so a step whose gradient is not finite cannot be skipped as a whole, as nan_patience asks (whisperc_support.NonFiniteGuard wraps the step). Remove optimizer_in_backward."),
	ex("distributed.cpu_offload", "false", HF, "accelerate.yaml"),
	ex("distributed.cpu_offload", "true", HF, `"device": "cpu"`),
	ex("distributed.cpu_offload", "false", Torchtune, "tune run"),
	ex("distributed.cpu_offload", "true", Torchtune, "fsdp_cpu_offload: True"),

	// vLLM: generate and serve
	ex("model", "hub", VLLM, "vllm serve "),
	ex("model", "finetune (LoRA)", VLLM, "--enable-lora"),
	ex("model", "finetune (full)", VLLM, "vllm serve "),
	ex("model", "local safetensors", VLLM, "vllm serve "),
	approx("model", "gguf", VLLM, "vllm serve ", "vLLM's GGUF loader is experimental and loads single-file GGUF models only; it needs the original model's tokenizer, whisperc passes the model's tokenizer when one is declared."),
	no("model", "llama2c", VLLM, "vLLM loads Hugging Face checkpoints and GGUF files, not llama2.c checkpoints. Run it on the CPU with whisperc run, or convert it to safetensors."),
	no("model", "ollama", VLLM, "An ollama: model lives in Ollama's store and is served by Ollama itself (ollama serve); point source at the Hugging Face model to serve it with vLLM."),
	ex("quantize.method", "none", VLLM, "--dtype"),
	ex("quantize.method", "nf4", VLLM, "--quantization bitsandbytes"),
	no("quantize.method", "fp4", VLLM, "vLLM's bitsandbytes loader quantises in-flight to NF4 only. Use method = nf4."),
	no("quantize.method", "int8", VLLM, "vLLM's bitsandbytes in-flight quantisation is 4-bit (NF4). Use method = nf4, or a pre-quantised checkpoint."),
	no("quantize.method", "q8_0", VLLM, "q8_0 applies to GGUF files; a quantize block on a Hugging Face model cannot produce one for vLLM. Export to GGUF first, or use method = nf4."),
	no("quantize.method", "q4_0", VLLM, "q4_0 applies to GGUF files; a quantize block on a Hugging Face model cannot produce one for vLLM. Export to GGUF first, or use method = nf4."),
	ex("quantize.compute", "bf16", VLLM, "--dtype bfloat16"),
	ex("quantize.compute", "fp16", VLLM, "--dtype float16"),
	ex("quantize.compute", "fp32", VLLM, "--dtype float32"),
	ex("kv_cache", "true", VLLM, "--max-num-seqs"),
	no("kv_cache", "false", VLLM, "vLLM always keeps a paged KV cache; decoding without one is not an option. Write kv_cache = true."),
	no("attention", "eager", VLLM, "vLLM's attention backends are fused kernels; none materialises the scores. Use attention = auto or flash2."),
	approx("attention", "sdpa", VLLM, "left to vLLM's choice", "vLLM has no PyTorch SDPA backend on the GPU; whisperc leaves the backend to vLLM (FlashAttention or FlashInfer), which is as exact and no larger."),
	ex("attention", "flash2", VLLM, "--attention-backend FLASH_ATTN"),
	ex("compile", "none", VLLM, "-O0"),
	approx("compile", "default", VLLM, "-O1", "vLLM's lowest compiled level, -O1, also captures piecewise CUDA graphs; it has no level that compiles without them."),
	ex("compile", "reduce_overhead", VLLM, "-O2"),
	approx("compile", "max_autotune", VLLM, "-O3", "vLLM has no max-autotune setting; -O3 is its highest optimization level, documented as equal to -O2 when the levels were introduced."),
	ex("serve.host", "*", VLLM, "--host"),
	ex("serve.port", "*", VLLM, "--port"),
	ex("serve.max_batch", "*", VLLM, "--max-num-seqs"),
	ex("generate.prompt", "*", VLLM, "PROMPT ="),
	ex("generate.max_tokens", "*", VLLM, "max_tokens="),
	ex("generate.temperature", "*", VLLM, "temperature="),
	ex("generate.top_p", "*", VLLM, "top_p="),
	ex("generate.top_k", "*", VLLM, "top_k="),
	ex("generate.seed", "*", VLLM, "seed="),
	ex("generate.ignore_eos", "*", VLLM, "ignore_eos="),
}

// lookup returns the mapping of decision = value on e, or false.
func lookup(decision, value string, e Engine) (Mapping, bool) {
	for _, m := range table {
		if m.Decision == decision && m.Value == value && m.Engine == e {
			return m, true
		}
	}
	return Mapping{}, false
}

// WriteMarkdown writes spec/engines.md: the decision × engine table.
func WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("<!-- Generated by `go test ./planner/engines -update` from planner/engines/table.go. Do not edit. -->\n\n")
	b.WriteString("# Engines: where each plan decision goes\n\n")
	b.WriteString("`whisperc export --engine hf|torchtune|vllm FILE` lowers a checked plan to an engine GPU users already run:\n" +
		"Hugging Face (transformers + PEFT + bitsandbytes + TRL's SFTTrainer, launched by Accelerate, with DeepSpeed or FSDP on several GPUs),\n" +
		"torchtune (its built-in recipes, launched by `tune run`), and vLLM (`vllm serve` and its offline `LLM` API) for\n" +
		"`generate` and `serve`. This table is every plan decision and what it becomes in each engine. A value marked\n" +
		"*approximate* lowers with a warning (P141) that says what differs; *unsupported* is refused (P140), positioned on the\n" +
		"attribute, before anything is written. The tests check that every decision has a row for every engine and that\n" +
		"every key below appears in the lowered files.\n\n")
	b.WriteString("Pinned versions: " + pinsLine() + ". Which release and file each name was checked against: [engines-verified.md](engines-verified.md).\n\n")
	b.WriteString("## Fine-tuning\n\n")
	b.WriteString("| decision | value | rule | hf | torchtune |\n| --- | --- | --- | --- | --- |\n")
	for _, d := range decisionDomain {
		for _, v := range d.Values {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", d.Decision, v, d.Rule, cell(d.Decision, v, HF), cell(d.Decision, v, Torchtune))
		}
	}
	b.WriteString("\n## Generation and serving\n\n")
	b.WriteString("| decision | value | rule | vllm |\n| --- | --- | --- | --- |\n")
	for _, d := range serveDomain {
		for _, v := range d.Values {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", d.Decision, v, d.Rule, cell(d.Decision, v, VLLM))
		}
	}
	b.WriteString("\nA GGUF export (`export { format = gguf }`) is what llama.cpp and Ollama serve; whisperc's own CPU runtime runs it too.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func cell(decision, value string, e Engine) string {
	m, ok := lookup(decision, value, e)
	if !ok {
		return "**missing**"
	}
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	switch m.Support {
	case Exact:
		return "`" + esc(m.Key) + "`"
	case Approximate:
		return "`" + esc(m.Key) + "` (approximate: " + esc(m.Note) + ")"
	}
	return "unsupported: " + esc(m.Note)
}
