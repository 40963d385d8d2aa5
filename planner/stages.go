package planner

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
)

// precision resolves a requested compute format against the target:
// bf16 needs CC ≥ 8.0 (fp16 instead, a warning when bf16 was only the
// default, an error when written), fp8 CC ≥ 8.9; the CPU computes in fp32.
// attr is the attribute's range for diagnostics.
func (b *builder) precision(req compiler.DType, written bool, site *compiler.Site, attr string) (cost.DType, string) {
	p := b.target.Profile
	if !p.GPU {
		if written && req != compiler.DTypeFP32 {
			b.report(diag.Errorf(site.ValueRange(attr), "P118", req.String()+" cannot run on the CPU",
				fmt.Sprintf("%s = %s asks for %s arithmetic, but the CPU runtime stores activations and computes in fp32 only; "+
					"it would not honour the setting (a LoRA or full finetune's precision = bf16 is the exception: the block linear weights are stored in bf16). "+
					"Write %s = fp32 (or remove it) to run on the CPU, or plan for a GPU target.",
					attr, req, req, attr)))
		}
		return cost.FP32, "the CPU runtime computes in fp32"
	}
	switch req {
	case compiler.DTypeFP32:
		return cost.FP32, ""
	case compiler.DTypeFP16:
		return cost.FP16, ""
	case compiler.DTypeFP8:
		if p.ComputeCapability < 8.9 {
			b.report(diag.Errorf(site.ValueRange(attr), "P112", "fp8 needs compute capability 8.9",
				fmt.Sprintf("%s has compute capability %.1f; fp8 tensor cores arrived with Ada (8.9) and Hopper (9.0). "+
					"Use precision = bf16 (8.0+) or fp16.", b.target.Name(), p.ComputeCapability)))
			return cost.FP16, "fp8 unsupported"
		}
		return cost.BF16, "fp8 matmuls; activations kept in bf16"
	default: // bf16
		if p.ComputeCapability < 8.0 {
			detail := fmt.Sprintf("%s has compute capability %.1f; bfloat16 arithmetic needs 8.0 (Ampere) or later. ",
				b.target.Name(), p.ComputeCapability)
			if written {
				b.report(diag.Errorf(site.ValueRange(attr), "P111", "bf16 needs compute capability 8.0",
					detail+"Use fp16 (with loss scaling for training) or fp32."))
			} else {
				b.report(diag.Warningf(site.NameRange, "P111", "bf16 unavailable: planning fp16",
					detail+"The planner uses fp16 with dynamic loss scaling instead; write the precision to silence this."))
			}
			return cost.FP16, "bf16 unsupported on this GPU"
		}
		return cost.BF16, ""
	}
}

// attention resolves the attention kernel: auto is flash2 on CC ≥ 8.0
// GPUs computing in 16 bits, sdpa on other GPUs, eager on the CPU; an
// explicit flash2 a GPU cannot run falls back with a warning. On the CPU,
// flash2 and sdpa both run the runtime's tiled FlashAttention-2 kernel
// (runtime/kernels), and the decision says so.
func (b *builder) attention(req compiler.Attention, compute cost.DType, site *compiler.Site) (cost.Attention, string) {
	p := b.target.Profile
	flashOK := p.GPU && p.ComputeCapability >= 8.0 && (compute == cost.BF16 || compute == cost.FP16)
	fallback := cost.SDPA
	if !p.GPU {
		fallback = cost.Eager
	}
	switch req {
	case compiler.AttentionEager:
		return cost.Eager, ""
	case compiler.AttentionSDPA:
		if !p.GPU {
			return cost.Flash2, "sdpa's fused kernel on the CPU runtime is the tiled online-softmax (FlashAttention-2) kernel"
		}
		return cost.SDPA, ""
	case compiler.AttentionFlash2:
		if flashOK {
			return cost.Flash2, ""
		}
		if !p.GPU {
			return cost.Flash2, "the CPU runtime's tiled FlashAttention-2 kernel, computing in fp32"
		}
		why := "FlashAttention-2 needs a GPU of compute capability 8.0 or later computing in fp16 or bf16"
		b.report(diag.Warningf(site.ValueRange("attention"), "P110", "flash2 unavailable: using "+fallback.String(),
			fmt.Sprintf("%s; %s is %s, computing in %s. The plan uses %s (exact, more memory for long sequences). "+
				"Require flash_attention in the target block to make this an error.", why, b.target.Name(), deviceDesc(b.target), compute, fallback)))
		return fallback, "flash2 unavailable"
	default: // auto
		if flashOK {
			return cost.Flash2, "fastest exact kernel on this GPU"
		}
		if !p.GPU {
			return fallback, "auto on the CPU is eager, whose sums follow llama2.c's order; attention = flash2 runs the tiled kernel"
		}
		return fallback, "flash2 needs CC ≥ 8.0 and fp16/bf16"
	}
}

func deviceDesc(t *Target) string {
	if !t.Profile.GPU {
		return "a CPU"
	}
	return fmt.Sprintf("compute capability %.1f", t.Profile.ComputeCapability)
}

// checkpointingOf returns the workload's checkpointing: the declared mode,
// with every(1) (every block recomputed) as full.
func checkpointingOf(c compiler.Checkpointing) (cost.Checkpointing, int) {
	if c.Mode == compiler.CheckpointEvery {
		if c.Every <= 1 {
			return cost.CheckpointFull, 0
		}
		return cost.CheckpointEvery, c.Every
	}
	return c.Mode, 0
}

