package planner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/planner/hw"
)

// TestCPUBF16Full: a full fine-tune with precision = bf16 plans for the
// CPU trainer without P118 when it uses adamw and checkpointing none or
// selective, full or every(k); its graph stores the block linears in bf16, trainable,
// computed in fp32; its memory holds them at 2 bytes each (trained in
// place), the embeddings and norms in fp32, and fp32 gradients and AdamW
// moments for every parameter, as the fp32 plan does. Another optimizer
// is P118, on the attribute.
func TestCPUBF16Full(t *testing.T) {
	cpu := calibratedCPU(0) // the CPU trainer's memory model, as a calibrated machine has
	plan := func(prec, ckpt, opt string) (*Plan, []string) {
		src := base7b + "finetune ft {\n model = base\n data = d\n method = full\n precision = " + prec + "\n checkpointing = " + ckpt + "\n optimizer {\n name = " + opt + "\n }\n}\n"
		prog := check(t, map[string]string{"main.whisper": src}, "main.whisper")
		p, ds := Build(prog, cpu, Options{})
		var p118 []string
		for _, d := range ds {
			if d.Code == "P118" {
				p118 = append(p118, fmt.Sprintf("line:%d %s", d.Subject.Start.Line, d.Summary))
			}
		}
		return p, p118
	}
	for _, c := range []struct{ ckpt, opt, want string }{
		{"none", "adamw", ""},
		{"selective", "adamw", ""},
		{"full", "adamw", ""},
		{"every(2)", "adamw", ""},
		{"none", "sgd", "line:11 sgd with bf16 weights cannot run on the CPU"},
		{"none", "adamw_8bit", "line:11 adamw_8bit with bf16 weights cannot run on the CPU"},
	} {
		if _, got := plan("bf16", c.ckpt, c.opt); strings.Join(got, "; ") != c.want {
			t.Errorf("checkpointing %s, %s: P118 %q, want %q", c.ckpt, c.opt, got, c.want)
		}
	}
	fp, _ := plan("fp32", "none", "adamw")
	bf, _ := plan("bf16", "none", "adamw")
	st := bf.Stage("train.ft")
	var linears int64
	for _, l := range st.Graph.Layers {
		for _, ln := range l.Linears {
			if ln.Weight != cost.BF16 || ln.Compute != cost.FP32 || ln.Kernel != KernelQuantMatMul || !ln.Trainable {
				t.Fatalf("layer %d %s: %s weight computed in %s by %s, trainable %t; want trainable bf16 → fp32", l.Index, ln.Module, ln.Weight, ln.Compute, ln.Kernel, ln.Trainable)
			}
			linears += int64(ln.In) * int64(ln.Out)
		}
	}
	if !st.Graph.Embedding.Trainable || st.Graph.Embedding.Weight != cost.FP32 {
		t.Errorf("embeddings %+v; want trainable fp32", st.Graph.Embedding)
	}
	comp := func(p *Plan, name string) int64 {
		for _, c := range p.Stage("train.ft").Memory.Components {
			if c.Name == name {
				return c.Bytes
			}
		}
		return 0
	}
	params := comp(fp, "gradients") / 4
	for _, c := range []struct {
		name string
		want int64
	}{
		{"weights_quantized", 2 * linears},
		{"trained_copy", 4 * (params - linears)},
		{"gradients", 4 * params},
		{"optimizer_state", 8 * params},
		{"gradient_nodes", comp(fp, "gradient_nodes")},
	} {
		if got := comp(bf, c.name); got != c.want {
			t.Errorf("%s: %d bytes in the bf16 plan, want %d", c.name, got, c.want)
		}
	}
	if d := st.Decision("precision"); d == nil || d.Choice != "bf16 weights, fp32 compute" || d.SavesBytes != 2*linears {
		t.Errorf("precision decision %+v; want bf16 weights saving %d bytes", d, 2*linears)
	}
	if saved := fp.Stage("train.ft").Memory.TotalBytes - st.Memory.TotalBytes; saved < 5*linears || saved > 7*linears {
		t.Errorf("the bf16 plan is %d bytes smaller than the fp32 one; want about 6 per block weight (%d)", saved, 6*linears)
	}
}

