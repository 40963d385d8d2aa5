package planner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner/cost"
)

// Change is one concrete change that lowers a stage's memory.
type Change struct {
	// Text says what to write: "checkpointing = full".
	Text string
	// SavesBytes is the per-device saving; Fits whether it alone makes the
	// stage fit; Cost what it costs.
	SavesBytes int64
	Fits       bool
	Cost       string
}

// fitChanges tries the standard memory savers on a training workload and
// returns them ranked: the ones that fit alone first, then by saving.
func (b *builder) fitChanges(f *compiler.Finetune, w cost.Workload, capBytes int64) []Change {
	base := w.Memory(b.dev).Total
	var out []Change
	try := func(text, costs string, alt cost.Workload) {
		total := alt.Memory(b.dev).Total
		if total >= base {
			return
		}
		out = append(out, Change{Text: text, SavesBytes: base - total, Fits: total <= capBytes, Cost: costs})
	}
	if w.Checkpointing != cost.CheckpointFull {
		alt := w
		alt.Checkpointing, alt.CheckpointEvery = cost.CheckpointFull, 0
		// The cost comes from the same time model as the stage's
		// checkpointing decision, so both say the same number.
		extra := "more compute"
		if t := alt.TrainStep(b.dev); t.FLOPs > t.RecomputeFLOPs && t.RecomputeFLOPs > 0 {
			extra = fmt.Sprintf("+%.0f%% compute", 100*t.RecomputeFLOPs/(t.FLOPs-t.RecomputeFLOPs))
		}
		try("checkpointing = full", extra, alt)
	}
	if w.Attention == cost.Eager && b.target.Profile.GPU {
		alt := w
		alt.Attention = cost.SDPA
		if b.target.Profile.ComputeCapability >= 8.0 {
			alt.Attention = cost.Flash2
		}
		try("attention = "+alt.Attention.String(), "none", alt)
	}
	if !w.Quant.Type.Quantized() {
		alt := w
		alt.Mode, alt.Method = cost.Train, compiler.MethodLoRA
		alt.Quant = cost.Quant{Type: cost.NF4, BlockSize: 64, Double: true}
		alt.Storage = cost.FP32
		if alt.LoRARank == 0 {
			alt.LoRARank, alt.LoRATargets, alt.AdapterType = 16, []string{"q_proj", "k_proj", "v_proj", "o_proj"}, cost.FP32
		}
		text := "quantize { method = nf4 } on the model (QLoRA)"
		if w.FullTraining() {
			text = "method = qlora with quantize { method = nf4 } on the model"
		}
		try(text, "4-bit frozen weights; adapters instead of full updates", alt)
	}
	if !b.target.Profile.GPU && b.opts.Engine == cost.EngineUnset && w.FullTraining() && w.Optimizer == cost.AdamW &&
		w.Quant.Type != cost.BF16 && !w.Quant.Type.Quantized() {
		// The CPU trainer's bf16 full fine-tune (cpuBF16Full: adamw only)
		// keeps the block linears in bf16 in place of the mapped file and
		// an fp32 copy.
		alt := w
		alt.Quant = cost.Quant{Type: cost.BF16}
		try("precision = bf16", "block linear weights trained in bf16: each update rounded to 8 bits of mantissa", alt)
	}
	if w.Optimizer == cost.AdamW && w.TrainableParams() > 0 {
		alt := w
		alt.Optimizer = b.eightBitAdamW()
		try("optimizer { name = "+alt.Optimizer.String()+" }", "8-bit moments", alt)
	}
	b.techniqueChanges(f, w, try)
	if w.Batch > 1 {
		// the largest batch that fits, keeping the effective batch
		for bs := w.Batch / 2; bs >= 1; bs /= 2 {
			alt := w
			alt.Batch = bs
			if alt.Memory(b.dev).Total <= capBytes || bs == 1 {
				accum := max(f.GradAccum, 1) * w.Batch / bs
				try(fmt.Sprintf("batch = %d, grad_accum = %d", bs, accum), "same effective batch, smaller kernels", alt)
				break
			}
		}
	}
	if w.Seq > 256 {
		alt := w
		alt.Seq = w.Seq / 2
		try(fmt.Sprintf("seq_len = %d on the dataset", alt.Seq), "shorter context per example", alt)
	}
	if w.Sharding != cost.ZeRO3 {
		for n := max(2, w.Devices); n <= 64; n *= 2 {
			alt := w
			alt.Devices, alt.Sharding = n, cost.ZeRO3
			if alt.Memory(b.dev).Total <= capBytes {
				try(fmt.Sprintf("distributed { strategy = zero3, gpus = %d }", n), fmt.Sprintf("%d devices (target %s)", n, b.target.Profile.Name+fmt.Sprintf("*%d", n)), alt)
				break
			}
		}
	}
	if !slices.ContainsFunc(out, func(c Change) bool { return c.Fits }) {
		out = append(out, b.combined(f, w, capBytes, base)...)
	}
	slices.SortStableFunc(out, func(a, b Change) int {
		if a.Fits != b.Fits {
			if a.Fits {
				return -1
			}
			return 1
		}
		switch {
		case a.SavesBytes > b.SavesBytes:
			return -1
		case a.SavesBytes < b.SavesBytes:
			return 1
		}
		return 0
	})
	return out
}