// finetune plans a finetune: adapters, training and evaluation.
func (b *builder) finetune(f *compiler.Finetune) {
	// A method the checker refused (already reported) leaves nothing to
	// plan: its workload would be training without a method.
	if _, ok := b.done[f]; ok || f.Model == nil || f.Method == compiler.MethodInvalid {
		return
	}
	after := b.load(f.Model)
	c := b.arch(f.Model)
	if f.LoRA != nil {
		as := Stage{ID: "attach_adapters." + f.Name, Kind: StageAdapters, Decl: f.Name, Model: f.Model.Name, After: []string{after}}
		var names []string
		for _, t := range f.LoRA.Targets {
			names = append(names, t.String())
		}
		d := Decision{What: "adapters", Choice: fmt.Sprintf("rank %d on %s", f.LoRA.Rank, strings.Join(names, ", ")), Rule: "ML003"}
		if c != nil {
			missing := b.checkTargets(f, *c, names)
			w := cost.Workload{Arch: *c, Mode: cost.Train, Method: compiler.MethodLoRA, LoRARank: f.LoRA.Rank, LoRATargets: present(names, missing)}
			n := w.TrainableParams()
			d.Effect = fmt.Sprintf("trains %s of %s parameters (%.2f%%)", humanCount(n), humanCount(c.Params()), 100*float64(n)/float64(c.Params()))
		}
		if f.LoRA.RSLoRA {
			d.Effect = strings.TrimPrefix(d.Effect+"; ", "; ") + fmt.Sprintf("rsLoRA: updates scaled by alpha/√rank = %.4g (alpha/rank would be %.4g)",
				f.LoRA.Alpha/math.Sqrt(float64(max(f.LoRA.Rank, 1))), f.LoRA.Alpha/float64(max(f.LoRA.Rank, 1)))
		}
		as.Decisions = append(as.Decisions, d)
		b.plan.Stages = append(b.plan.Stages, as)
		after = as.ID
	}
	st := Stage{ID: "train." + f.Name, Kind: StageTrain, Decl: f.Name, Model: f.Model.Name, After: []string{after}}
	if f.Data != nil && c != nil {
		ctx := c.MaxSeq
		if ctx > 0 && f.Data.SeqLen > ctx {
			b.report(diag.Errorf(f.Data.ValueRange("seq_len"), "P116", "seq_len exceeds the model's context",
				fmt.Sprintf("Dataset %s has seq_len = %d but model %s (%s) was trained for %d positions; longer sequences "+
					"fall outside its position encoding. Set seq_len to at most %d, or set the model's context if it was extended.",
					f.Data.Name, f.Data.SeqLen, f.Model.Name, c.Name, ctx, ctx)))
		}
	}
	if c == nil || f.Data == nil {
		b.plan.Stages = append(b.plan.Stages, st)
		b.done[f] = st.ID
		return
	}
	w := b.trainWorkload(f, *c, &st)
	b.trainDecisions(f, w, &st)
	st.Graph = lower(w, b.compile(f.Compile, f.Data.Packing, &f.Decl.Site, &st), false, !b.target.Profile.GPU, b.storedTypes[f.Model])
	if f.LoRA != nil {
		for i := range st.Graph.Layers {
			for j := range st.Graph.Layers[i].Linears {
				if a := st.Graph.Layers[i].Linears[j].Adapter; a != nil {
					a.Alpha, a.RSLoRA = f.LoRA.Alpha, f.LoRA.RSLoRA
				}
			}
		}
	}
	// The CPU runtime's attention never keeps seq×seq scores, so selective
	// recomputation keeps all but the rotated q and k (the CPU memory
	// model counts that), and its backward pass, which recomputes the
	// scores row by row under every mode, only rotates q and k again: its
	// time is counted as none's.
	mw := w
	if !b.target.Profile.GPU && w.Checkpointing == cost.CheckpointSelective {
		mw.Checkpointing = cost.CheckpointNone
	}
	mem := w.Memory(b.dev)
	st.Memory = b.deviceMemory(mem, w.Devices)
	tm := mw.TrainStep(b.dev)
	accum := max(f.GradAccum, 1)
	st.Time = &StageTime{StepSeconds: tm.Seconds * float64(accum), Bound: tm.Bound,
		TokensPerSecond: tm.TokensPerSecond() * float64(max(w.Devices, 1)),
		Assumption:      fmt.Sprintf("MFU %.0f%% of %s peak", 100*tm.Efficiency, w.Compute)}
	switch {
	case f.MaxSteps > 0:
		st.Time.Steps = int64(f.MaxSteps)
		st.Time.Seconds = st.Time.StepSeconds * float64(f.MaxSteps)
	default:
		if steps, ok := estimateSteps(f, w); ok {
			st.Time.Steps = steps
			st.Time.Seconds = st.Time.StepSeconds * float64(steps)
			st.Time.Assumption += fmt.Sprintf("; %d steps estimated from the dataset's size at 4 bytes per token", steps)
		}
	}
	if !st.Memory.Fits {
		b.doesNotFit(f, w, mem, &st)
	} else if float64(mem.Total) > 0.9*float64(st.Memory.CapacityBytes) {
		b.report(diag.Warningf(f.NameRange, "P121", "training "+f.Name+" uses over 90% of device memory",
			fmt.Sprintf("The predicted peak is %s of %s; fragmentation or a longer batch may run out of memory. "+
				"Leave headroom with checkpointing or a smaller batch.", gib(mem.Total), gib(st.Memory.CapacityBytes))))
	}
	b.plan.Stages = append(b.plan.Stages, st)
	b.done[f] = st.ID
	if f.Data.Eval.Percent > 0 || f.Data.Eval.Examples > 0 {
		ev := Stage{ID: "evaluate." + f.Name, Kind: StageEvaluate, Decl: f.Name, Model: f.Model.Name, After: []string{st.ID}}
		split := fmt.Sprintf("%d examples", f.Data.Eval.Examples)
		if f.Data.Eval.IsPercent {
			split = fmt.Sprintf("%g%% of %s", f.Data.Eval.Percent, f.Data.Name)
		}
		ev.Decisions = append(ev.Decisions, Decision{What: "eval_split", Choice: split, Effect: "forward passes only, no gradients"})
		b.plan.Stages = append(b.plan.Stages, ev)
	}
}

// bytesPerToken is the rough size of one token of English text in the
// vocabularies of the Llama family (about four characters).
const bytesPerToken = 4

// estimateSteps estimates a finetune's optimizer steps from its local
// dataset file's size: epochs × training tokens / tokens per step. It
// reads nothing but the file's size.
func estimateSteps(f *compiler.Finetune, w cost.Workload) (int64, bool) {
	if f.Data == nil || f.Data.HF != "" || f.Data.Source == "" {
		return 0, false
	}
	st, err := os.Stat(f.Data.Source)
	if err != nil || st.IsDir() || st.Size() <= 0 {
		return 0, false
	}
	tokens := float64(st.Size()) / bytesPerToken
	if f.Data.Eval.IsPercent {
		tokens *= 1 - min(f.Data.Eval.Percent, 100)/100
	}
	perStep := float64(w.Batch) * float64(max(f.GradAccum, 1)) * float64(max(w.Devices, 1)) * float64(w.Seq)
	steps := math.Ceil(float64(max(f.Epochs, 1)) * tokens / perStep)
	if steps < 1 || steps > 1e15 {
		return 0, false
	}
	return int64(steps), true
}

// present returns names without the missing ones.
func present(names, missing []string) []string {
	var out []string
	for _, n := range names {
		found := false
		for _, m := range missing {
			found = found || m == n
		}
		if !found {
			out = append(out, n)
		}
	}
	return out
}

// checkTargets reports LoRA targets the architecture lacks (P114) and
// returns them.
func (b *builder) checkTargets(f *compiler.Finetune, c arch.Config, names []string) []string {
	have := map[string]bool{}
	for _, n := range c.LinearNames() {
		have[n] = true
	}
	var missing []string
	for _, n := range names {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		sev := diag.Errorf
		if f.LoRA.TargetGroup != "" {
			sev = diag.Warningf // a group expands to what the family has
		}
		b.report(sev(f.LoRA.ValueRange("targets"), "P114", "LoRA target not in "+c.Name,
			fmt.Sprintf("%s (%s family) has no %s; its linear layers are %s. Adapt only modules the architecture has.",
				c.Name, c.Family, strings.Join(missing, ", "), strings.Join(c.LinearNames(), ", "))))
	}
	return missing
}

// cpuBF16 reports whether finetune f on this (CPU) target keeps the
// block linear weights in bf16 (precision = bf16 over an unquantised
// base): LoRA's frozen base, or the weights a full fine-tune trains.
func (b *builder) cpuBF16(f *compiler.Finetune) bool {
	return !b.target.Profile.GPU && f.Has("precision") && f.Precision == compiler.DTypeBF16 &&
		(f.Model.Quantize == nil || !f.Model.Quantize.Method.Quantized())
}

