package compiler

import (
	"math"
	"slices"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/stdlib"
)

// conformCtx says what is being checked, for messages: the attribute's
// name and the declaration that holds it.
type conformCtx struct {
	what   string // "rank", "lora.rank"
	decl   *Decl
	bounds *stdlib.Bounds
}

// conform checks v against t and returns it with identifiers resolved
// (enum values keep kind vIdent; references become vRef with ref set to
// the declaration). ok is false when an error was reported.
func (c *checker) conform(ctx conformCtx, v val, t stdlib.Type) (val, bool) {
	if v.kind == vError {
		return v, false
	}
	if (v.kind == vNumber || v.kind == vQuantity) && (math.IsNaN(v.n) || math.IsInf(v.n, 0)) {
		d := diag.Errorf(v.rng, "E304", "Value out of range for "+ctx.what,
			ctx.what+" must be a finite number; found "+stdlib.FormatNumber(v.n)+". Write a number.")
		c.noteVar(d, v)
		c.report(d)
		return val{kind: vError, rng: v.rng}, false
	}
	if v.kind == vQuantity && v.n < 0 {
		d := diag.Errorf(v.rng, "E304", "Value out of range for "+ctx.what,
			ctx.what+" cannot be negative; found "+stdlib.Quantity{Value: v.n, Unit: v.unit.Name}.String()+
				". Sizes, durations, step counts and percentages are zero or more.")
		c.noteVar(d, v)
		c.report(d)
		return val{kind: vError, rng: v.rng}, false
	}
	if t.Bounds != nil && v.kind == vQuantity && v.unit.Class == t.Kind && !t.Bounds.Contains(v.base()) {
		d := diag.Errorf(v.rng, "E304", "Value out of range for "+ctx.what,
			ctx.what+" must lie in "+percentBounds(t.Bounds)+"; found "+stdlib.Quantity{Value: v.n, Unit: v.unit.Name}.String()+
				". Use a value inside that range.")
		c.noteVar(d, v)
		c.report(d)
		return val{kind: vError, rng: v.rng}, false
	}
	switch t.Kind {
	case stdlib.TypeAny:
		switch v.kind {
		case vString, vNumber, vBool, vQuantity, vIdent:
			return v, true
		}
		return c.typeMismatch(ctx, v, t)
	case stdlib.TypeString, stdlib.TypePath:
		if v.kind == vString {
			return v, true
		}
		return c.typeMismatch(ctx, v, t)
	case stdlib.TypeNumber, stdlib.TypeInt:
		if v.kind == vQuantity {
			return c.unitMismatch(ctx, v, t)
		}
		if v.kind != vNumber {
			return c.typeMismatch(ctx, v, t)
		}
		if t.Kind == stdlib.TypeInt && !(v.isInt || v.n == math.Trunc(v.n) && math.Abs(v.n) < 1<<53) {
			return c.typeMismatch(ctx, v, t)
		}
		if t.Kind == stdlib.TypeInt {
			v.isInt = true
		}
		return c.checkBounds(ctx, v)
	case stdlib.TypeBool:
		if v.kind == vBool {
			return v, true
		}
		return c.typeMismatch(ctx, v, t)
	case stdlib.TypeSize, stdlib.TypePercent, stdlib.TypeDuration, stdlib.TypeCount:
		switch {
		case v.kind == vQuantity && v.unit.Class == t.Kind:
			return c.checkBounds(ctx, v)
		case v.kind == vQuantity, v.kind == vNumber && v.n != 0:
			return c.unitMismatch(ctx, v, t)
		case v.kind == vNumber: // a plain 0 needs no unit
			u := defaultUnit(t.Kind)
			return c.checkBounds(ctx, val{kind: vQuantity, rng: v.rng, n: 0, isInt: true, unit: u, fromVar: v.fromVar})
		}
		return c.typeMismatch(ctx, v, t)
	case stdlib.TypeEnum:
		return c.conformEnum(ctx, v, t)
	case stdlib.TypeRef:
		return c.conformRef(ctx, v, t)
	case stdlib.TypeList:
		if v.kind != vList || t.Elem == nil {
			return c.typeMismatch(ctx, v, t)
		}
		ok := true
		for i, e := range v.elems {
			e2, eok := c.conform(ctx, e, *t.Elem)
			v.elems[i] = e2
			ok = ok && eok
		}
		return v, ok
	case stdlib.TypeCall:
		return c.conformCall(ctx, v, t)
	case stdlib.TypeConstraint:
		return c.conformConstraint(ctx, v, t)
	case stdlib.TypeOneOf:
		return c.conformOneOf(ctx, v, t)
	}
	return c.typeMismatch(ctx, v, t)
}

