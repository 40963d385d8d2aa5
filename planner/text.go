package planner

import (
	"fmt"
	"github.com/modelwhisperer/whisperc/compiler"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/stdlib"
)

// WriteText renders the plan for people, in the spirit of `terraform
// plan`: the target, the models, each stage with its decisions, memory
// table and time, then the diagnostics (through the one diagnostic
// renderer, with source snippets from files) and the one-line summary.
func (p *Plan) WriteText(w io.Writer, files diag.Files) error {
	return p.WriteTextWith(w, files, diag.TextOptions{})
}

// WriteTextWith is WriteText with the diagnostic renderer's options
// (colour for terminals, width).
func (p *Plan) WriteTextWith(w io.Writer, files diag.Files, opts diag.TextOptions) error {
	return p.WriteReport(w, w, files, opts)
}

// WriteReport writes the plan's body and its summary line to w, and its
// diagnostics to diags (whisperc writes its products to stdout and every
// diagnostic to stderr). Text from the user's files (names, sources,
// prompts) is shown with its control characters escaped (diag.Visible).
func (p *Plan) WriteReport(w, diags io.Writer, files diag.Files, opts diag.TextOptions) error {
	var b strings.Builder
	t := p.Target
	fmt.Fprintf(&b, "Target: %s", t.Name)
	if t.Description != "" {
		fmt.Fprintf(&b, " (%s)", t.Description)
	}
	fmt.Fprintf(&b, ", %s each", gib(t.MemoryBytes))
	if t.GPU {
		fmt.Fprintf(&b, ", compute capability %.1f", t.ComputeCapability)
	}
	fmt.Fprintf(&b, ", %s\n", t.Source)
	for _, m := range p.Models {
		if !m.Resolved {
			fmt.Fprintf(&b, "Model:  %s = %s (architecture unknown)\n", m.Name, m.Source)
			continue
		}
		fmt.Fprintf(&b, "Model:  %s = %s: %s, %s parameters, %d layers × %d hidden, %d/%d heads, context %d\n",
			m.Name, m.Source, m.Architecture, humanCount(m.Params), m.Layers, m.Hidden, m.Heads, m.KVHeads, m.Context)
		if m.Approximation != "" {
			fmt.Fprintf(&b, "        note: %s\n", m.Approximation)
		}
	}
	for _, s := range p.Stages {
		fmt.Fprintf(&b, "\n%s %s\n", stageMark(s), s.ID)
		for _, d := range s.Decisions {
			choice := d.Choice
			if d.Requested != "" {
				choice += " (requested " + d.Requested + ")"
			}
			line := fmt.Sprintf("    %-14s %s", d.What, choice)
			if d.Rule != "" {
				line += "  [" + d.Rule + "]"
			}
			if d.Effect != "" {
				line += "\n" + strings.Repeat(" ", 19) + d.Effect
			}
			b.WriteString(line + "\n")
		}
		if g := s.Graph; g != nil && len(g.Layers) > 0 {
			b.WriteString("    graph          " + graphSummary(g) + "\n")
		}
		if m := s.Memory; m != nil {
			fmt.Fprintf(&b, "    memory per device (peak in %s):\n", m.Phase)
			for _, c := range m.Components {
				fmt.Fprintf(&b, "      %-20s %10s\n", c.Name, gib(c.Bytes))
			}
			status := "fits"
			if !m.Fits {
				status = "DOES NOT FIT"
			}
			pct := 0.0
			if m.CapacityBytes > 0 {
				pct = 100 * float64(m.TotalBytes) / float64(m.CapacityBytes)
			}
			fmt.Fprintf(&b, "      %-20s %10s of %s (%.0f%%) %s\n", "total", gib(m.TotalBytes), gib(m.CapacityBytes), pct, status)
			if line := floorLine(m); line != "" {
				b.WriteString(line)
			}
			if m.TotalBytes > m.ReservedBytes && m.ReservedBytes > 0 {
				fmt.Fprintf(&b, "      (PyTorch: %s allocated at the peak, %s reserved; the total adds the CUDA context: what nvidia-smi shows)\n",
					gib(m.AllocatedBytes), gib(m.ReservedBytes))
			}
		}
		if tm := s.Time; tm != nil && s.Kind == StageServe && tm.Bound == "unknown" {
			fmt.Fprintf(&b, "    time           %s\n", tm.Assumption)
		} else if tm := s.Time; tm != nil && s.Kind == StageGenerate && tm.Bound == "unknown" {
			fmt.Fprintf(&b, "    time           prefill %s; %s\n", seconds(tm.StepSeconds), tm.Assumption)
		} else if tm := s.Time; tm != nil && (s.Kind == StageGenerate || s.Kind == StageServe) {
			fmt.Fprintf(&b, "    time           prefill %s, decoding %s tokens/s", seconds(tm.StepSeconds), rate(tm.TokensPerSecond))
			if tm.Seconds > 0 {
				fmt.Fprintf(&b, ", %s in all", seconds(tm.Seconds))
			}
			fmt.Fprintf(&b, " (%s-bound; %s)\n", tm.Bound, tm.Assumption)
			if len(tm.Serving) > 0 {
				var rates []string
				for _, r := range tm.Serving {
					rates = append(rates, fmt.Sprintf("%d: %s", r.Sequences, rate(r.TokensPerSecond)))
				}
				fmt.Fprintf(&b, "    serving        tokens/s by concurrent sequences: %s\n", strings.Join(rates, ", "))
			}
		} else if tm != nil {
			fmt.Fprintf(&b, "    time           %s per step, %s tokens/s", seconds(tm.StepSeconds), rate(tm.TokensPerSecond))
			if tm.Seconds > 0 {
				fmt.Fprintf(&b, ", %s in all", seconds(tm.Seconds))
			}
			fmt.Fprintf(&b, " (%s-bound; %s)\n", tm.Bound, tm.Assumption)
		}
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, diag.Visible(b.String(), "\n")); err != nil {
		return err
	}
	if len(p.Diagnostics) > 0 {
		if err := diag.WriteText(diags, files, p.Diagnostics, opts); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, diag.Visible(p.Summary, ""))
	return err
}

