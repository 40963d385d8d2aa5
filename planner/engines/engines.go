// Package engines lowers a checked, planned pipeline to the engines GPU
// users already trust: a Hugging Face training script (transformers, PEFT,
// bitsandbytes, TRL's SFTTrainer) launched by Accelerate with DeepSpeed or
// FSDP on several GPUs; a torchtune recipe configuration for `tune run`;
// and vLLM's `vllm serve` (and offline LLM API) for generate and serve.
//
// Lowering is pure: it returns file contents and launch commands, and
// diagnostics positioned on the attributes an engine cannot express
// (P140) or expresses only approximately (P141). The table in table.go
// is the one statement of which flag each plan decision becomes; the
// tests check the lowering against it and spec/engines.md is generated
// from it.
package engines

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
	"github.com/modelwhisperer/whisperc/planner"
)

// Engine is an execution engine outside whisperc. The zero value is
// invalid.
type Engine int

// The engines.
const (
	EngineInvalid Engine = iota
	// HF is Hugging Face transformers + PEFT + bitsandbytes + TRL,
	// launched by Accelerate (DeepSpeed or FSDP on several GPUs).
	HF
	// Torchtune is torchtune's built-in recipes, launched by `tune run`.
	Torchtune
	// VLLM is vLLM, for generate and serve.
	VLLM
)

// Engines lists the engines in a stable order.
var Engines = []Engine{HF, Torchtune, VLLM}

// String returns the engine's name as --engine spells it.
func (e Engine) String() string {
	switch e {
	case HF:
		return "hf"
	case Torchtune:
		return "torchtune"
	case VLLM:
		return "vllm"
	}
	return "invalid"
}

// ParseEngine returns the engine spelled s, or EngineInvalid.
func ParseEngine(s string) Engine {
	for _, e := range Engines {
		if e.String() == s {
			return e
		}
	}
	return EngineInvalid
}

// File is one file of an export, its path relative to the export directory.
type File struct {
	Path string
	Data string
	// Executable reports whether the file is a script to run.
	Executable bool
}

// Command is a launch command, run in the export directory.
type Command struct {
	// Stage is the plan stage it runs ("train.sft").
	Stage string
	// Argv is the command line.
	Argv []string
	// Launcher is the engine's program that must be on PATH (accelerate,
	// tune, vllm); Argv[0] when empty.
	Launcher string
	// Install says what to install when the launcher is missing.
	Install string
}

// Export is what Lower produces.
type Export struct {
	Engine Engine
	// Files are sorted by path.
	Files []File
	// Commands run the export's stages, in plan order.
	Commands []Command
}

// Options configure Lower.
type Options struct {
	// Dir is the export directory, spelled so that filepath.Rel relates it
	// to the program's paths (both relative to one working directory, or
	// both absolute). Data, model and output paths in the files are
	// written relative to it. Empty: the current directory.
	Dir string
	// Source is the .whisper file's name as the header comments cite it.
	Source string
}

// Codes of the diagnostics Lower reports (documented in stdlib).
const (
	codeUnsupported = "P140"
	codeApprox      = "P141"
	codeNothing     = "P142"
)

// lowerer carries one Lower's state.
type lowerer struct {
	prog   *compiler.Program
	plan   *planner.Plan
	engine Engine
	opts   Options
	ds     diag.Diagnostics
	out    *Export
}

