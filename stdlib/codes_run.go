package stdlib

// runCodes documents the codes of the run phase: E5xx, reported by the
// runtime while it executes a plan.
var runCodes = []Code{
	{ID: "E500", Phase: "run", Title: "internal runtime error",
		Explain: "The runtime failed while executing the plan. This is a bug in whisperc, not in your " +
			"pipeline: the runtime recovered and stopped.\n\nPlease report it with the pipeline and the model " +
			"file that trigger it. Meanwhile, try another compile mode or attention kernel for the stage."},
	{ID: "E501", Phase: "run", Title: "model cannot be loaded",
		Explain: "The model's weights could not be read: the file is missing or unreadable, it is not in the " +
			"format its source scheme names, its header is corrupt, or the scheme (hf:, ollama:, a preset) " +
			"names something that is not a local file the runtime can open.\n\nPoint the model's source at a " +
			"local llama2c:, gguf: or safetensors: file of that format (download hub models first).",
		Example: "model m { source = \"llama2c:missing.bin\" }"},
	{ID: "E502", Phase: "run", Title: "tokenizer cannot be loaded",
		Explain: "The model's tokenizer could not be read, is missing (llama2.c and safetensors models need a " +
			"tokenizer file; GGUF files embed one), or has more tokens than the model's vocabulary.\n\nSet " +
			"tokenizer to the file the model was trained with: llama2.c's tokenizer.bin for llama2.c " +
			"checkpoints, or a .gguf file holding the vocabulary.",
		Example: "model m {\n  source    = \"llama2c:stories260K.bin\"\n  tokenizer = \"tok32000.bin\" # wrong: the model has 512 tokens\n}"},
	{ID: "E503", Phase: "run", Title: "model does not fit in memory",
		Explain: "The plan predicts a peak memory for the stage (the weights as the engine holds them plus " +
			"the KV cache) above the RAM the plan was made for, so the runtime refuses to start rather " +
			"than let the machine swap or the process be killed part-way.\n\nQuantise the model " +
			"(quantize { method = \"nf4\" } stores 4 bits per weight), shorten the context, choose a smaller " +
			"model, or run on a machine with more memory.",
		Citations: []Citation{{Title: "QLoRA: Efficient Finetuning of Quantized LLMs", Ref: "arXiv:2305.14314", URL: "https://arxiv.org/abs/2305.14314"}}},
	{ID: "E504", Phase: "run", Title: "saved plan is stale",
		Explain: "A saved plan records the hardware it was made for and the hashes of its inputs (the " +
			".whisper files, model headers and tokenizers). When either differs on this machine the plan's " +
			"memory and time predictions no longer hold, so the runtime refuses it and says what changed.\n\n" +
			"Plan again on this machine (`whisperc plan -out plan.json FILE`) or run the .whisper file directly."},
	{ID: "E505", Phase: "run", Title: "stage or setting cannot run here",
		Explain: "The plan asks for something this runtime does not execute: a stage kind it has no runner " +
			"for, a quantisation method without a CPU kernel, a training setting not implemented on the CPU " +
			"(paged optimizers, Lion, non-local data), or a " +
			"model family other than Llama.\n\nChange the setting the message names to a supported one " +
			"(quantize none, nf4, fp4, int8 or q8_0; attention eager or flash2), or list only the stages " +
			"that can run in the pipeline block."},
	{ID: "E506", Phase: "run", Title: "generation failed",
		Explain: "Generation stopped part-way: it was interrupted, writing the output failed, or the model " +
			"produced an error at some position (for example a token beyond the context length).\n\nThe " +
			"message gives the cause and how many tokens were produced; fix that cause (lower max_tokens " +
			"below the context length, check the output stream) and run again."},
	{ID: "E507", Phase: "run", Title: "run record cannot be written",
		Explain: "The pipeline has a `track` block, so every run is recorded (ML007): a manifest, the " +
			"metrics and the versions of its outputs, under the track block's `dir`. A write there failed " +
			"(the disk is full, the directory became read-only), so the run stopped rather than go on " +
			"unrecorded. What was written before the failure stays valid: the manifest is replaced " +
			"atomically and half-written metric records are cut off.\n\nFree space where the runs are " +
			"kept, or set `track { dir = ... }` to a writable directory, and run again."},
	{ID: "E508", Phase: "run", Title: "training data cannot be used",
		Explain: "A finetune's dataset could not be read into training sequences: the file is missing, a " +
			"record is not valid JSON, lacks the field the dataset names (and is not an instruction record " +
			"with instruction/output, nor a chat record with role/content messages), has empty text, or " +
			"the evaluation split leaves nothing to train on. The message names the file and line.\n\nFix " +
			"the record, or the dataset's field, format or eval settings, and run again.",
		Example: "dataset d { source = \"data.jsonl\", field = \"body\" } # records have \"text\""},
	{ID: "E509", Phase: "run", Title: "training failed",
		Explain: "A finetune stopped part-way: it was interrupted, writing a checkpoint failed, or the " +
			"engine reported an error at some step. Checkpoints written before the failure are complete " +
			"(they are written atomically), and running the pipeline again resumes from the latest one." +
			"\n\nFix the cause the message names (free disk space, check the output directory) and run again."},
	{ID: "E510", Phase: "run", Title: "checkpoint not found",
		Explain: "A model reference addresses a recorded output of a finetune (`\"sft@step500\"`, " +
			"`\"sft@RUNID\"`, `\"sft@RUNID/step500\"`) that the run records in the track directory do not " +
			"have, or whose files are no longer on disk with the recorded content. The message names the " +
			"track directory and the steps and runs that exist.\n\nAddress a step or run that exists (`whisperc " +
			"runs DIR` lists them), or bring the files back with `whisperc runs restore ID@STEP` when they were " +
			"versioned with DVC or git-lfs.",
		Example: "generate g { model = \"sft@step500\", prompt = \"hi\" } # no run wrote step 500"},
	{ID: "E520", Phase: "run", Title: "weights cannot be quantised",
		Explain: "A weight matrix the pipeline asks to quantise holds a NaN or infinite value. NF4, FP4 and " +
			"Q8_0 scale each block of weights by its largest magnitude (absmax), so a single non-finite " +
			"weight has no representation and would turn its whole block, and every output it feeds, into " +
			"NaN. The message names the tensor, row and column.\n\nThe checkpoint is corrupt or comes " +
			"from a diverged training run: re-download or re-export it, or load the last good checkpoint. " +
			"Running with quantize { method = \"none\" } will not help, since the same value reaches the " +
			"computation unquantised.",
		Example: "quantize { method = \"nf4\" } # on a checkpoint whose weights contain NaN",
		Citations: []Citation{
			{Title: "QLoRA: Efficient Finetuning of Quantized LLMs", Ref: "arXiv:2305.14314", URL: "https://arxiv.org/abs/2305.14314"},
			{Title: "GGML block_q8_0 (ggml-quants.c quantize_row_q8_0_ref)", URL: "https://github.com/ggml-org/ggml"},
		}},
}