// trainWorkload turns a finetune into the cost model's workload.
func (b *builder) trainWorkload(f *compiler.Finetune, c arch.Config, st *Stage) cost.Workload {
	// On the CPU, precision = bf16 stores the block linear weights in bf16
	// and computes in fp32 (runtime/kernels' BF16): LoRA's frozen base,
	// or the weights a full fine-tune trains in bf16 (runtime/train's
	// bf16.go).
	bf16Base := b.cpuBF16(f) && (f.Method == compiler.MethodLoRA || f.Method == compiler.MethodFull)
	var compute cost.DType
	var why string
	switch {
	case bf16Base && f.Method == compiler.MethodFull:
		compute, why = cost.FP32, "the block linear weights stored and trained in bf16 (2 bytes each), widened to fp32 a weight at a time for the products; "+
			"fp32 gradients and fp32 AdamW moments, each update computed in fp32 and rounded to bf16 (to nearest even); the embeddings and norms stay fp32"
		st.Decisions = append(st.Decisions, Decision{What: "precision", Choice: "bf16 weights, fp32 compute", Effect: why})
		b.cpuBF16Full(f)
	case bf16Base:
		compute, why = cost.FP32, "the frozen block weights stored in bf16 (half of fp32's bytes), widened to fp32 row by row in the matmuls: fp32 arithmetic and accumulation"
		st.Decisions = append(st.Decisions, Decision{What: "precision", Choice: "bf16 weights, fp32 compute", Effect: why})
	default:
		compute, why = b.precision(f.Precision, f.Has("precision"), &f.Decl.Site, "precision")
		reqPrec := f.Precision.String()
		st.Decisions = append(st.Decisions, Decision{What: "precision", Choice: compute.String(), Requested: ifDiff(reqPrec, compute.String()), Effect: why})
	}
	w := cost.Workload{Arch: c, Compute: compute, Batch: max(f.Batch, 1), Seq: max(f.Data.SeqLen, 1),
		Optimizer: f.Optimizer.Name, Devices: 1, Sharding: cost.DDP}
	if f.Method == compiler.MethodFull {
		w.Mode, w.Method = cost.Train, f.Method
		w.Storage = cost.FP32 // fp32 master weights under mixed precision
		if bf16Base {
			w.Quant = cost.Quant{Type: cost.BF16} // the block linears, trained in bf16
		}
	} else {
		w.Mode, w.Method = cost.Train, f.Method
		w.Storage = compute
		w.AdapterType = cost.FP32
		if f.LoRA != nil {
			w.LoRARank, w.LoRADropout = f.LoRA.Rank, f.LoRA.Dropout
			var names []string
			for _, t := range f.LoRA.Targets {
				names = append(names, t.String())
			}
			have := map[string]bool{}
			for _, n := range c.LinearNames() {
				have[n] = true
			}
			for _, n := range names {
				if have[n] {
					w.LoRATargets = append(w.LoRATargets, n)
				}
			}
		}
		if len(w.LoRATargets) == 0 || w.LoRARank <= 0 {
			w.LoRARank, w.LoRATargets = 16, []string{"q_proj", "v_proj"}
		}
		if bf16Base {
			w.Quant = cost.Quant{Type: cost.BF16}
		}
	}
	if q := f.Model.Quantize; q != nil && q.Method != compiler.DTypeInvalid {
		w.Quant = quantOf(q)
		qc, _ := b.precision(q.Compute, q.Has("compute"), &q.Site, "compute")
		w.Compute = qc
		if w.AdapterTraining() {
			// The parameters bitsandbytes leaves unquantised (embeddings,
			// head) stay in the compute format, as the quantize stage counts
			// them: the hf export loads them so (TRL casts them back to bf16
			// after PEFT's kbit preparation), torchtune trains in bf16.
			w.Storage = qc
		}
	}
	// The CPU trainer maps the model file and holds the tokenizer and the
	// tokenised data on its heap.
	for _, fb := range []struct {
		path string
		n    *int64
	}{{f.Model.Source.Path, &w.FileBytes}, {f.Model.Tokenizer, &w.TokenizerFileBytes}, {f.Data.Source, &w.DataFileBytes}} {
		if fb.path == "" || f.Data.HF != "" && fb.n == &w.DataFileBytes {
			continue
		}
		if fi, err := os.Stat(fb.path); err == nil && fi.Mode().IsRegular() {
			*fb.n = fi.Size()
		}
	}
	ck, every := checkpointingOf(f.Checkpointing)
	w.Checkpointing, w.CheckpointEvery = ck, every
	att, awhy := b.attention(f.Attention, w.Compute, &f.Decl.Site)
	if f.Attention == compiler.AttentionAuto && !b.target.Profile.GPU {
		// Training has no llama2.c order to keep. Neither kernel keeps
		// the seq×seq scores on the CPU (eager recomputes each row of
		// probabilities for dq, dk and dv), but flash2's one backward op
		// is faster: a 15M step at 2×256 on one thread took 0.52–0.63
		// CPU-seconds against eager's 0.82–0.86 (LoRA), 0.78 against
		// 1.01–1.08 (full), on the 2-vCPU EPYC VM, loaded.
		att, awhy = cost.Flash2, "auto on the CPU trains with the tiled FlashAttention-2 kernel, whose one backward op is faster than eager's three"
	}
	w.Attention = att
	st.Decisions = append(st.Decisions, Decision{What: "attention", Choice: att.String(), Requested: ifDiff(f.Attention.String(), att.String()), Rule: "ML006", Effect: awhy})
	if d := f.Distributed; d != nil {
		n := d.GPUs
		if n == 0 {
			n = b.target.Count
		}
		if n > b.target.Count {
			b.report(diag.Errorf(d.ValueRange("gpus"), "P122", fmt.Sprintf("%d GPUs requested, the target has %d", n, b.target.Count),
				fmt.Sprintf("distributed.gpus = %d but %s has %s. Lower gpus, or plan for more devices (--target %s*%d).",
					n, b.target.Name(), nouns(b.target.Count, "device"), b.target.Profile.Name, n)))
			n = b.target.Count
		}
		w.Devices = max(n, 1)
		switch d.Strategy {
		case compiler.StrategyZeRO2:
			w.Sharding = cost.ZeRO2
		case compiler.StrategyZeRO3, compiler.StrategyFSDP:
			w.Sharding = cost.ZeRO3
		}
	}
	w.LossChunks = f.LossChunks
	w.ActivationOffload = f.ActivationOffloading
	w.OptimizerInBackward = f.OptimizerInBackward && w.FullTraining()
	if d := f.Distributed; d != nil {
		w.CPUOffload = d.CPUOffload
	}
	w.Compiled = f.Compile != compiler.CompileNone && f.Compile != compiler.CompileInvalid
	w = w.OnEngine(b.opts.Engine)
	if b.opts.Engine == cost.EngineTorchtune {
		w.CompiledLoss = f.Compile != compiler.CompileNone && f.Compile != compiler.CompileInvalid
	}
	if err := w.Validate(); err != nil {
		b.report(diag.Errorf(f.NameRange, "P199", "internal planner error", "The workload of "+f.Name+" is inconsistent: "+err.Error()+". This is a bug in whisperc."))
	}
	return w
}

func ifDiff(req, got string) string {
	if req == got {
		return ""
	}
	return req
}