// defaultUnit is the unit a bare 0 takes for a quantity type.
func defaultUnit(k stdlib.TypeKind) stdlib.Unit {
	name := map[stdlib.TypeKind]string{stdlib.TypeSize: "B", stdlib.TypePercent: "%", stdlib.TypeDuration: "s", stdlib.TypeCount: "steps"}[k]
	u, _ := stdlib.LookupUnit(name)
	return u
}

func (c *checker) typeMismatch(ctx conformCtx, v val, t stdlib.Type) (val, bool) {
	if v.kind == vCompare {
		c.report(diag.Errorf(v.rng, "E309", "A comparison is not a value",
			ctx.what+" needs "+t.Describe()+"; comparisons belong in target.require. Write the value itself."))
		return val{kind: vError, rng: v.rng}, false
	}
	d := diag.Errorf(v.rng, "E302", "Wrong type for "+ctx.what,
		"Expected "+t.Describe()+", found "+v.describe()+". Write "+t.Describe()+".")
	// A quoted enum value: offer to drop the quotes.
	if v.kind == vString {
		if _, ok := t.Enum(v.s); ok {
			d.Detail = "Expected " + t.Describe() + ", found a string. Enum values are written without quotes: " + v.s + "."
			d.Suggestion = &diag.Suggestion{Message: "remove the quotes", Range: v.rng, Replacement: v.s}
		}
	}
	c.noteVar(d, v)
	c.report(d)
	return val{kind: vError, rng: v.rng}, false
}

func (c *checker) unitMismatch(ctx conformCtx, v val, t stdlib.Type) (val, bool) {
	d := diag.Errorf(v.rng, "E305", "Wrong unit for "+ctx.what,
		"Expected "+t.Describe()+", found "+v.describe()+". Write the value with a unit of the expected kind.")
	if v.kind == vNumber && t.Kind != stdlib.TypeOneOf {
		d.Summary = "Missing unit for " + ctx.what
		u := defaultUnit(t.Kind)
		d.Suggestion = &diag.Suggestion{Message: "add a unit", Range: v.rng,
			Replacement: stdlib.Quantity{Value: v.n, Unit: u.Name}.String()}
		if t.Kind == stdlib.TypeSize {
			d.Suggestion = nil // bytes are rarely meant; do not guess
		}
	}
	if (t.Kind == stdlib.TypeNumber || t.Kind == stdlib.TypeInt) && v.kind == vQuantity && v.unit.Class == stdlib.TypePercent {
		d.Detail += " A percentage p% is the number p/100."
		d.Suggestion = &diag.Suggestion{Message: "write as a number", Range: v.rng, Replacement: stdlib.FormatNumber(v.n / 100)}
	}
	c.noteVar(d, v)
	c.report(d)
	return val{kind: vError, rng: v.rng}, false
}

