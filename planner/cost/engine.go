package cost

import "github.com/modelwhisperer/whisperc/planner/arch"

// Engine is the training engine a workload runs on; the engines make
// different memory choices for the same pipeline. The zero value is
// unset, which the model reads as Hugging Face: the engine of the stored
// measurements (planner/testdata/measured).
type Engine int

// The engines.
const (
	EngineUnset Engine = iota
	// EngineHF is transformers + PEFT + TRL under Accelerate: mixed
	// precision keeps fp32 master weights for full fine-tuning, PEFT keeps
	// adapters (and so their gradients and Adam moments) in fp32, and
	// TRL's SFTTrainer computes the loss in chunks of 256 tokens in fp32
	// (TRLLossChunkTokens). The unset engine is the same stack with
	// transformers' own loss, which casts the whole logits to fp32: the
	// stored measurements' loop.
	EngineHF
	// EngineTorchtune is torchtune's recipes: training in one dtype
	// throughout (weights, adapters, gradients and optimizer state in bf16
	// under precision = bf16) and a chunked cross-entropy.
	EngineTorchtune
)

// String returns the engine's name as --engine spells it.
func (e Engine) String() string {
	switch e {
	case EngineHF, EngineUnset:
		return "hf"
	case EngineTorchtune:
		return "torchtune"
	}
	return "invalid"
}

// TorchtuneLossChunks is torchtune's CEWithChunkedOutputLoss default:
// the output projection and the fp32 cast run on 8 chunks of the sequence.
const TorchtuneLossChunks = 8

// TRLLossChunkTokens is the chunk of TRL's chunked_nll loss, SFTConfig's
// default loss_type since TRL 1.8 (trl/trainer/sft_trainer.py,
// _CHUNKED_LM_HEAD_CHUNK_SIZE): the labelled tokens are gathered, and the
// output head and the cross-entropy run in fp32 on 256 of them at a time,
// each chunk recomputed in backward (torch.utils.checkpoint).
const TRLLossChunkTokens = 256

// trlChunkedLoss reports whether the loss is TRL's chunked_nll: the hf
// engine's training of a causal LM with no loss_chunks set (the export
// writes loss_type="chunked_nll"; loss_chunks lowers to Liger instead).
func (w *Workload) trlChunkedLoss() bool {
	return w.Engine == EngineHF && w.Mode != Inference && w.LossChunks <= 1 && w.Arch.Family != arch.BERT
}

// trlChunkedLossBytes returns what TRL's chunked_nll holds at the peak
// beyond the final hidden states: the labelled hidden states gathered into
// a copy, and one chunk's work, which is an fp32 copy of the output head
// (h.float() @ w.float().t(): a copy unless the head is already fp32), the
// chunk's fp32 logits, log-softmax and their gradient, and for full
// fine-tuning the fp32 gradient of the head copy. Derived from the code
// path of TRL 1.9; unmeasured.
func (w *Workload) trlChunkedLossBytes(tokens float64) float64 {
	c := w.Arch
	v, h := float64(c.Vocab), float64(c.Dim)
	n := min(tokens, TRLLossChunkTokens)
	b := tokens*h*float64(w.Compute.Bytes()) + n*(3*v+h)*4
	if w.Storage.Bytes() != 4 {
		b += v * h * 4
	}
	if w.FullTraining() {
		b += v * h * 4
	}
	return b
}