// trainDecisions records what each optimisation of a training stage
// costs and saves, by re-running the model without it.
func (b *builder) trainDecisions(f *compiler.Finetune, w cost.Workload, st *Stage) {
	base := w.Memory(b.dev)
	// checkpointing
	{
		alt := w
		alt.Checkpointing, alt.CheckpointEvery = cost.CheckpointNone, 0
		a0, a1 := alt.ActivationBytesOn(b.dev), w.ActivationBytesOn(b.dev)
		t0, t1 := alt.TrainStep(b.dev), w.TrainStep(b.dev)
		extra := 0.0
		if t0.FLOPs > 0 {
			extra = t1.RecomputeFLOPs / t0.FLOPs
		}
		d := Decision{What: "checkpointing", Choice: ckptName(w), Rule: "ML002", SavesBytes: a0 - a1, ExtraCompute: extra}
		if w.Checkpointing == cost.CheckpointSelective && !b.target.Profile.GPU {
			// runtime/engine/selective.go: the rotated q and k and their
			// gradients, fp32, one sequence at a time.
			c := w.Arch
			per := int64(c.Layers) * 2 * int64(w.Seq) * int64((c.Heads+c.KVHeads)*c.HeadSize()) * 4
			d.SavesBytes, d.ExtraCompute = per, 0
			d.Effect = fmt.Sprintf("the attention core recomputed in the backward pass; the CPU runtime's attention never keeps seq×seq scores, "+
				"so this drops the rotated q and k and their gradients, %s per sequence", gib(per))
		} else if w.Checkpointing == cost.CheckpointNone {
			full := w
			full.Checkpointing = cost.CheckpointFull
			d.Effect = fmt.Sprintf("activations %s kept (full checkpointing would keep %s)", gib(a1), gib(full.ActivationBytesOn(b.dev)))
		} else {
			d.Effect = fmt.Sprintf("activations %s → %s, +%.0f%% compute", gib(a0), gib(a1), 100*extra)
		}
		st.Decisions = append(st.Decisions, d)
	}
	// attention memory relative to eager
	if w.Attention != cost.Eager {
		alt := w
		alt.Attention = cost.Eager
		if s := alt.ActivationBytesOn(b.dev) - w.ActivationBytesOn(b.dev); s > 0 {
			d := st.Decision("attention")
			d.SavesBytes = s
			d.Effect = strings.TrimPrefix(d.Effect+"; ", "; ") + "no seq×seq scores: saves " + gib(s) + " over eager"
		}
	}
	// bf16 storage of the frozen base or of the trained weights (the
	// CPU's precision = bf16)
	if w.Quant.Type == cost.BF16 {
		alt := w
		alt.Quant = cost.Quant{}
		if d := st.Decision("precision"); d != nil {
			what := "frozen weights"
			if w.FullTraining() {
				what = "trained weights"
			}
			d.SavesBytes = alt.WeightBytes() - w.WeightBytes()
			d.Effect += fmt.Sprintf("; %s %s → %s (block linear layers bf16, the rest fp32)", what, gib(alt.WeightBytes()), gib(w.WeightBytes()))
		}
	}
	// quantisation
	if w.Quant.Type.Quantized() {
		alt := w
		alt.Quant = cost.Quant{}
		alt.Storage = w.Compute
		s := alt.WeightBytes() - w.WeightBytes()
		st.Decisions = append(st.Decisions, Decision{What: "quantization", Choice: w.Quant.Type.String(), Rule: "ML001", SavesBytes: s,
			Effect: fmt.Sprintf("frozen weights %s → %s (linear layers %s, the rest %s)", gib(alt.WeightBytes()), gib(w.WeightBytes()),
				w.Quant.Type, w.Storage)})
	}
	// method
	{
		n := w.TrainableParams()
		d := Decision{What: "method", Choice: f.Method.String(), Rule: "ML003",
			Effect: fmt.Sprintf("%s trainable parameters (%.2f%%)", humanCount(n), 100*float64(n)/float64(max(w.Arch.Params(), 1)))}
		if w.AdapterTraining() {
			full := w
			full.Mode, full.Method, full.Storage, full.Quant = cost.Train, compiler.MethodFull, cost.FP32, cost.Quant{}
			d.SavesBytes = full.Memory(b.dev).Total - base.Total
			d.Effect += fmt.Sprintf("; full fine-tuning would need %s", gib(full.Memory(b.dev).Total))
		}
		st.Decisions = append(st.Decisions, d)
	}
	// optimizer
	optEffect := "state " + gib(base.Component("optimizer_state"))
	if base.PagedBytes > 0 {
		optEffect += fmt.Sprintf(" on the device, %s more in paged memory (outside PyTorch's allocator; it moves to host memory when the GPU runs short)", gib(base.PagedBytes))
	}
	st.Decisions = append(st.Decisions, Decision{What: "optimizer", Choice: w.Optimizer.String(), Effect: optEffect})
	b.cpuOptimizer(f)
	st.Decisions = append(st.Decisions, guardDecision(f, b.opts.Engine))
	if e := f.EvalEvery; e.N > 0 {
		st.Decisions = append(st.Decisions, Decision{What: "eval_every", Choice: fmt.Sprintf("%d %s", e.N, e.Unit),
			Effect: "eval loss and perplexity on the held-out split then and at the end"})
	}
	b.techniqueDecisions(w, st)
	// batch
	eff := w.Batch * max(f.GradAccum, 1) * max(w.Devices, 1)
	st.Decisions = append(st.Decisions, Decision{What: "batch", Choice: fmt.Sprintf("%d × %d accumulation × %s", w.Batch, max(f.GradAccum, 1), nouns(max(w.Devices, 1), "device")),
		Effect: fmt.Sprintf("effective batch %d sequences of %d tokens", eff, w.Seq)})
	if w.Devices > 1 {
		alt := w
		alt.Sharding = cost.DDP
		st.Decisions = append(st.Decisions, Decision{What: "distributed", Choice: fmt.Sprintf("%s on %s", w.Sharding, nouns(w.Devices, "device")),
			SavesBytes: alt.Memory(b.dev).Total - base.Total,
			Effect:     fmt.Sprintf("per device %s (data parallel would need %s)", gib(base.Total), gib(alt.Memory(b.dev).Total))})
	}
}

// guardDecision states the run's guard rails: clipping and what a
// non-finite loss or gradient does.
func guardDecision(f *compiler.Finetune, engine cost.Engine) Decision {
	d := Decision{What: "guards", Choice: "no clipping"}
	if f.MaxGradNorm > 0 {
		d.Choice = fmt.Sprintf("clip at %g", f.MaxGradNorm)
	}
	p := f.NaN
	d.Effect = fmt.Sprintf("a NaN/Inf loss or gradient skips the step; after %d in a row the run ", p.Patience)
	if p.Rollbacks > 0 {
		d.Effect += fmt.Sprintf("rolls back to its last good state with the learning rate ×%g (at most %s), then stops", p.LRFactor, nouns(p.Rollbacks, "time"))
	} else {
		d.Effect += "stops"
	}
	if engine != cost.EngineUnset {
		d.Effect = fmt.Sprintf("the NaN/Inf policy is whisperc run's; %s does not skip steps or roll back", engine)
	}
	if f.MaxGradNorm > 0 {
		d.Effect = fmt.Sprintf("gradients scaled to global norm ≤ %g; ", f.MaxGradNorm) + d.Effect
	}
	return d
}

func ckptName(w cost.Workload) string {
	if w.Checkpointing == cost.CheckpointEvery {
		return fmt.Sprintf("every(%d)", w.CheckpointEvery)
	}
	return w.Checkpointing.String()
}