// noteVar points at the variable a bad value came from. Such a value is
// not fixed where it is used, so any quick fix is dropped.
func (c *checker) noteVar(d *diag.Diagnostic, v val) {
	if v.fromVar != nil {
		d.Suggestion = nil
		if v.fromVar.FromCommandLine {
			d.Detail += " The value comes from -var " + v.fromVar.Name + "."
		}
		d.Notes = append(d.Notes, diag.Note{Range: v.fromVar.NameRange, Message: "the value of variable " + v.fromVar.Name})
	}
}

// percentBounds renders bounds on a percentage: "[0%, 100%)".
func percentBounds(b *stdlib.Bounds) string {
	s := b.String()
	lo, hi, _ := strings.Cut(strings.Trim(s, "[]()"), ", ")
	pct := func(x string, v float64, has bool) string {
		if !has {
			return x
		}
		return stdlib.FormatNumber(v) + "%"
	}
	return s[:1] + pct(lo, b.Min, b.HasMin) + ", " + pct(hi, b.Max, b.HasMax) + s[len(s)-1:]
}

func (c *checker) checkBounds(ctx conformCtx, v val) (val, bool) {
	if ctx.bounds == nil || ctx.bounds.Contains(v.base()) {
		return v, true
	}
	found := stdlib.FormatNumber(v.n)
	if v.kind == vQuantity {
		found = stdlib.Quantity{Value: v.n, Unit: v.unit.Name}.String()
	}
	d := diag.Errorf(v.rng, "E304", "Value out of range for "+ctx.what,
		ctx.what+" must lie in "+ctx.bounds.String()+"; found "+found+". Use a value inside that range.")
	c.noteVar(d, v)
	c.report(d)
	return val{kind: vError, rng: v.rng}, false
}

func (c *checker) conformEnum(ctx conformCtx, v val, t stdlib.Type) (val, bool) {
	if v.kind != vIdent {
		return c.typeMismatch(ctx, v, t)
	}
	if _, ok := t.Enum(v.s); ok {
		return v, true
	}
	d := c.unknownName(v.rng, "E303", "Unknown value "+v.s+" for "+ctx.what,
		ctx.what+" is one of "+strings.Join(t.EnumNames(), ", ")+"; "+quote(v.s)+" is none of them.",
		v.s, t.EnumNames(), " Use one of the listed values.")
	c.noteVar(d, v)
	c.report(d)
	return val{kind: vError, rng: v.rng}, false
}

// maxCandidates bounds the names searched for a did-you-mean hint, so
// that a huge file of misspelt references stays linear.
const maxCandidates = 2000

// declsOfKinds returns the names of declarations of the given kinds (at
// most maxCandidates of them), cached per set of kinds.
func (c *checker) declsOfKinds(kinds []string) []string {
	key := strings.Join(kinds, ",")
	if out, ok := c.candidates[key]; ok {
		return out
	}
	out := []string{}
	for _, d := range c.prog.Decls {
		if len(out) == maxCandidates {
			break
		}
		for _, k := range kinds {
			if d.Kind == k && d.Name != d.Kind {
				out = append(out, d.Name)
			}
		}
	}
	if c.candidates == nil {
		c.candidates = map[string][]string{}
	}
	c.candidates[key] = out
	return out
}