// logitBytes returns what the loss keeps at the peak for tokens tokens:
// the output logits and what cross-entropy saves for backward, plus the
// final norm's fp32 input and the embedding output.
//
//   - transformers' own causal-LM loss (the engine left unset: the
//     measurements' loop) computes the logits in the compute format,
//     casts the whole tensor to fp32 and keeps the fp32 log-softmax for
//     backward: tokens·vocab·(2+4) bytes in bf16 (measured within 3% on
//     the H100).
//   - The hf engine's SFTTrainer uses TRL's chunked_nll instead
//     (trlChunkedLossBytes).
//   - With LossChunks = n on Hugging Face (Liger's fused linear
//     cross-entropy) one chunk's logits and fp32 gradient exist at a time.
//   - With LossChunks = n on torchtune the bf16 logits of every chunk are
//     kept, and each chunk is cast to fp32 on its own; an eager loss still
//     saves each chunk's fp32 log-softmax, a compiled one fuses the cast
//     into its kernel and saves only the log-sum-exp. Checked against
//     torchtune's published peaks (planner/testdata/measured/
//     torchtune-published.json): the compiled LoRA and QLoRA runs of
//     Llama 3.2 3B leave room for the bf16 logits and nothing more.
func (w *Workload) logitBytes(tokens float64) float64 {
	c := w.Arch
	cdt := float64(w.Compute.Bytes())
	sdt := float64(w.Storage.Bytes())
	tail := tokens * float64(c.Dim) * (4 + sdt) // final norm and embedding output
	if c.Family == arch.BERT {
		return tokens*float64(c.Dim)*8 + tail // pooled classification head: small
	}
	v := tokens * float64(c.Vocab)
	if w.trlChunkedLoss() {
		return w.trlChunkedLossBytes(tokens) + tail
	}
	if w.LossChunks <= 1 {
		return v*(cdt+4) + tail
	}
	if w.Engine != EngineTorchtune {
		// Hugging Face lowers loss_chunks to Liger's fused linear
		// cross-entropy: the projection, the fp32 cast and the gradient
		// are computed a chunk at a time and the logits never exist whole.
		return v*(cdt+4)/float64(w.LossChunks) + tokens*4 + tail
	}
	chunk := v * 4 / float64(w.LossChunks)
	if w.CompiledLoss {
		// Inductor fuses the fp32 upcast into the log-softmax kernel:
		// no fp32 chunk is materialised, only the log-sum-exp is saved.
		return v*cdt + tokens*4 + tail
	}
	return v*(cdt+4) + chunk + tail // every chunk's fp32 log-softmax, and one chunk's cast in flight
}

func (w *Workload) logitNote() string {
	if w.trlChunkedLoss() {
		return "TRL's chunked cross-entropy: an fp32 copy of the output head and 256 tokens of fp32 logits at a time"
	}
	if w.LossChunks > 1 && w.Engine != EngineTorchtune {
		return "one chunk of logits at a time (fused linear cross-entropy in " + itoa(w.LossChunks) + " chunks)"
	}
	if w.LossChunks > 1 {
		if w.CompiledLoss {
			return "output logits in " + itoa(w.LossChunks) + " chunks; the compiled loss fuses the fp32 cast"
		}
		return "output logits in " + itoa(w.LossChunks) + " chunks and each chunk's fp32 log-softmax"
	}
	return "output logits and the fp32 log-softmax of the loss"
}

// offloadedActivations returns the activations left on the device when
// the saved tensors move to host memory (torchtune's
// enable_activation_offloading, TRL's activation_offloading): the layer
// being computed and the one being copied, about two layers' worth.
func (w *Workload) offloadedActivations(kept, perLayer float64) float64 {
	if !w.ActivationOffload {
		return kept
	}
	return min(kept, 2*perLayer)
}

// fusedAdamW reports whether AdamW runs as one fused kernel per parameter
// group, with no full-size temporaries: the engines' exports ask for it
// (optim="adamw_torch_fused", transformers' default on torch 2.8 and later;
// fused: True, as torchtune's own configs write). The unset engine is the
// measurements' loop, whose foreach AdamW keeps a sqrt(v) copy.
func (w *Workload) fusedAdamW() bool {
	return w.Optimizer == AdamW && (w.Engine == EngineHF || w.Engine == EngineTorchtune) && w.Sharding != ZeRO2 && w.Sharding != ZeRO3
}

// OnEngine returns the workload as engine e runs it. Hugging Face changes
// nothing (the workload is written in its terms). torchtune trains in the
// compute format throughout: under bf16 there are no fp32 master weights,
// and adapters, gradients and optimizer moments are bf16 too; its
// recipes compute the loss in TorchtuneLossChunks chunks.
func (w Workload) OnEngine(e Engine) Workload {
	w.Engine = e
	if e != EngineTorchtune || w.Mode == Inference {
		return w
	}
	if w.Compute.Bytes() == 2 {
		w.Storage = w.Compute
		w.AdapterType = w.Compute
	}
	if w.LossChunks == 0 {
		w.LossChunks = TorchtuneLossChunks
	}
	return w
}