// compile resolves a compile mode; modes that capture CUDA graphs or
// autotune need static shapes (P117).
func (b *builder) compile(mode compiler.CompileMode, static bool, site *compiler.Site, st *Stage) compiler.CompileMode {
	if mode == compiler.CompileInvalid {
		mode = compiler.CompileNone
	}
	m := mode.String()
	d := Decision{What: "compile", Choice: m, Rule: "ML005"}
	switch mode {
	case compiler.CompileReduceOverhead, compiler.CompileMaxAutotune:
		if !static {
			b.report(diag.Warningf(site.ValueRange("compile"), "P117", "compile = "+m+" needs static shapes",
				m+" captures CUDA graphs (or autotunes) for fixed tensor shapes; variable-length batches recompile. "+
					"Set packing = true on the dataset (every batch seq_len tokens), or use compile = default."))
		}
		d.Effect = "fixed shapes: batches padded or packed to seq_len"
	case compiler.CompileDefault:
		d.Effect = "operator fusion; dynamic shapes allowed"
	}
	if !b.target.Profile.GPU {
		if st.Kind == StageTrain {
			d.Effect = "the CPU runtime builds the training graph once, for the whole run, whatever the mode"
		} else if mode == compiler.CompileNone {
			// Measured by the serve calibration on the 2-vCPU EPYC VM,
			// loaded: a 15M pass of one sequence took 4.2–4.4 ms under
			// none and 1.8 ms under default.
			d.Effect = "the CPU runtime builds every forward pass's graph anew; compile = default builds one per shape and reuses it (costs milliseconds, not minutes, on the CPU), about 2× faster a decode pass of the 15M shape"
		} else if mode == compiler.CompileDefault {
			d.Effect = "the CPU runtime builds one graph per shape and reuses it; a multi-row pass's activations are dropped after it, so the cached shapes hold no activations"
		} else {
			d.Effect = "the CPU runtime builds one fused graph per shape, whose ops share one set of output buffers sized for the largest"
		}
	}
	st.Decisions = append(st.Decisions, d)
	return mode
}

// deviceMemory turns the model's prediction into a plan entry.
func (b *builder) deviceMemory(m cost.Memory, devices int) *DeviceMemory {
	capBytes := b.target.Profile.MemoryBytes
	return &DeviceMemory{Devices: max(devices, 1), TotalBytes: m.Total, CapacityBytes: capBytes,
		Fits: capBytes <= 0 || m.Total <= capBytes, Phase: m.Phase, Components: m.Components,
		AllocatedBytes: m.Allocated, ReservedBytes: m.Allocated + m.Component("allocator_reserve")}
}

// inferenceWorkload builds the workload of a generate or serve stage.
func (b *builder) inferenceWorkload(ref compiler.ModelRef, c arch.Config, batch, prompt, newTokens int, kv bool, att compiler.Attention, site *compiler.Site, st *Stage) cost.Workload {
	m := ref.Base()
	req := compiler.DTypeBF16
	written := false
	var qsite *compiler.Site
	if m.Quantize != nil {
		req, written, qsite = m.Quantize.Compute, m.Quantize.Has("compute"), &m.Quantize.Site
	}
	if qsite == nil {
		qsite = &m.Decl.Site
	}
	compute, why := b.precision(req, written, qsite, "compute")
	w := cost.Workload{Arch: c, Mode: cost.Inference, Storage: compute, Compute: compute, Batch: max(batch, 1),
		Seq: max(prompt, 1), NewTokens: newTokens, KVCache: kv, Devices: 1, Sharding: cost.DDP}
	if m.Quantize != nil {
		w.Quant = quantOf(m.Quantize)
	}
	if w.Quant.Type.Quantized() {
		st.Decisions = append(st.Decisions, b.headDecision(&w))
	}
	w.StoredWeightBytes = b.stored[m]
	if m.Source.Path != "" {
		if fi, err := os.Stat(m.Source.Path); err == nil && fi.Mode().IsRegular() {
			w.FileBytes = fi.Size()
		}
	}
	if f := ref.Finetune; f != nil && f.Method == compiler.MethodFull && b.cpuBF16(f) && m.Quantize == nil {
		// A bf16 full fine-tune's checkpoint stores the block linears as
		// BF16 tensors: the runtime holds them in bf16 (2 bytes a weight,
		// widened row by row in the products), not decoded to fp32.
		w.Quant = cost.Quant{Type: cost.BF16}
		st.Decisions = append(st.Decisions, Decision{What: "weights", Choice: "bf16 block linears",
			Effect: "the checkpoint of " + f.Name + " (precision = bf16) stores the block linear weights in bf16 and the embeddings and norms in fp32; the runtime keeps the linears in bf16 and computes in fp32"})
	}
	if m.Tokenizer != "" {
		if fi, err := os.Stat(m.Tokenizer); err == nil && fi.Mode().IsRegular() {
			w.TokenizerFileBytes = fi.Size()
		}
	}
	if ref.Finetune != nil && ref.Finetune.LoRA != nil {
		// adapters are merged into the weights for inference
		st.Decisions = append(st.Decisions, Decision{What: "adapters", Choice: "merged", Rule: "ML003",
			Effect: "LoRA updates folded into the base weights: no extra latency"})
	}
	st.Decisions = append(st.Decisions, Decision{What: "precision", Choice: compute.String(), Effect: why})
	a, awhy := b.attention(att, compute, site)
	w.Attention = a
	st.Decisions = append(st.Decisions, Decision{What: "attention", Choice: a.String(), Requested: ifDiff(att.String(), a.String()), Rule: "ML006", Effect: awhy})
	return w
}

// headDecision chooses the classifier's format under quantisation. On the
// CPU the classifier is stored in Q8_0 whatever the layers use: decode
// streams it every token, and in fp32 a Llama-2-vocabulary classifier is
// as many bytes as all the quantised layers of a 110M model, while
// llama.cpp's own quantisations keep the output matrix at 6 or 8 bits
// (Q6_K in Q4_K_M files, Q8_0 in Q8_0 files) because 4 bits there costs
// accuracy. On a GPU bitsandbytes quantises only the transformer blocks'
// linear layers and leaves lm_head in 16 bits, and so does the plan.
func (b *builder) headDecision(w *cost.Workload) Decision {
	c := w.Arch
	plain := cost.Quant{Type: w.Storage}.Bytes(int64(c.Dim), int64(c.Vocab))
	d := Decision{What: "classifier", Rule: "ML001"}
	if b.target.Profile.GPU {
		d.Choice = w.Storage.String()
		d.Effect = fmt.Sprintf("lm_head stays %s (%s): bitsandbytes quantises the transformer blocks' linear layers only", w.Storage, gib(plain))
		return d
	}
	w.HeadQuant = cost.Quant{Type: cost.Q8_0}
	q := w.HeadQuant.Bytes(int64(c.Dim), int64(c.Vocab))
	d.Choice = w.HeadQuant.Type.String()
	d.SavesBytes = plain - q
	d.Effect = fmt.Sprintf("lm_head %s → %s in q8_0, read once per generated token; 8 bits as llama.cpp keeps its output matrix (4 bits there costs accuracy)",
		gib(plain), gib(q))
	if c.Tied {
		d.SavesBytes = 0
		d.Effect += "; tied to the embeddings, so it is a copy: the fp32 embedding rows are read only as tokens need them"
	}
	return d
}

// ServeChunk is the most prompt tokens a server prefills in one step (vLLM's
// chunked prefill works in chunks of this order).
const ServeChunk = 2048

// promptTokens estimates a prompt's length: about four characters per
// token for English BPE vocabularies, plus BOS.
func promptTokens(s string) int { return len(s)/4 + 2 }