// conformRef resolves a reference to a declaration of one of t.Kinds. The
// result keeps kind vRef with s set to the declaration's name; output is
// marked by elems being empty and b true for NAME.output.
func (c *checker) conformRef(ctx conformCtx, v val, t stdlib.Type) (val, bool) {
	if v.kind == vString && slices.Contains(t.Kinds, "finetune") {
		return c.conformAddress(ctx, v, t)
	}
	if v.kind != vIdent && v.kind != vRef {
		return c.typeMismatch(ctx, v, t)
	}
	parts := refParts(v.ref)
	if len(parts) == 0 {
		return c.typeMismatch(ctx, v, t)
	}
	f := c.srcs[v.rng.Filename]
	nameRange := v.rng
	if f != nil && v.ref != nil {
		nameRange = ast.RangeOf(f, v.ref.Parts[0])
	}
	decl := c.prog.byName[parts[0]]
	if decl == nil {
		d := c.unknownName(nameRange, "E205", "Undefined reference "+parts[0],
			ctx.what+" refers to a "+orKinds(t.Kinds)+", but nothing is declared as "+quote(parts[0])+".",
			parts[0], c.declsOfKinds(t.Kinds), " Declare it, import the file that declares it, or fix the name.")
		c.report(d)
		return val{kind: vError, rng: v.rng}, false
	}
	c.prog.References = append(c.prog.References, Reference{Range: nameRange, Decl: decl})
	accepted := false
	for _, k := range t.Kinds {
		if decl.Kind == k {
			accepted = true
		}
	}
	if !accepted {
		d := diag.Errorf(nameRange, "E206", "Wrong kind of reference for "+ctx.what,
			ctx.what+" refers to a "+orKinds(t.Kinds)+", but "+quote(decl.Name)+" is a "+decl.Kind+". "+
				"Point it at a "+orKinds(t.Kinds)+".")
		if best := c.closestOfKinds(parts[0], t.Kinds); best != "" {
			d.Detail += ` Did you mean "` + best + `"?`
			d.Suggestion = &diag.Suggestion{Message: "replace with", Range: nameRange, Replacement: best}
		}
		d.Notes = []diag.Note{{Range: decl.NameRange, Message: decl.Name + " is declared here"}}
		c.report(d)
		return val{kind: vError, rng: v.rng}, false
	}
	out := val{kind: vRef, rng: v.rng, s: decl.Name, ref: v.ref}
	if len(parts) > 1 {
		if len(parts) != 2 || parts[1] != "output" || decl.Kind != "finetune" {
			c.report(diag.Errorf(v.rng, "E217", "No attribute "+strings.Join(parts[1:], ".")+" to refer to on "+decl.Name,
				"Only a finetune's output can be referenced with a dot (NAME.output). Refer to "+decl.Name+" itself."))
			return val{kind: vError, rng: v.rng}, false
		}
		out.b = true
	}
	return out, true
}

// closestOfKinds suggests a declaration of an accepted kind for a
// reference that named one of the wrong kind.
func (c *checker) closestOfKinds(name string, kinds []string) string {
	cands := c.declsOfKinds(kinds)
	if len(cands) == 1 {
		return cands[0]
	}
	for _, cand := range cands {
		if strings.HasPrefix(cand, name) || strings.HasPrefix(name, cand) {
			return cand
		}
	}
	return ""
}

func orKinds(kinds []string) string {
	switch len(kinds) {
	case 0:
		return "declaration"
	case 1:
		return kinds[0]
	}
	return strings.Join(kinds[:len(kinds)-1], ", ") + " or " + kinds[len(kinds)-1]
}

func (c *checker) conformCall(ctx conformCtx, v val, t stdlib.Type) (val, bool) {
	if v.kind != vCall || t.Call == nil {
		return c.typeMismatch(ctx, v, t)
	}
	if v.s != t.Call.Name {
		c.report(c.unknownName(v.rng, "E309", "Unknown call "+v.s+" for "+ctx.what,
			ctx.what+" accepts the call "+t.String()+".", v.s, []string{t.Call.Name}, " Use that form."))
		return val{kind: vError, rng: v.rng}, false
	}
	if len(v.elems) != len(t.Call.Params) {
		c.report(diag.Errorf(v.rng, "E302", "Wrong number of arguments to "+v.s,
			v.s+" takes "+plural(len(t.Call.Params), "argument")+" ("+t.String()+"). Write "+t.String()+"."))
		return val{kind: vError, rng: v.rng}, false
	}
	ok := true
	for i, p := range t.Call.Params {
		a, aok := c.conform(conformCtx{what: v.s + "'s " + p.Name, decl: ctx.decl, bounds: p.Bounds}, v.elems[i], p.Type)
		v.elems[i] = a
		ok = ok && aok
	}
	return v, ok
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return stdlib.FormatNumber(float64(n)) + " " + word + "s"
}