func stageMark(s Stage) string {
	if s.Memory != nil && !s.Memory.Fits {
		return "!"
	}
	return "+"
}

// graphSummary condenses the per-layer graph into one line: the kernels
// used, adapters and checkpoint boundaries.
func graphSummary(g *Graph) string {
	kernels := map[string]int{}
	adapters := 0
	ckpt, sel := 0, 0
	for _, l := range g.Layers {
		if l.Checkpoint {
			ckpt++
		}
		if l.RecomputeAttention {
			sel++
		}
		for _, ln := range l.Linears {
			kernels[kernelName(ln)+" "+ln.Weight.String()+"→"+ln.Compute.String()]++
			if ln.Adapter != nil {
				adapters++
			}
		}
	}
	var ks []string
	for k, n := range kernels {
		ks = append(ks, fmt.Sprintf("%d× %s", n, k))
	}
	sort.Strings(ks)
	s := fmt.Sprintf("%d layers, %s attention; %s", len(g.Layers), g.Layers[0].Attention, strings.Join(ks, ", "))
	if adapters > 0 {
		s += fmt.Sprintf("; %d adapters", adapters)
	}
	if ckpt > 0 {
		s += fmt.Sprintf("; %d checkpointed layers", ckpt)
	}
	if sel > 0 {
		s += fmt.Sprintf("; attention recomputed in %d layers", sel)
	}
	if g.KVCache != nil {
		s += fmt.Sprintf("; KV cache %d×%d×%d %s (%s)", g.KVCache.Context, g.KVCache.KVHeads, g.KVCache.HeadDim, g.KVCache.Format, gib(g.KVCache.Bytes))
	}
	if g.Compile != compiler.CompileInvalid && g.Compile != compiler.CompileNone {
		s += "; compile " + g.Compile.String()
	}
	return s
}

// kernelName names a linear's kernel with its format: "matmul",
// "nf4_matmul".
func kernelName(ln Linear) string {
	if ln.Kernel == KernelQuantMatMul {
		return ln.Weight.String() + "_matmul"
	}
	return ln.Kernel.String()
}

func seconds(s float64) string {
	switch {
	case s <= 0:
		return "-"
	case s < 1e-3:
		return fmt.Sprintf("%.0f µs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.0f ms", s*1e3)
	case s < 120:
		return fmt.Sprintf("%.1f s", s)
	case s < 7200:
		return fmt.Sprintf("%.1f min", s/60)
	}
	return fmt.Sprintf("%.1f h", s/3600)
}

// WriteTargets lists the built-in target profiles (`whisperc plan
// --targets`): name, aliases, memory, bandwidth, compute capability and
// peak throughput, with the data sheet each comes from.
func WriteTargets(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s %9s %10s %4s %10s %10s  %s\n", "target", "memory", "bandwidth", "CC", "fp32", "bf16/fp16", "aliases")
	for _, p := range stdlib.Targets() {
		cc := "-"
		if p.GPU {
			cc = fmt.Sprintf("%.1f", p.ComputeCapability)
		}
		half := p.PeakTFLOPS["bf16"]
		if half == 0 {
			half = p.PeakTFLOPS["fp16"]
		}
		halfs := "-"
		if half > 0 {
			halfs = fmt.Sprintf("%.1f TF", half)
		}
		fmt.Fprintf(&b, "%-10s %9s %7.0f GB/s %4s %7.1f TF %10s  %s\n", p.Name, gib(p.MemoryBytes), p.BandwidthBytes/1e9, cc,
			p.PeakTFLOPS["fp32"], halfs, strings.Join(p.Aliases, ", "))
	}
	b.WriteString("\nDense peak throughput from each vendor's data sheet (stdlib/targets/*.hcl cites it). " +
		"Use --target NAME, --target NAME*N for N devices, or --target path/to/profile.hcl.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// rate formats a speed: whole numbers from 10 up, else two significant
// digits (a 70B model decodes 0.12 tokens/s on a CPU, not "0").
func rate(v float64) string {
	if v >= 10 || v == 0 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

// floorLine says, for a CPU inference plan, how much of the peak the
// process holds before it loads a model (the executable's pages, the Go
// runtime, the packages' initialisation), against the model's weights and
// KV cache: a floor that no model shrinks, which puts a small model's peak
// well above its weights. Empty for other plans.
func floorLine(m *DeviceMemory) string {
	var floor, exe, model int64
	for _, c := range m.Components {
		switch c.Name {
		case "executable":
			exe = c.Bytes
			floor += c.Bytes
		case "process":
			floor += c.Bytes
		case "weights_mapped", "weights_quantized", "kv_cache":
			model += c.Bytes
		}
	}
	if floor <= 0 || model <= 0 {
		return ""
	}
	of := ""
	if exe > 0 {
		of = ", the executable's pages " + gib(exe) + " of it"
	}
	return fmt.Sprintf("      (before loading, the process holds %s%s: %.0f%% of the %s of weights and KV cache)\n",
		gib(floor), of, 100*float64(floor)/float64(model), gib(model))
}