func (b *builder) generate(g *compiler.Generate) {
	m := g.Model.Base()
	if m == nil {
		return
	}
	after := []string{b.load(m)}
	if id := b.tunedBy(g.Model); id != "" {
		after = append(after, id)
	}
	st := Stage{ID: "generate." + g.Name, Kind: StageGenerate, Decl: g.Name, Model: m.Name, After: after}
	st.Decisions = append(st.Decisions, addressDecision(g.Model)...)
	c := b.arch(m)
	if c == nil {
		b.plan.Stages = append(b.plan.Stages, st)
		return
	}
	prompt := promptTokens(g.Prompt)
	pd := Decision{What: "prompt", Choice: fmt.Sprintf("%d tokens", prompt), Effect: "estimated at about 4 characters per token, plus BOS"}
	if b.opts.PromptTokens != nil {
		if n, err := b.opts.PromptTokens(m, g.Prompt); err == nil {
			prompt = n
			pd.Choice, pd.Effect = fmt.Sprintf("%d tokens", n), "counted with the model's tokenizer, BOS included"
		} else if m.Tokenizer != "" && m.Source.Scheme.IsFile() {
			b.report(diag.Errorf(m.ValueRange("tokenizer"), "P132", "cannot read the tokenizer of model "+m.Name,
				fmt.Sprintf("%v. The prompt's length, and with it the plan, depend on it. Fix the path or the file.", err)))
		} else {
			pd.Effect += fmt.Sprintf(" (the tokenizer could not be read: %v)", err)
		}
	}
	st.Decisions = append(st.Decisions, pd)
	if total := prompt + g.MaxTokens; c.MaxSeq > 0 && total > c.MaxSeq {
		b.report(diag.Warningf(g.ValueRange("max_tokens"), "P116", "generation runs past the model's context",
			fmt.Sprintf("The prompt (about %d tokens) plus max_tokens = %d exceeds %s's context of %d; generation stops at the context. "+
				"Lower max_tokens to at most %d.", prompt, g.MaxTokens, c.Name, c.MaxSeq, max(c.MaxSeq-prompt, 1))))
	}
	w := b.inferenceWorkload(g.Model, *c, 1, prompt, g.MaxTokens, g.KVCache, g.Attention, &g.Decl.Site, &st)
	b.kvDecision(w, &st, "ML004")
	st.Graph = lower(w, b.compile(g.Compile, true, &g.Decl.Site, &st), g.KVCache, !b.target.Profile.GPU, b.storedTypes[m])
	w.CompileMode = st.Graph.Compile
	var unmeasured error
	if b.opts.DecodeStep != nil && b.dev.CPU != nil && !b.target.Profile.GPU {
		// The formats the runtime will run, as the graph names them: a
		// GGUF model's linear layers run in their stored block formats.
		var step cost.MeasuredStep
		blocks, hf, err := stepFormats(st.Graph, b.asStored(m, w))
		if err == nil {
			step, err = b.measureDecode(*c, blocks, hf, st.Graph.Compile)
		}
		if err == nil {
			w.StepLayerSeconds, w.StepHeadSeconds, w.StepPositionSeconds = step.Layer, step.Head, step.Position
			w.StepLayers, w.StepRounds, w.StepSpread = step.Layers, step.Rounds, step.Spread
		}
		unmeasured = err
	}
	b.inferenceCost(w, &st, g.NameRange, g.Name)
	if t := st.Time; unmeasured != nil && t != nil {
		// The calibrated rates alone have no rate for a GGUF block format,
		// and a step of other weights is not this model's.
		t.Bound, t.TokensPerSecond, t.Seconds = "unknown", 0, 0
		t.Assumption = fmt.Sprintf("decode not predicted: its step could not be measured (%v)", unmeasured)
	}
	b.plan.Stages = append(b.plan.Stages, st)
}

// stepFormats returns the stored formats of each of g's transformer
// blocks' linear layers and of its head, as a CPU decode-step measurement
// builds them. A GGUF Q4_K_M file's blocks differ from layer to layer
// (llama.cpp stores v_proj and down_proj of some layers in q6_K).
//
// stored says whether the graph's GGML block formats are the model
// file's own (builder.asStored).
func stepFormats(g *Graph, stored bool) (blocks []cost.BlockFormats, head cost.DType, err error) {
	for _, l := range g.Layers {
		formats := map[string]cost.DType{}
		var order []string
		for _, x := range l.Linears {
			formats[x.Module] = x.Weight
			order = append(order, x.Module)
		}
		if len(order) == 0 {
			return nil, 0, fmt.Errorf("layer %d has no linear layers", l.Index)
		}
		bl := cost.NewBlockFormats(formats, order)
		bl.Stored = stored
		blocks = append(blocks, bl)
	}
	if len(blocks) == 0 {
		return nil, 0, fmt.Errorf("the graph has no linear layers")
	}
	return blocks, g.Head.Weight, nil
}

// asStored reports whether workload w runs model m's GGML block formats
// as its GGUF file stores them, as lower does: a GGUF model that no
// quantize block re-quantises.
func (b *builder) asStored(m *compiler.Model, w cost.Workload) bool {
	return len(b.storedTypes[m]) > 0 && !w.Quant.Type.Quantized()
}

// maxStepMixes bounds the distinct block formats of one model whose
// decode steps a plan measures (each is a measurement of its own): a
// llama.cpp K-quant mix has two.
const maxStepMixes = 4

// measureDecode measures the CPU decode step of a model of shape c whose
// blocks are stored as blocks says and whose head as head: one
// measurement per distinct block (a model of that shape with every block
// alike), combined by how many of the model's layers each block is.
// Layers of different formats differ only in what their linear layers
// stream, which each measurement charges per layer; the head and the
// growth per position are the layers' average too.
func (b *builder) measureDecode(c arch.Config, blocks []cost.BlockFormats, head cost.DType, mode compiler.CompileMode) (cost.MeasuredStep, error) {
	var mixes []cost.BlockFormats
	count := map[string]int{}
	for _, bl := range blocks {
		k := bl.String()
		if count[k] == 0 {
			mixes = append(mixes, bl)
		}
		count[k]++
	}
	if len(mixes) > maxStepMixes {
		return cost.MeasuredStep{}, fmt.Errorf("the blocks' linear layers are stored in %d different mixes of formats, more than the %d a plan measures", len(mixes), maxStepMixes)
	}
	var sum cost.MeasuredStep
	for i, bl := range mixes {
		m, err := b.opts.DecodeStep(c, bl, head, mode)
		if err != nil {
			if len(mixes) > 1 {
				err = fmt.Errorf("blocks stored as %s: %w", bl, err)
			}
			return cost.MeasuredStep{}, err
		}
		share := float64(count[bl.String()]) / float64(len(blocks))
		sum.Layer += share * m.Layer
		sum.Head += share * m.Head
		sum.Position += share * m.Position
		sum.Rounds += m.Rounds
		sum.Spread = max(sum.Spread, m.Spread)
		if i == 0 || m.Layers < sum.Layers {
			sum.Layers = m.Layers
		}
	}
	return sum, nil
}

