package stdlib

// ruleCodes documents the methodology rules ML001–ML008. The checker
// applies the parts that depend only on the program; the planner applies
// the parts that depend on hardware and model size, under the same codes.
var ruleCodes = []Code{
	{ID: "ML001", Phase: "rule", Title: "quantise the frozen base model for QLoRA",
		Explain: "QLoRA trains LoRA adapters over a base model stored in 4-bit NormalFloat (nf4) with double " +
			"quantisation, computing in bf16. The 4-bit base is what makes a 65B model fine-tunable on one 48 GB " +
			"GPU; nf4 matches 16-bit fine-tuning quality where fp4 and int4 lose accuracy.\n\n" +
			"The checker reports `method = qlora` on a model without a 4-bit `quantize` block (an error: there is " +
			"nothing for QLoRA to train over) and a 4-bit quantised model trained with `method = full` (the " +
			"quantised weights cannot be updated). It notes fp4 where nf4 would do better, and quantisation that " +
			"computes in fp32. The planner adds a warning when an unquantised model does not fit the target.\n\n" +
			"Fix: add `quantize { method = nf4, double = true, compute = bf16 }` to the model, or train with " +
			"`method = lora`.",
		Example: "model base { source = \"hf:meta-llama/Llama-2-7b-hf\" }\n" +
			"finetune sft { model = base, data = chat, method = qlora }",
		Citations: []Citation{CiteQLoRA(), CiteLLMInt8()}},
	{ID: "ML002", Phase: "rule", Title: "checkpoint activations when they do not fit",
		Explain: "Training keeps every layer's activations for the backward pass; for billion-parameter models at " +
			"useful sequence lengths they outweigh the (quantised) weights. Gradient checkpointing stores only some " +
			"of them and recomputes the rest in the backward pass, for one extra forward pass (Chen et al.), or, " +
			"selectively recomputing attention's large and cheap parts, most of the saving for ~3% extra compute " +
			"(Korthikanti et al.).\n\n" +
			"The checker notes training of a model whose source names 7B parameters or more with checkpointing " +
			"off; the planner reports, with its memory estimate, when activations do not fit the target without it.\n\n" +
			"Fix: set `checkpointing = selective` (or `full`, or `every(n)`), or lower `batch` and raise `grad_accum`.",
		Example: "model base { source = \"hf:meta-llama/Llama-2-13b-hf\" }\n" +
			"finetune sft { model = base, data = chat, checkpointing = none }",
		Citations: []Citation{CiteCheckpointing(), CiteSelectiveRecompute()}},
	{ID: "ML003", Phase: "rule", Title: "choose the LoRA rank and targets deliberately",
		Explain: "LoRA's experiments found ranks as low as 1–8 already match higher ranks on the attention " +
			"projections, and QLoRA found rank mattered little once every linear layer is adapted. Ranks 16–32 " +
			"are the practitioner's range: below 16 leaves little headroom for harder tasks, above 32 multiplies " +
			"adapter memory and optimizer state for no measured gain and tends to overfit small datasets.\n\n" +
			"The checker warns for a rank outside 16–32, and notes adapters on the MLP modules: QLoRA reports they " +
			"help match full fine-tuning, but they multiply the adapter's size by about 3, so it should be a choice.\n\n" +
			"Fix: set `rank` between 16 and 32 (with `alpha = 2 * rank`), or keep your value knowingly; use " +
			"`targets = attention` unless the task needs all linear layers.",
		Example:   "finetune sft {\n  model = base\n  data = chat\n  lora { rank = 256 }\n}",
		Citations: []Citation{CiteLoRA(), CiteQLoRA()}},
	{ID: "ML004", Phase: "rule", Title: "decode with a KV cache",
		Explain: "Autoregressive decoding without a key/value cache recomputes attention keys and values over the " +
			"whole prefix for every new token: O(n²) work for n tokens instead of O(n). With the cache, decoding is " +
			"memory-bandwidth bound and the cache's size (2 · layers · kv_heads · head_dim · bytes per token) is " +
			"what limits batch and context, which PagedAttention manages without fragmentation.\n\n" +
			"The checker warns when generate or serve sets `kv_cache = false` outside a benchmark " +
			"(`benchmark = true` allows it as a baseline). The planner sizes the cache and reports when it does not fit.\n\n" +
			"Fix: remove `kv_cache = false`, or mark the stage `benchmark = true`.",
		Example:   "generate story { model = base, prompt = \"Once\", kv_cache = false }",
		Citations: []Citation{CitePagedAttention()}},
	{ID: "ML005", Phase: "rule", Title: "compile long runs, not short ones",
		Explain: "Graph compilation (torch.compile) fuses operators and, in reduce_overhead mode, captures CUDA " +
			"graphs; PyTorch 2 reports about 1.4–2× training speed-ups. Compilation itself takes minutes and " +
			"recompiles on shape changes, so it pays off on long runs and steady-state serving, not on short jobs.\n\n" +
			"The checker notes `compile = max_autotune` on a generate stage (the tuning time dominates a single " +
			"generation) and compilation of a finetune capped at fewer than 200 steps. The planner, which knows the " +
			"step count and hardware, reports when compilation would or would not pay off.\n\n" +
			"Fix: use `compile = reduce_overhead` for decoding and `default` for training, or `none` for short jobs.",
		Example:   "generate g { model = base, prompt = \"hi\", compile = max_autotune }",
		Citations: []Citation{CiteTorchCompile()}},
	{ID: "ML006", Phase: "rule", Title: "use a memory-efficient attention kernel",
		Explain: "Eager attention materialises the seq×seq score matrix per head: memory and HBM traffic grow " +
			"quadratically with sequence length. FlashAttention computes exact attention in tiles held in on-chip " +
			"memory, so memory grows linearly, and FlashAttention-2 reaches 50–73% of A100 peak throughput.\n\n" +
			"The checker notes `attention = eager` in training, where in PyTorch's eager path it also multiplies " +
			"activation memory. The planner reports flash2 on hardware that cannot run it (compute capability " +
			"below 8.0, fp32). On whisperc's CPU runtime, `auto` trains with the tiled flash2 kernel, whose one " +
			"backward op is faster than eager's (which recomputes each row of probabilities rather than storing " +
			"them), and generates with eager, whose sums follow llama2.c's order.\n\n" +
			"Fix: use `attention = auto` (on GPUs flash2 where supported, sdpa otherwise; on the CPU flash2 for " +
			"training and eager for generation) or `flash2`.",
		Example:   "finetune sft { model = base, data = chat, attention = eager }",
		Citations: []Citation{CiteFlashAttention(), CiteFlashAttention2()}},
	{ID: "ML007", Phase: "rule", Title: "track experiments",
		Explain: "A fine-tuning run is reproducible and comparable only if its resolved configuration, base-model " +
			"hash, code commit, hardware and metrics are recorded. Without tracking, the result of a run cannot be " +
			"tied to what produced it.\n\n" +
			"With a `track` block, `whisperc run` records every run in `dir` (default `runs/`, next to the " +
			"pipeline) as `runs/<pipeline>/<run-id>/`: `manifest.json` holds the whisperc version, every " +
			"pipeline source with its sha256, the -var values, the plan, the sha256 of every model and dataset " +
			"file, the git commit and dirty flag, the hardware and threads, start, end and exit status, the " +
			"outputs with their hashes, and each stage's measured peak memory and step time next to the plan's " +
			"prediction; it is replaced atomically, so a killed run still has a valid manifest (read back as " +
			"interrupted). Metrics go to `metrics.jsonl` as they happen, and also to TensorBoard event files in " +
			"the run directory (`backend = tensorboard`), an MLflow file store in `dir/mlruns` (`backend = " +
			"mlflow`, experiment `project`), or several (`backend = [tensorboard, mlflow]`); `wandb` is not written (it needs an account and a network). `log` " +
			"chooses what is recorded. `whisperc runs` lists the runs; `runs show`, `runs diff` and `runs plot` " +
			"look at them.\n\n" +
			"The checker warns when a program trains (has a finetune) but has no `track` block, and notes a `track` " +
			"whose `log` leaves out config, model_hash or commit.\n\n" +
			"Fix: add `track { backend = tensorboard }` (which logs everything by default).",
		Example:   "finetune sft { model = base, data = chat }",
		Citations: []Citation{CiteMLflow(), CiteTensorBoard()}},
	{ID: "ML008", Phase: "rule", Title: "version data and checkpoints",
		Explain: "A model is a function of its data: retraining, auditing or comparing runs needs the exact data " +
			"and checkpoints. DVC and Git LFS keep large files out of git history while tying their content to a " +
			"commit.\n\n" +
			"`whisperc run` versions as it goes. With `dvc` it writes a DVC 3.x `.dvc` file next to each " +
			"dataset file and checkpoint (`outs` with `md5`, `size`, `hash: md5`, `path`), lists the file in " +
			"that directory's .gitignore, and copies the content into the DVC cache " +
			"(`.dvc/cache/files/md5/xx/...`) when a parent directory is a DVC repository. With `git_lfs` it " +
			"adds the checkpoint to the repository's .gitattributes with the LFS filter, stores the object " +
			"where git-lfs keeps it (`.git/lfs/objects`) and writes its LFS pointer to the run directory, so " +
			"that `git add` commits the pointer. The run's manifest records every version id (md5 or LFS oid) " +
			"and reports a dataset that changed since the previous run; `whisperc runs restore ID[@STEP]` " +
			"brings a removed checkpoint back from the DVC cache or the LFS store, checked against its " +
			"recorded sha256.\n\n" +
			"The checker warns when a finetune's dataset has no versioning (neither its own `version` nor a " +
			"`version` block) and when a finetune's checkpoints are not versioned. Writing `none` explicitly " +
			"records the decision and silences the warning.\n\n" +
			"Fix: add `version { data = dvc, checkpoints = dvc }`, or set `version = dvc` on the dataset.",
		Example:   "dataset chat { source = \"chat.jsonl\" }\nfinetune sft { model = base, data = chat }",
		Citations: []Citation{CiteDVC(), CiteGitLFS()}},
}
