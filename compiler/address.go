package compiler

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
	"github.com/modelwhisperer/whisperc/stdlib"
)

// Checkpoint addresses one recorded version of a fine-tune's output, as
// in `model = "sft@step500"`, `model = "sft@261206-153811-a37f"` or
// `model = "sft@261206-153811-a37f/step500"`. The runtime resolves it from
// the run records in the pipeline's track directory.
type Checkpoint struct {
	// Step is the training step of the checkpoint (checkpoint-Step), or 0
	// for the run's final output.
	Step int64
	// Run is the run id, or a unique prefix of it, as `whisperc runs`
	// shows it; "" means the latest succeeded run that wrote Step.
	Run string
	// Text is the address as written and Range where.
	Text  string
	Range source.Range
}

// String returns the address as written.
func (c *Checkpoint) String() string { return c.Text }

// maxStep bounds a step number in an address.
const maxStep = 1_000_000_000_000

var (
	addrStep  = regexp.MustCompile(`^step([0-9]+)$`)
	addrRunID = regexp.MustCompile(`^[0-9][0-9a-f-]{0,17}$`)
)

// conformAddress checks a quoted model reference with an @: a
// fine-tune's output at a step, from a run, or both.
func (c *checker) conformAddress(ctx conformCtx, v val, t stdlib.Type) (val, bool) {
	name, at, ok := strings.Cut(v.s, "@")
	if !ok {
		d := diag.Errorf(v.rng, "E302", "Wrong type for "+ctx.what,
			"Expected "+t.Describe()+", found a string. Write the name without quotes, or address a fine-tune's "+
				"recorded output as \"NAME@stepN\", \"NAME@RUNID\" or \"NAME@RUNID/stepN\".")
		c.noteVar(d, v)
		c.report(d)
		return val{kind: vError, rng: v.rng}, false
	}
	nameRange, atRange := v.rng, v.rng
	if raw := v.rng.End.Byte - v.rng.Start.Byte; raw == len(v.s)+2 && v.rng.Start.Line == v.rng.End.Line {
		nameRange = subRange(v.rng, 1, 1+len(name))
		atRange = subRange(v.rng, 2+len(name), 2+len(v.s))
	}
	decl := c.prog.byName[name]
	if decl == nil {
		c.report(c.unknownName(nameRange, "E205", "Undefined reference "+name,
			ctx.what+" addresses a checkpoint of a finetune, but nothing is declared as "+quote(name)+".",
			name, c.declsOfKinds([]string{"finetune"}), " Name a finetune of this program."))
		return val{kind: vError, rng: v.rng}, false
	}
	c.prog.References = append(c.prog.References, Reference{Range: nameRange, Decl: decl})
	if decl.Kind != "finetune" {
		d := diag.Errorf(nameRange, "E219", "Only a finetune's outputs have checkpoints",
			quote(name)+" is a "+decl.Kind+"; a step or run address names a recorded output of a finetune. "+
				"Refer to "+name+" without quotes and without @.")
		d.Notes = []diag.Note{{Range: decl.NameRange, Message: decl.Name + " is declared here"}}
		c.report(d)
		return val{kind: vError, rng: v.rng}, false
	}
	if !slices.Contains(t.Kinds, "finetune") {
		return c.typeMismatch(ctx, v, t)
	}
	addr := &Checkpoint{Text: v.s, Range: v.rng}
	run, step, hasStep := at, "", false
	if i := strings.LastIndexByte(at, '/'); i >= 0 {
		run, step, hasStep = at[:i], at[i+1:], true
	} else if strings.HasPrefix(at, "step") {
		run, step, hasStep = "", at, true
	}
	bad := func(what string) (val, bool) {
		c.report(diag.Errorf(atRange, "E219", "Malformed checkpoint address "+quote(v.s),
			what+" Write \""+name+"@stepN\" (the checkpoint at step N of the latest succeeded run), \""+name+
				"@RUNID\" (that run's final output) or \""+name+"@RUNID/stepN\"; `whisperc runs` lists the run ids."))
		return val{kind: vError, rng: v.rng}, false
	}
	if hasStep {
		m := addrStep.FindStringSubmatch(step)
		if m == nil {
			return bad(quote(step) + " is not a step: a step is written step followed by its number, such as step500.")
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n < 1 || n > maxStep {
			return bad("Step " + m[1] + " is out of range: steps count from 1.")
		}
		addr.Step = n
	}
	if run != "" || (!hasStep && at == "") {
		if !addrRunID.MatchString(run) {
			return bad(quote(run) + " is not a run id: run ids look like 261206-153811-a37f (a unique prefix will do).")
		}
		addr.Run = run
	}
	return val{kind: vRef, rng: v.rng, s: decl.Name, at: addr}, true
}

// subRange returns the part of a one-line range from byte offset i to j.
func subRange(r source.Range, i, j int) source.Range {
	out := r
	out.Start.Byte, out.Start.Column = r.Start.Byte+i, r.Start.Column+i
	out.End = out.Start
	out.End.Byte, out.End.Column = r.Start.Byte+j, r.Start.Column+j
	return out
}