func (b *builder) serve(s *compiler.Serve) {
	m := s.Model.Base()
	if m == nil {
		return
	}
	after := []string{b.load(m)}
	if id := b.tunedBy(s.Model); id != "" {
		after = append(after, id)
	}
	st := Stage{ID: "serve." + s.Name, Kind: StageServe, Decl: s.Name, Model: m.Name, After: after}
	st.Decisions = append(st.Decisions, addressDecision(s.Model)...)
	c := b.arch(m)
	if c == nil {
		b.plan.Stages = append(b.plan.Stages, st)
		return
	}
	// A server holds max_batch conversations of the full context in its
	// KV cache, prefills one prompt chunk at a time and decodes all
	// conversations together.
	ctx := c.MaxSeq
	if ctx <= 0 {
		ctx = 2048
	}
	full := b.inferenceWorkload(s.Model, *c, s.MaxBatch, ctx/2, ctx-ctx/2, s.KVCache, s.Attention, &s.Decl.Site, &st)
	b.kvDecision(full, &st, "ML004")
	st.Graph = lower(full, b.compile(s.Compile, true, &s.Decl.Site, &st), s.KVCache, !b.target.Profile.GPU, b.storedTypes[m])
	full.CompileMode = st.Graph.Compile
	chunk := full
	chunk.Batch, chunk.CacheBatch = 1, full.Batch
	chunk.Seq = min(ctx, ServeChunk)
	chunk.NewTokens = ctx - chunk.Seq
	b.inferenceCost(chunk, &st, s.NameRange, s.Name)
	if b.dev.CPU != nil && !b.target.Profile.GPU {
		st.Time = b.cpuServeTime(s, st.Graph, full, chunk.Seq, ctx)
		b.plan.Stages = append(b.plan.Stages, st)
		return
	}
	dec := full.Decode(b.dev)
	st.Time = &StageTime{StepSeconds: chunk.Prefill(b.dev).Seconds, TokensPerSecond: dec.TokensPerSecond(), Bound: dec.Bound,
		Assumption: fmt.Sprintf("%d concurrent sequences; prefill in chunks of %d tokens at MFU %.0f%%, decoding at %.0f%% of memory bandwidth",
			full.Batch, chunk.Seq, 100*cost.PrefillMFU, 100*cost.BandwidthUtil)}
	b.plan.Stages = append(b.plan.Stages, st)
}

// cpuServeTime predicts a server's time on a CPU target with measured
// rates: from the server's own batched decode steps and prefill chunk,
// measured at plan time on this shape (Options.ServeStep, with
// DecodeStep for the growth with the context), when they can be
// measured; otherwise it predicts nothing, and says why, rather than
// multiplying one sequence's step by the batch, which is not what the
// server does (it streams the weights once per step for all its
// sequences).
func (b *builder) cpuServeTime(s *compiler.Serve, g *Graph, full cost.Workload, chunk, ctx int) *StageTime {
	// The sequences' position: the middle of a max_tokens reply after a
	// short prompt.
	pos := max(min(s.MaxTokens, ctx)/2, 1)
	t := &StageTime{Bound: "measured"}
	if b.opts.ServeStep == nil || b.opts.DecodeStep == nil {
		t.Bound = "unknown"
		t.Assumption = "not predicted: the server's batched steps are measured only when planning for this machine (detected target)"
		return t
	}
	// The formats the server runs, as the graph names them; its batched
	// steps are measured on a model whose blocks are all alike.
	blocks, hf, err := stepFormats(g, b.asStored(s.Model.Base(), full))
	if err == nil {
		for _, bl := range blocks[1:] {
			if bl.String() != blocks[0].String() {
				err = fmt.Errorf("the blocks are stored as both %s and %s, and the server's steps are measured on blocks alike", blocks[0], bl)
				break
			}
		}
	}
	var one cost.MeasuredStep
	if err == nil {
		one, err = b.opts.DecodeStep(full.Arch, blocks[0], hf, full.CompileMode)
	}
	if err != nil {
		t.Bound = "unknown"
		t.Assumption = fmt.Sprintf("not predicted: the decode step could not be measured (%v)", err)
		return t
	}
	m, err := b.opts.ServeStep(full.Arch, blocks[0], hf, full.CompileMode, full.Batch, chunk)
	if err != nil {
		t.Bound = "unknown"
		t.Assumption = fmt.Sprintf("not predicted: the server's steps could not be measured (%v)", err)
		return t
	}
	full.StepLayerSeconds, full.StepHeadSeconds, full.StepPositionSeconds = one.Layer, one.Head, one.Position
	full.StepLayers = one.Layers
	for _, n := range cost.ServeBatches(full.Batch) {
		t.Serving = append(t.Serving, ServeRate{Sequences: n, TokensPerSecond: full.ServeRequestTokensPerSecond(b.dev.CPU, m, n, pos, s.MaxTokens, cost.ServePromptTokens)})
	}
	t.TokensPerSecond = t.Serving[len(t.Serving)-1].TokensPerSecond
	t.ServeSteps, t.ServePosition = &m, pos
	t.StepSeconds = full.ServePrefill(m, chunk)
	t.DecodeLayerSeconds, t.DecodeHeadSeconds, t.DecodePositionSeconds = one.Layer, one.Head, one.Position
	t.DecodeLayers = one.Layers
	t.DecodeRounds, t.DecodeSpread = m.Rounds, max(m.Spread, one.Spread)
	var sizes []string
	for _, x := range m.Batches {
		sizes = append(sizes, strconv.Itoa(x.Sequences))
	}
	t.Assumption = fmt.Sprintf("%d concurrent sequences at about position %d (the middle of a max_tokens = %d reply after a short prompt), "+
		"from whisperc's CPU server steps measured on this machine (%d threads): one pass over the weights advancing %s sequences, "+
		"each then sampled at temperature 1 and handed to a waiting handler, with the growth per position of a single decode step; "+
		"each reply's %d-token prompt prefilled with the others' at the measured prefill rate; prefill is one chunk of %d tokens",
		full.Batch, pos, s.MaxTokens, b.dev.CPU.Threads, strings.Join(sizes, ", "), cost.ServePromptTokens, chunk)
	if m.PrefillTokens < chunk {
		t.Assumption += fmt.Sprintf(", measured on %d tokens and extrapolated", m.PrefillTokens)
	}
	// The steps were timed under the stage's compile mode, as its server
	// runs them: say so, since under none they are much slower.
	if full.CompileMode == compiler.CompileNone {
		t.Assumption += "; timed under compile = none, as this server runs: every pass builds its graph anew (compile = default keeps the graphs, about twice as fast a pass on small models)"
	} else {
		t.Assumption += fmt.Sprintf("; timed under compile = %s, as this server runs", full.CompileMode)
	}
	if m.Scaled {
		t.Assumption += "; the shape was measured on a narrower one of the same head size and scaled by the weights' bytes"
	}
	if sp := max(m.Spread, one.Spread); sp > cost.StepNoisy {
		t.Assumption += fmt.Sprintf("; the machine looked noisy while measuring: rounds spread %.0f%% apart, so these rates are less certain (plan again on a quiet machine)", 100*sp)
	}
	return t
}

// kvDecision records the KV cache's cost and what it saves.
func (b *builder) kvDecision(w cost.Workload, st *Stage, rule string) {
	ctx := min(w.Seq+w.NewTokens, max(w.Arch.MaxSeq, w.Seq+w.NewTokens))
	with := w
	with.KVCache = true
	without := w
	without.KVCache = false
	t1, t0 := with.Decode(b.dev), without.Decode(b.dev)
	d := Decision{What: "kv_cache", Rule: rule}
	if w.KVCache {
		d.Choice = "on"
		d.SavesBytes = -w.KVCacheBytes(ctx)
		ratio := 0.0
		if t1.FLOPs > 0 {
			ratio = t0.FLOPs / t1.FLOPs
		}
		d.Effect = fmt.Sprintf("costs %s for %d positions × batch %d; decoding does %.0f× less compute", gib(w.KVCacheBytes(ctx)), ctx, w.Batch, ratio)
	} else {
		d.Choice = "off"
		d.Effect = fmt.Sprintf("every token recomputes the prefix: %.0f× the FLOPs of cached decoding", t0.FLOPs/max(t1.FLOPs, 1))
	}
	st.Decisions = append(st.Decisions, d)
}