// combined tries the memory savers together when none fits alone:
// checkpointing, a fused attention kernel, 8-bit optimizer state and
// batch 1 (grad_accum keeping the effective batch), then ZeRO-3 over the
// fewest devices that fit.
func (b *builder) combined(f *compiler.Finetune, w cost.Workload, capBytes, base int64) []Change {
	alt := w
	var parts []string
	if alt.Checkpointing != cost.CheckpointFull {
		alt.Checkpointing, alt.CheckpointEvery = cost.CheckpointFull, 0
		parts = append(parts, "checkpointing = full")
	}
	if alt.Attention == cost.Eager && b.target.Profile.GPU {
		alt.Attention = cost.SDPA
		parts = append(parts, "attention = sdpa")
	}
	if alt.Optimizer == cost.AdamW {
		alt.Optimizer = b.eightBitAdamW()
		parts = append(parts, "optimizer { name = "+alt.Optimizer.String()+" }")
	}
	if alt.Batch > 1 {
		parts = append(parts, fmt.Sprintf("batch = 1, grad_accum = %d", max(f.GradAccum, 1)*alt.Batch))
		alt.Batch = 1
	}
	total := alt.Memory(b.dev).Total
	if total <= capBytes && len(parts) > 1 {
		return []Change{{Text: strings.Join(parts, " and "), SavesBytes: base - total, Fits: true, Cost: "all of them together"}}
	}
	for n := max(2, w.Devices); n <= 64; n *= 2 {
		z := alt
		z.Devices, z.Sharding = n, cost.ZeRO3
		if t := z.Memory(b.dev).Total; t <= capBytes {
			parts = append(parts, fmt.Sprintf("distributed { strategy = zero3, gpus = %d }", n))
			return []Change{{Text: strings.Join(parts, " and "), SavesBytes: base - t, Fits: true,
				Cost: fmt.Sprintf("all of them together on %s*%d", b.target.Profile.Name, n)}}
		}
	}
	return nil
}