// Lower lowers plan (made from prog) to engine e. hf and torchtune lower
// every finetune; vllm every generate and serve. It returns the export,
// nil when a decision cannot be expressed, and the diagnostics.
func Lower(prog *compiler.Program, plan *planner.Plan, e Engine, opts Options) (x *Export, ds diag.Diagnostics) {
	l := &lowerer{prog: prog, plan: plan, engine: e, opts: opts, out: &Export{Engine: e}}
	defer func() {
		if r := recover(); r != nil {
			var rng source.Range
			if prog != nil {
				rng = source.Range{Filename: prog.Root}
			}
			ds = append(l.ds, diag.Errorf(rng, "P199", "internal error lowering to "+e.String(),
				fmt.Sprintf("Lowering failed (%v). This is a bug in whisperc; please report it with this file.", r)))
			x = nil
		}
	}()
	if prog == nil || plan == nil {
		return nil, nil
	}
	switch e {
	case HF, Torchtune:
		if len(prog.Finetunes) == 0 {
			l.report(diag.Errorf(source.Range{Filename: prog.Root}, codeNothing, "nothing to train with "+e.String(),
				fmt.Sprintf("%s has no finetune block; --engine %s lowers fine-tuning. Use --engine vllm for generate and serve.", prog.Root, e)))
			break
		}
		for _, f := range prog.Finetunes {
			prefix := ""
			if len(prog.Finetunes) > 1 {
				prefix = f.Name + "/"
			}
			if e == HF {
				l.hf(f, prefix)
			} else {
				l.torchtune(f, prefix)
			}
		}
	case VLLM:
		if len(prog.Generates)+len(prog.Serves) == 0 {
			l.report(diag.Errorf(source.Range{Filename: prog.Root}, codeNothing, "nothing to serve with vllm",
				fmt.Sprintf("%s has no generate or serve block; --engine vllm lowers those. Use --engine hf or torchtune for finetune.", prog.Root)))
			break
		}
		l.vllm()
	default:
		l.report(diag.Errorf(source.Range{Filename: prog.Root}, codeNothing, "unknown engine",
			"The engines are hf, torchtune and vllm."))
	}
	ds = l.ds.Sorted()
	if ds.HasErrors() {
		return nil, ds
	}
	slices.SortFunc(l.out.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return l.out, ds
}

func (l *lowerer) report(d *diag.Diagnostic) { l.ds = append(l.ds, d) }

// need looks up decision = value and reports P140 or P141 at rng when the
// engine cannot express it exactly. It returns the mapping's key and
// whether the value is expressible at all.
func (l *lowerer) need(decision, value string, rng source.Range) (string, bool) {
	m, ok := lookup(decision, value, l.engine)
	if !ok {
		l.report(diag.Errorf(rng, "P199", fmt.Sprintf("no %s mapping for %s = %s", l.engine, decision, value),
			"The engine table (planner/engines/table.go) has no row for this value. This is a bug in whisperc."))
		return "", false
	}
	switch m.Support {
	case Unsupported:
		l.report(diag.Errorf(rng, codeUnsupported, fmt.Sprintf("%s cannot express %s = %s", l.engine, decision, value), m.Note))
		return "", false
	case Approximate:
		l.report(diag.Warningf(rng, codeApprox, fmt.Sprintf("%s approximates %s = %s", l.engine, decision, value), m.Note))
	}
	return m.Key, true
}

func (l *lowerer) add(path, data string, exe bool) {
	l.out.Files = append(l.out.Files, File{Path: path, Data: data, Executable: exe})
}

// rel writes path relative to the export directory, with forward slashes.
func (l *lowerer) rel(path string) string {
	if path == "" {
		return ""
	}
	dir := l.opts.Dir
	if dir == "" {
		dir = "."
	}
	if r, err := filepath.Rel(dir, path); err == nil {
		return filepath.ToSlash(r)
	}
	return filepath.ToSlash(path)
}

// trainStage returns the plan's train stage of f, or nil.
func (l *lowerer) trainStage(f *compiler.Finetune) *planner.Stage {
	return l.plan.Stage("train." + f.Name)
}

// model returns the plan's description of the named model, or nil.
func (l *lowerer) model(name string) *planner.ModelInfo {
	for i := range l.plan.Models {
		if l.plan.Models[i].Name == name {
			return &l.plan.Models[i]
		}
	}
	return nil
}

// choice returns the resolved choice of a stage's decision, or def.
func choice(st *planner.Stage, what, def string) string {
	if st == nil {
		return def
	}
	if d := st.Decision(what); d != nil {
		return d.Choice
	}
	return def
}

// devices returns the devices a training stage runs on.
func devices(st *planner.Stage) int {
	if st != nil && st.Memory != nil && st.Memory.Devices > 0 {
		return st.Memory.Devices
	}
	return 1
}

// hubRef returns what from_pretrained and vLLM take for a model: the hub
// name or the local directory, and whether the model is loadable at all by
// Hugging Face-format engines.
func (l *lowerer) hubRef(m *compiler.Model) (string, bool) {
	switch m.Source.Scheme {
	case compiler.SchemeHF:
		return m.Source.Ref, true
	case compiler.SchemeSafetensors:
		return l.rel(m.Source.Path), true
	}
	return "", false
}

// targetValue names the lora.targets value class of f for the table.
func targetValue(lo *compiler.LoRA) string {
	if lo.TargetGroup != "" {
		return lo.TargetGroup
	}
	mlp := 0
	for _, t := range lo.Targets {
		switch t {
		case compiler.ModuleGateProj, compiler.ModuleUpProj, compiler.ModuleDownProj:
			mlp++
		}
	}
	switch mlp {
	case 0:
		return "attention"
	case 3:
		if len(lo.Targets) == 3 {
			return "mlp"
		}
		return "all"
	}
	return "part of the MLP"
}

func boolWord(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// pyFloat renders a float as Python reads it.
func pyFloat(x float64) string {
	s := fmt.Sprintf("%g", x)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

// pyStr renders a Python (and YAML flow) string literal.
func pyStr(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			switch {
			case r < 0x20 || r == 0x7f:
				fmt.Fprintf(&b, `\x%02x`, r)
			case (r >= 0x80 && r <= 0x9f) || r == 0x2028 || r == 0x2029 || r == 0xfeff:
				// C1 controls and Unicode line breaks: YAML reads some as line breaks
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// shQuote quotes a word for POSIX shells when it needs it.
func shQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shQuote(a)
	}
	return strings.Join(q, " ")
}

// oneTrackBackend refuses a track block that names several backends: the
// exported scripts configure one. (whisperc run records to all of them.)
func (l *lowerer) oneTrackBackend() {
	tr := l.prog.Track
	if len(tr.Backends) <= 1 {
		return
	}
	l.report(diag.Errorf(tr.ValueRange("backend"), codeUnsupported, fmt.Sprintf("%s export takes one tracking backend", l.engine),
		fmt.Sprintf("The exported scripts report to one backend, and this track block names %d. Name one backend for the export (whisperc run records to several at once).", len(tr.Backends))))
}