func (b *builder) inferenceCost(w cost.Workload, st *Stage, where source.Range, name string) {
	mem := w.Memory(b.dev)
	st.Memory = b.deviceMemory(mem, 1)
	pre, dec := w.Prefill(b.dev), w.Decode(b.dev)
	st.Time = &StageTime{StepSeconds: pre.Seconds, Seconds: pre.Seconds + dec.Seconds, Bound: dec.Bound,
		TokensPerSecond: dec.TokensPerSecond(),
		Assumption:      fmt.Sprintf("prefill MFU %.0f%%, decoding at %.0f%% of memory bandwidth", 100*cost.PrefillMFU, 100*cost.BandwidthUtil)}
	if dec.Bound == "measured" {
		st.Time.Assumption = fmt.Sprintf("decoding at the rates whisperc's CPU runtime measured on this machine (%d threads)", b.dev.CPU.Threads)
		st.Time.DecodeLayerSeconds, st.Time.DecodeHeadSeconds, st.Time.DecodePositionSeconds = w.StepLayerSeconds, w.StepHeadSeconds, w.StepPositionSeconds
		st.Time.DecodeLayers, st.Time.DecodeRounds, st.Time.DecodeSpread = w.StepLayers, w.StepRounds, w.StepSpread
		if w.StepSpread > cost.StepNoisy {
			st.Time.Assumption += fmt.Sprintf("; the machine looked noisy while measuring: %d rounds of steps spread %.0f%% apart, so this rate is less certain (plan again on a quiet machine)",
				w.StepRounds, 100*w.StepSpread)
		}
	}
	if !st.Memory.Fits {
		over := mem.Total - st.Memory.CapacityBytes
		d := diag.Errorf(where, "P120", fmt.Sprintf("%s does not fit: needs %s of %s", name, gib(mem.Total), gib(st.Memory.CapacityBytes)),
			fmt.Sprintf("The predicted peak exceeds %s's memory by %s (%s). Quantise the model (quantize { method = nf4 } "+
				"or q4_0), lower the batch or the context, or plan for a larger target.", b.target.Name(), gib(over), componentList(mem)))
		b.report(d)
	}
}

func componentList(m cost.Memory) string {
	var parts []string
	for _, c := range m.Components {
		parts = append(parts, c.Name+" "+gib(c.Bytes))
	}
	return strings.Join(parts, ", ")
}

func (b *builder) export(e *compiler.Export) {
	m := e.Model.Base()
	if m == nil {
		return
	}
	after := []string{b.load(m)}
	if id := b.tunedBy(e.Model); id != "" {
		after = append(after, id)
	}
	st := Stage{ID: "export." + e.Name, Kind: StageExport, Decl: e.Name, Model: m.Name, After: after}
	st.Decisions = append(st.Decisions, addressDecision(e.Model)...)
	d := Decision{What: "format", Choice: e.Format.String(), Effect: e.Path}
	st.Decisions = append(st.Decisions, d)
	if c := b.arch(m); c != nil {
		q := cost.Quant{Type: cost.FP16}
		switch e.Quantize {
		case compiler.ExportQuantQ8_0:
			q = cost.Quant{Type: cost.Q8_0}
		case compiler.ExportQuantQ4_0:
			q = cost.Quant{Type: cost.Q4_0}
		case compiler.ExportQuantQ4_K_M:
			q = cost.Quant{Type: cost.Q4K} // Q6_K tensors in the mix add a few percent
		case compiler.ExportQuantNone:
			q = cost.Quant{}
		}
		w := cost.Workload{Arch: *c, Storage: cost.FP16, Compute: cost.FP16, Quant: q}
		if !q.Type.Quantized() {
			w.Quant = cost.Quant{}
		} else if !c.Tied {
			w.HeadQuant = q // a tied classifier is the embedding matrix, written once
		}
		st.Decisions = append(st.Decisions, Decision{What: "quantization", Choice: e.Quantize.String(),
			Effect: "file about " + gib(w.WeightBytes())})
	}
	b.plan.Stages = append(b.plan.Stages, st)
}

// tunedBy plans the finetune whose output ref uses and returns its train
// stage's id, or "" when this run does not train it. A checkpoint address
// (`model = "sft@step500"`) uses an output recorded by a run, which the
// runtime finds in the track directory: the finetune is planned only when
// the pipeline runs it anyway (every stage, or a listed one), and then
// runs first, so that an address this run writes finds this run's files.
func (b *builder) tunedBy(ref compiler.ModelRef) string {
	f := ref.Finetune
	if f == nil {
		return ""
	}
	if ref.At != nil && !slices.ContainsFunc(b.prog.Stages, func(s compiler.Stage) bool {
		ft, ok := s.(*compiler.Finetune)
		return ok && ft == f
	}) {
		return ""
	}
	b.finetune(f)
	return b.done[f]
}

// addressDecision says which recorded output a checkpoint address uses.
func addressDecision(ref compiler.ModelRef) []Decision {
	a := ref.At
	if a == nil {
		return nil
	}
	which := fmt.Sprintf("the checkpoint at step %d of the latest succeeded run that wrote it", a.Step)
	switch {
	case a.Run != "" && a.Step > 0:
		which = fmt.Sprintf("the checkpoint at step %d of run %s", a.Step, a.Run)
	case a.Run != "":
		which = "the final output of run " + a.Run
	}
	return []Decision{{What: "model", Choice: a.Text, Effect: which + ", found at run time in the track directory's run records"}}
}

// cpuBF16Full refuses, on a CPU target run by whisperc's own trainer,
// what a full fine-tune with precision = bf16 does not run there: an
// optimizer other than adamw. Every checkpointing setting runs.
func (b *builder) cpuBF16Full(f *compiler.Finetune) {
	if b.opts.Engine != cost.EngineUnset {
		return
	}
	if f.Optimizer.Name != compiler.OptimizerAdamW {
		b.report(diag.Errorf(f.Optimizer.ValueRange("name"), "P118", f.Optimizer.Name.String()+" with bf16 weights cannot run on the CPU",
			"A full fine-tune with precision = bf16 trains its bf16 weights with adamw (fp32 moments, the update rounded to bf16) on the CPU trainer. "+
				"Use adamw, or precision = fp32 for "+f.Optimizer.Name.String()+"."))
	}
}

// cpuOptimizer refuses, on a CPU target run by whisperc's own trainer (no
// engine named), the optimizers that trainer does not run, where the
// runtime would stop the stage with E505 only after loading the model.
func (b *builder) cpuOptimizer(f *compiler.Finetune) {
	if b.target.Profile.GPU || b.opts.Engine != cost.EngineUnset || f.Optimizer.Name.CPUTrainer() {
		return
	}
	why := "the CPU trainer runs adamw, adamw_8bit and sgd. Use one of those, or plan for a GPU target and a training engine."
	if f.Optimizer.Name == compiler.OptimizerPagedAdamW8bit {
		why = "paged_adamw_8bit pages its optimizer state between GPU and host memory through CUDA unified memory; on the CPU there is nothing to page. " +
			"Use adamw_8bit, the same block-wise 8-bit moments, or plan for a GPU target."
	}
	b.report(diag.Errorf(f.Optimizer.ValueRange("name"), "P118", f.Optimizer.Name.String()+" cannot run on the CPU", why))
}