// TestGenerateAfterBF16Full: a generate stage on the output of a CPU
// full fine-tune with precision = bf16 plans the checkpoint the runtime
// loads: the block linears held in bf16 (2 bytes each), the rest fp32
// and mapped, where after an fp32 fine-tune every weight is mapped fp32. The generate after a LoRA fine-tune is
// planned as before, whatever its precision.
func TestGenerateAfterBF16Full(t *testing.T) {
	cpu := calibratedCPU(0)
	gen := func(method, prec string) *Stage {
		src := base7b + "finetune ft {\n model = base\n data = d\n method = " + method + "\n precision = " + prec + "\n}\n" +
			"generate g {\n model = ft\n prompt = \"hi\"\n max_tokens = 8\n}\n"
		p, ds := Build(check(t, map[string]string{"main.whisper": src}, "main.whisper"), cpu, Options{})
		if ds.HasErrors() || p.Stage("generate.g") == nil {
			t.Fatalf("%s %s: %v", method, prec, ds)
		}
		return p.Stage("generate.g")
	}
	comp := func(st *Stage, name string) int64 {
		for _, c := range st.Memory.Components {
			if c.Name == name {
				return c.Bytes
			}
		}
		return 0
	}
	fp, bf := gen("full", "fp32"), gen("full", "bf16")
	var linears int64
	for _, l := range bf.Graph.Layers {
		for _, ln := range l.Linears {
			if ln.Weight != cost.BF16 || ln.Compute != cost.FP32 {
				t.Fatalf("layer %d %s: %s weight computed in %s; want bf16 → fp32", l.Index, ln.Module, ln.Weight, ln.Compute)
			}
			linears += int64(ln.In) * int64(ln.Out)
		}
	}
	if bf.Graph.Embedding.Weight != cost.FP32 || fp.Graph.Layers[0].Linears[0].Weight != cost.FP32 {
		t.Errorf("embeddings %s after bf16, linears %s after fp32; want fp32 both", bf.Graph.Embedding.Weight, fp.Graph.Layers[0].Linears[0].Weight)
	}
	if got, q := comp(fp, "weights_mapped")-comp(bf, "weights_mapped"), comp(bf, "weights_quantized"); got != 4*linears || q != 2*linears {
		t.Errorf("after the bf16 fine-tune: %d mapped bytes fewer (want %d), %d in bf16 (want %d)", got, 4*linears, q, 2*linears)
	}
	if bf.Memory.TotalBytes >= fp.Memory.TotalBytes {
		t.Errorf("generate after bf16 plans %d bytes, after fp32 %d", bf.Memory.TotalBytes, fp.Memory.TotalBytes)
	}
	if lo, lb := gen("lora", "fp32"), gen("lora", "bf16"); comp(lo, "weights_mapped") != comp(lb, "weights_mapped") {
		t.Errorf("generate after LoRA over a bf16 base maps %d bytes, over fp32 %d", comp(lb, "weights_mapped"), comp(lo, "weights_mapped"))
	}
}

// TestCPUTrainAutoAttention: on the CPU, attention = auto trains with the
// tiled FlashAttention-2 kernel (ML006 advises auto; the kernel the
// training benchmarks measure, faster than eager's backward), while
// generating with auto stays eager, whose sums follow llama2.c's order.
func TestCPUTrainAutoAttention(t *testing.T) {
	cpu := calibratedCPU(0)
	plan := func(att string) *Plan {
		src := base7b + "finetune ft {\n model = base\n data = d\n method = lora\n attention = " + att + "\n}\n" +
			"generate g {\n model = ft\n prompt = \"hi\"\n max_tokens = 8\n}\n"
		p, ds := Build(check(t, map[string]string{"main.whisper": src}, "main.whisper"), cpu, Options{})
		if ds.HasErrors() || p.Stage("train.ft") == nil || p.Stage("generate.g") == nil {
			t.Fatalf("%s: %v", att, ds)
		}
		return p
	}
	auto, eager := plan("auto"), plan("eager")
	if a := auto.Stage("train.ft").Graph.Layers[0].Attention; a != cost.Flash2 {
		t.Errorf("training with auto: %s, want flash2", a)
	}
	if a := auto.Stage("generate.g").Graph.Layers[0].Attention; a != cost.Eager {
		t.Errorf("generating with auto: %s, want eager", a)
	}
	if a := eager.Stage("train.ft").Graph.Layers[0].Attention; a != cost.Eager {
		t.Errorf("training with eager: %s, want eager as asked", a)
	}
}

// TestCPUCompileEffects: on the CPU the compile decision says what the
// runtime does with the mode: training builds its graph once whatever the
// mode, generation and serving under none build every pass's graph anew.
func TestCPUCompileEffects(t *testing.T) {
	cpu := calibratedCPU(0)
	src := base7b + "finetune ft {\n model = base\n data = d\n method = lora\n compile = reduce_overhead\n}\n" +
		"generate g {\n model = ft\n prompt = \"hi\"\n max_tokens = 8\n compile = none\n}\n" +
		"serve s {\n model = ft\n}\n"
	p, ds := Build(check(t, map[string]string{"main.whisper": src}, "main.whisper"), cpu, Options{})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	for id, want := range map[string]string{"train.ft": "training graph once", "generate.g": "anew", "serve.s": "anew"} {
		st := p.Stage(id)
		if st == nil {
			t.Fatalf("no stage %s", id)
		}
		found := false
		for _, d := range st.Decisions {
			if d.What == "compile" {
				found = true
				if !strings.Contains(d.Effect, want) {
					t.Errorf("%s: compile %s: %q, want it to say %q", id, d.Choice, d.Effect, want)
				}
			}
		}
		if !found {
			t.Errorf("%s: no compile decision", id)
		}
	}
}

// calibratedCPU is a 2-core, 512 GiB CPU target with the calibrated
// memory model of a machine whose rates were measured (40 MiB of process
// base) and the given threads (0: unset).
func calibratedCPU(threads int) *Target {
	cpu := FromHardware(&hw.Hardware{CPU: hw.CPU{Model: "test", PhysicalCores: 2, LogicalCores: 2}, RAMBytes: 512 << 30, RAMAvailableBytes: 512 << 30})
	cpu.CPU = &cost.CPURates{Threads: threads, BaseBytes: 40 << 20}
	return cpu
}