func (c *checker) conformConstraint(ctx conformCtx, v val, t stdlib.Type) (val, bool) {
	var lhs, rhs val
	op := ""
	switch v.kind {
	case vCompare:
		lhs, rhs, op = *v.x, *v.y, v.op
	case vIdent: // `bf16` alone means bf16 == true
		lhs, rhs, op = v, val{kind: vBool, b: true, rng: v.rng}, "=="
	default:
		return c.typeMismatch(ctx, v, t)
	}
	if lhs.kind != vIdent {
		c.report(diag.Errorf(v.rng, "E307", "A requirement compares a hardware property",
			"Write the property on the left, such as gpu_memory >= 24GiB; found "+lhs.describe()+"."))
		return val{kind: vError, rng: v.rng}, false
	}
	prop, ok := t.Property(lhs.s)
	if !ok {
		c.report(c.unknownName(lhs.rng, "E307", "Unknown hardware property "+lhs.s,
			"target.require compares one of "+strings.Join(t.PropertyNames(), ", ")+".", lhs.s, t.PropertyNames(),
			" Use one of them."))
		return val{kind: vError, rng: v.rng}, false
	}
	if prop.Type.Kind == stdlib.TypeBool && op != "==" && op != "!=" {
		c.report(diag.Errorf(v.rng, "E307", "Cannot order booleans",
			prop.Name+" is true or false; compare it with == or !=, or write "+prop.Name+" alone to require it."))
		return val{kind: vError, rng: v.rng}, false
	}
	r, ok := c.conform(conformCtx{what: prop.Name, decl: ctx.decl}, rhs, prop.Type)
	if !ok {
		return r, false
	}
	out := val{kind: vCompare, rng: v.rng, op: op, x: &lhs, y: &r}
	return out, true
}

// conformOneOf picks the alternative that matches the value's shape.
func (c *checker) conformOneOf(ctx conformCtx, v val, t stdlib.Type) (val, bool) {
	var fits []stdlib.Type
	var quantities []stdlib.Type
	for _, a := range t.Alts {
		if shapeFits(v, a) {
			fits = append(fits, a)
		}
		switch a.Kind {
		case stdlib.TypeSize, stdlib.TypePercent, stdlib.TypeDuration, stdlib.TypeCount:
			quantities = append(quantities, a)
		}
	}
	if len(fits) > 0 {
		return c.conform(ctx, v, fits[0])
	}
	if v.kind == vNumber && v.n == 0 && len(quantities) > 0 {
		return c.conform(ctx, v, quantities[0])
	}
	if (v.kind == vQuantity || v.kind == vNumber) && len(quantities) > 0 {
		return c.unitMismatch(ctx, v, t)
	}
	return c.typeMismatch(ctx, v, t)
}

// shapeFits reports whether v has the shape alternative a expects, before
// any deeper check.
func shapeFits(v val, a stdlib.Type) bool {
	switch a.Kind {
	case stdlib.TypeEnum:
		return v.kind == vIdent
	case stdlib.TypeRef:
		return v.kind == vIdent || v.kind == vRef
	case stdlib.TypeList:
		return v.kind == vList
	case stdlib.TypeCall:
		return v.kind == vCall
	case stdlib.TypeString, stdlib.TypePath:
		return v.kind == vString
	case stdlib.TypeNumber:
		return v.kind == vNumber
	case stdlib.TypeInt:
		return v.kind == vNumber && v.isInt
	case stdlib.TypeBool:
		return v.kind == vBool
	case stdlib.TypeSize, stdlib.TypePercent, stdlib.TypeDuration, stdlib.TypeCount:
		return v.kind == vQuantity && v.unit.Class == a.Kind
	case stdlib.TypeConstraint:
		return v.kind == vCompare
	}
	return false
}
