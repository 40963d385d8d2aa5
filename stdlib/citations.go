package stdlib

// The published sources that the rules and defaults cite. They are
// functions, not variables, so that no caller can change them.

// CiteLoRA is Hu et al., LoRA.
func CiteLoRA() Citation {
	return Citation{Title: "LoRA: Low-Rank Adaptation of Large Language Models", Ref: "arXiv:2106.09685", URL: "https://arxiv.org/abs/2106.09685"}
}

// CiteQLoRA is Dettmers et al., QLoRA.
func CiteQLoRA() Citation {
	return Citation{Title: "QLoRA: Efficient Finetuning of Quantized LLMs", Ref: "arXiv:2305.14314", URL: "https://arxiv.org/abs/2305.14314"}
}

// CiteLLMInt8 is Dettmers et al., LLM.int8().
func CiteLLMInt8() Citation {
	return Citation{Title: "LLM.int8(): 8-bit Matrix Multiplication for Transformers at Scale", Ref: "arXiv:2208.07339", URL: "https://arxiv.org/abs/2208.07339"}
}

// CiteFlashAttention is Dao et al., FlashAttention.
func CiteFlashAttention() Citation {
	return Citation{Title: "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness", Ref: "arXiv:2205.14135", URL: "https://arxiv.org/abs/2205.14135"}
}

// CiteFlashAttention2 is Dao, FlashAttention-2.
func CiteFlashAttention2() Citation {
	return Citation{Title: "FlashAttention-2: Faster Attention with Better Parallelism and Work Partitioning", Ref: "arXiv:2307.08691", URL: "https://arxiv.org/abs/2307.08691"}
}

// CiteCheckpointing is Chen et al., training deep nets with sublinear
// memory cost.
func CiteCheckpointing() Citation {
	return Citation{Title: "Training Deep Nets with Sublinear Memory Cost", Ref: "arXiv:1604.06174", URL: "https://arxiv.org/abs/1604.06174"}
}

// CiteSelectiveRecompute is Korthikanti et al., reducing activation
// recomputation in large transformer models.
func CiteSelectiveRecompute() Citation {
	return Citation{Title: "Reducing Activation Recomputation in Large Transformer Models", Ref: "arXiv:2205.05198", URL: "https://arxiv.org/abs/2205.05198"}
}

// CiteRSLoRA is Kalajdzievski, rank-stabilised LoRA.
func CiteRSLoRA() Citation {
	return Citation{Title: "A Rank Stabilization Scaling Factor for Fine-Tuning with LoRA", Ref: "arXiv:2312.03732", URL: "https://arxiv.org/abs/2312.03732"}
}

// CiteZeRO is Rajbhandari et al., ZeRO.
func CiteZeRO() Citation {
	return Citation{Title: "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models", Ref: "arXiv:1910.02054", URL: "https://arxiv.org/abs/1910.02054"}
}

// CiteAdamW is Loshchilov and Hutter, decoupled weight decay.
func CiteAdamW() Citation {
	return Citation{Title: "Decoupled Weight Decay Regularization", Ref: "arXiv:1711.05101", URL: "https://arxiv.org/abs/1711.05101"}
}

// CitePagedAttention is Kwon et al., vLLM.
func CitePagedAttention() Citation {
	return Citation{Title: "Efficient Memory Management for Large Language Model Serving with PagedAttention", Ref: "arXiv:2309.06180", URL: "https://arxiv.org/abs/2309.06180"}
}

// CiteTorchCompile is Ansel et al., PyTorch 2.
func CiteTorchCompile() Citation {
	return Citation{Title: "PyTorch 2: Faster Machine Learning Through Dynamic Python Bytecode Transformation and Graph Compilation", Ref: "ASPLOS '24", URL: "https://doi.org/10.1145/3620665.3640366"}
}

// CiteDVC is the DVC documentation.
func CiteDVC() Citation {
	return Citation{Title: "DVC documentation: Versioning Data and Models", Ref: "dvc.org", URL: "https://dvc.org/doc/use-cases/versioning-data-and-models"}
}

// CiteGitLFS is the Git LFS documentation.
func CiteGitLFS() Citation {
	return Citation{Title: "Git Large File Storage", Ref: "git-lfs.com", URL: "https://git-lfs.com"}
}

// CiteMLflow is the MLflow Tracking documentation.
func CiteMLflow() Citation {
	return Citation{Title: "MLflow Tracking", Ref: "mlflow.org", URL: "https://mlflow.org/docs/latest/tracking.html"}
}

// CiteTensorBoard is the TensorBoard documentation.
func CiteTensorBoard() Citation {
	return Citation{Title: "TensorBoard: TensorFlow's visualization toolkit", Ref: "tensorflow.org", URL: "https://www.tensorflow.org/tensorboard"}
}
