package planner

import (
	"fmt"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/planner/cost"
)

// techniqueDecisions records the memory techniques a training stage uses
// (loss chunking, activation offloading, optimizer in backward, CPU
// offload) with what each saves, by re-running the model without it.
func (b *builder) techniqueDecisions(w cost.Workload, st *Stage) {
	base := w.Memory(b.dev).Total
	saved := func(alt cost.Workload) int64 { return alt.Memory(b.dev).Total - base }
	if w.LossChunks > 1 {
		alt := w
		alt.LossChunks = 0
		st.Decisions = append(st.Decisions, Decision{What: "loss_chunks", Choice: fmt.Sprint(w.LossChunks), SavesBytes: saved(alt),
			Effect: fmt.Sprintf("logits %s → %s: the fp32 cast one chunk at a time", gib(alt.Memory(b.dev).Component("logits")), gib(w.Memory(b.dev).Component("logits")))})
	}
	if w.ActivationOffload {
		alt := w
		alt.ActivationOffload = false
		st.Decisions = append(st.Decisions, Decision{What: "activation_offloading", Choice: "on", SavesBytes: saved(alt),
			Effect: fmt.Sprintf("activations %s on the GPU, the rest in host memory over PCIe", gib(w.Memory(b.dev).Component("activations")))})
	}
	if w.OptimizerInBackward {
		alt := w
		alt.OptimizerInBackward = false
		st.Decisions = append(st.Decisions, Decision{What: "optimizer_in_backward", Choice: "on", SavesBytes: saved(alt),
			Effect: "each gradient is applied and freed in backward; no gradient accumulation or clipping"})
	}
	if w.CPUOffload {
		alt := w
		alt.CPUOffload = false
		st.Decisions = append(st.Decisions, Decision{What: "cpu_offload", Choice: "on", SavesBytes: saved(alt),
			Effect: "optimizer state and gradients (and sharded parameters) in host memory; the update runs on the CPU"})
	}
}

// techniqueChanges are the fit suggestions of the memory techniques: each
// applied alone to w, with its saving.
func (b *builder) techniqueChanges(f *compiler.Finetune, w cost.Workload, try func(text, costs string, alt cost.Workload)) {
	if w.LossChunks <= 1 {
		alt := w
		alt.LossChunks = cost.TorchtuneLossChunks
		alt.CompiledLoss = true
		try(fmt.Sprintf("loss_chunks = %d", cost.TorchtuneLossChunks), "the loss in chunks (torchtune's chunked loss, Liger's fused loss on hf)", alt)
	}
	// Offloading pays with checkpointing: only the layers' inputs cross
	// PCIe; offloading every activation would be bandwidth-bound.
	if !w.ActivationOffload && w.Checkpointing == cost.CheckpointFull {
		alt := w
		alt.ActivationOffload = true
		try("activation_offloading = true", "the checkpointed layers' inputs copied to host memory and back over PCIe", alt)
	}
	if w.FullTraining() && !w.OptimizerInBackward {
		alt := w
		alt.OptimizerInBackward = true
		try("optimizer_in_backward = true", "no gradient accumulation or clipping; torchtune only", alt)
	}
	if !w.CPUOffload && (w.Sharding == cost.ZeRO2 || w.Sharding == cost.ZeRO3) && w.TrainableParams() > 0 {
		alt := w
		alt.CPUOffload = true
		try("distributed { cpu_offload = true }", "optimizer state in host memory; the update runs on the CPU", alt)
	}
}