// doesNotFit reports a training stage over capacity (P120) with by how
// much and the ranked changes.
func (b *builder) doesNotFit(f *compiler.Finetune, w cost.Workload, mem cost.Memory, st *Stage) {
	capBytes := st.Memory.CapacityBytes
	over := mem.Total - capBytes
	changes := b.fitChanges(f, w, capBytes)
	var lines []string
	for i, c := range changes {
		verdict := "not enough alone"
		if c.Fits {
			verdict = "fits"
		}
		lines = append(lines, fmt.Sprintf("%d. %s: saves %s (%s; %s)", i+1, c.Text, gib(c.SavesBytes), c.Cost, verdict))
	}
	detail := fmt.Sprintf("Training %s needs %s per device but %s has %s: %s over (%s). ",
		f.Name, gib(mem.Total), b.target.Name(), gib(capBytes), gib(over), componentList(mem))
	if len(lines) > 0 {
		detail += "Changes that lower it, best first:\n" + strings.Join(lines, "\n")
	} else {
		detail += "No single change helps; plan for a larger target."
	}
	d := diag.Errorf(f.NameRange, "P120", fmt.Sprintf("%s does not fit: needs %s of %s", f.Name, gib(mem.Total), gib(capBytes)), detail)
	if len(changes) > 0 && strings.HasPrefix(changes[0].Text, "checkpointing = ") && f.Has("checkpointing") {
		d.Suggestion = &diag.Suggestion{Message: "use " + changes[0].Text, Range: f.AttrRange("checkpointing"), Replacement: changes[0].Text}
	}
	b.report(d)
	for _, c := range changes {
		st.Decisions = append(st.Decisions, Decision{What: "suggestion", Choice: c.Text, Rule: "P120", SavesBytes: c.SavesBytes,
			Effect: map[bool]string{true: "fits alone; ", false: ""}[c.Fits] + c.Cost})
	}
}

// checkRequirements checks target.require against the target (P130).
func (b *builder) checkRequirements() {
	t := b.prog.Target
	if t == nil {
		return
	}
	p := b.target.Profile
	ram := int64(0)
	cores := 0
	if h := b.target.Hardware; h != nil {
		ram, cores = h.RAMBytes, h.CPU.PhysicalCores
	}
	for _, c := range t.Require {
		var have float64
		known := true
		switch c.Property {
		case "gpu_memory":
			if p.GPU {
				have = float64(p.MemoryBytes)
			}
		case "compute_capability":
			have = p.ComputeCapability
		case "gpus":
			if p.GPU {
				have = float64(b.target.Count)
			}
		case "ram":
			have, known = float64(ram), ram > 0
		case "cpu_cores":
			have, known = float64(cores), cores > 0
		case "bf16":
			have = boolf(p.BF16 && p.GPU)
		case "fp8":
			have = boolf(p.FP8 && p.GPU)
		case "flash_attention":
			have = boolf(p.FlashAttention())
		default:
			known = false
		}
		if !known {
			b.report(diag.Warningf(c.Range, "P130", "cannot check requirement "+c.Text,
				fmt.Sprintf("%s does not describe %s. Plan against detected hardware to check it.", b.target.Name(), c.Property)))
			continue
		}
		if !compare(have, c.Op, c.Value) {
			b.report(diag.Errorf(c.Range, "P130", "target requirement not met: "+c.Text,
				fmt.Sprintf("%s has %s = %s. Choose hardware that satisfies it (--target NAME), or relax the requirement.",
					b.target.Name(), c.Property, propValue(c.Property, have))))
		}
	}
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func compare(a float64, op string, b float64) bool {
	const eps = 1e-9
	switch op {
	case "==":
		return a > b-eps && a < b+eps
	case "!=":
		return a <= b-eps || a >= b+eps
	case "<":
		return a < b
	case "<=":
		return a <= b+eps
	case ">":
		return a > b
	case ">=":
		return a >= b-eps
	}
	return false
}

func propValue(prop string, v float64) string {
	switch prop {
	case "gpu_memory", "ram":
		return gib(int64(v))
	case "bf16", "fp8", "flash_attention":
		return fmt.Sprint(v != 0)
	case "compute_capability":
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%g", v)
}

// eightBitAdamW is the 8-bit AdamW a fix suggests: paged_adamw_8bit on a
// GPU, adamw_8bit on the CPU, whose trainer has no paged form (P118).
func (b *builder) eightBitAdamW() cost.Optimizer {
	if b.target.Profile.GPU {
		return cost.PagedAdamW8bit
	}
	return cost.AdamW8bit
}
