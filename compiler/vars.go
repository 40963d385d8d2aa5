package compiler

import (
	"sort"
	"strconv"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/suggest"
	"github.com/modelwhisperer/whisperc/stdlib"
)

// varState is a variable during checking: its typed declaration and the
// value var.NAME substitutes.
type varState struct {
	v   *Variable
	val val
}

func (c *checker) varNames() []string {
	out := make([]string, 0, len(c.vars))
	for n := range c.vars {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// varTypeSchema returns the stdlib type a VarType stands for.
func varTypeSchema(t VarType) stdlib.Type {
	switch t {
	case VarString:
		return stdlib.Type{Kind: stdlib.TypeString}
	case VarNumber:
		return stdlib.Type{Kind: stdlib.TypeNumber}
	case VarInt:
		return stdlib.Type{Kind: stdlib.TypeInt}
	case VarBool:
		return stdlib.Type{Kind: stdlib.TypeBool}
	case VarSize:
		return stdlib.Type{Kind: stdlib.TypeSize}
	case VarPercent:
		return stdlib.Type{Kind: stdlib.TypePercent}
	case VarDuration:
		return stdlib.Type{Kind: stdlib.TypeDuration}
	case VarCount:
		return stdlib.Type{Kind: stdlib.TypeCount}
	}
	return stdlib.Type{Kind: stdlib.TypeAny}
}

// inferVarType returns the type of a default value.
func inferVarType(v val) VarType {
	switch v.kind {
	case vString, vIdent:
		return VarString
	case vNumber:
		if v.isInt {
			return VarInt
		}
		return VarNumber
	case vBool:
		return VarBool
	case vQuantity:
		switch v.unit.Class {
		case stdlib.TypeSize:
			return VarSize
		case stdlib.TypePercent:
			return VarPercent
		case stdlib.TypeDuration:
			return VarDuration
		case stdlib.TypeCount:
			return VarCount
		}
	}
	return VarInvalid
}

// resolveVariables checks every variable declaration and computes its
// value from -var or its default, before anything uses var.NAME.
func (c *checker) resolveVariables() {
	for _, d := range c.prog.Decls {
		if d.Kind != "variable" {
			continue
		}
		v := &Variable{Decl: d}
		d.Value = v
		c.prog.Variables = append(c.prog.Variables, v)
		c.vars[d.Name] = &varState{v: v}
	}
	for _, v := range c.prog.Variables {
		c.resolveVariable(c.vars[v.Name])
	}
	names := make([]string, 0, len(c.opts.Vars))
	for n := range c.opts.Vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, ok := c.vars[n]; !ok {
			d := &diag.Diagnostic{Severity: diag.Error, Code: "E212", Summary: "Unknown variable " + n + " in -var",
				Detail: "-var " + n + "=... sets no declared variable." + suggest.DidYouMean(n, c.varNames()) +
					" Fix the name, or declare `variable " + n + " { ... }`."}
			c.report(d)
		}
	}
}

func (c *checker) resolveVariable(vs *varState) {
	v := vs.v
	schema := c.kinds["variable"]
	b := c.checkBody(evalCtx{file: v.File, inVariable: true}, v.Decl, schema, v.Site, v.Block.Body, "")
	v.Site = b.site
	if s, ok := b.vals["description"]; ok {
		v.Description = s.s
	}
	declared := VarInvalid
	if t, ok := b.vals["type"]; ok {
		declared = ParseVarType(t.s)
	}
	def, hasDef := b.vals["default"]
	typ := declared
	if hasDef {
		if declared != VarInvalid {
			cv, ok := c.conform(conformCtx{what: "default of " + v.Name}, def, varTypeSchema(declared))
			if !ok {
				hasDef = false
			}
			def = cv
		} else {
			typ = inferVarType(def)
		}
	}
	if raw, set := c.opts.Vars[v.Name]; set {
		if typ == VarInvalid {
			typ = VarString
		}
		pv, ok := parseVarValue(raw, typ, def)
		if !ok {
			d := diag.Errorf(v.NameRange, "E306", "Invalid -var value for "+v.Name,
				"-var "+v.Name+"="+raw+" is not "+varTypeSchema(typ).Describe()+". Pass a value of that type.")
			c.report(d)
		} else {
			pv.rng = v.NameRange
			vs.val = pv
			v.FromCommandLine = true
		}
	} else if hasDef {
		vs.val = def
	} else if !b.bad["default"] {
		detail := "Variable " + v.Name + " has no default, so it must be set with -var " + v.Name + "=VALUE."
		if declared == VarInvalid {
			detail += " Declare its type too (`type = number`), or"
		} else {
			detail += " Pass it, or"
		}
		detail += " give it a default."
		c.report(diag.Errorf(v.NameRange, "E216", "Variable "+v.Name+" has no value", detail))
	}
	if vs.val.kind != vInvalid && vs.val.kind != vError {
		v.Value = exportValue(vs.val, typ)
	}
}

// parseVarValue reads a -var value as type t. A string variable whose
// default is an identifier keeps identifiers (so it can hold an enum value).
func parseVarValue(raw string, t VarType, def val) (val, bool) {
	s := strings.TrimSpace(raw)
	switch t {
	case VarString:
		if def.kind == vIdent {
			return val{kind: vIdent, s: s}, s != ""
		}
		return val{kind: vString, s: raw}, true
	case VarNumber, VarInt:
		clean := strings.ReplaceAll(s, "_", "")
		n, err := strconv.ParseFloat(clean, 64)
		if err != nil {
			return val{}, false
		}
		isInt := !strings.ContainsAny(clean, ".eE") && n == float64(int64(n))
		if t == VarInt && !isInt {
			return val{}, false
		}
		return val{kind: vNumber, n: n, isInt: isInt}, true
	case VarBool:
		switch s {
		case "true":
			return val{kind: vBool, b: true}, true
		case "false":
			return val{kind: vBool}, true
		}
		return val{}, false
	case VarSize, VarPercent, VarDuration, VarCount:
		q, ok := stdlib.ParseQuantity(s)
		if !ok {
			return val{}, false
		}
		u, _ := stdlib.LookupUnit(q.Unit)
		if u.Class != varTypeSchema(t).Kind {
			return val{}, false
		}
		return val{kind: vQuantity, n: q.Value, unit: u, isInt: q.Value == float64(int64(q.Value))}, true
	}
	return val{}, false
}

// exportValue turns a checked value into the exported Value.
func exportValue(v val, t VarType) Value {
	out := Value{Type: t}
	switch v.kind {
	case vString, vIdent:
		out.String = v.s
		out.Type = VarString
	case vNumber:
		out.Number = v.n
	case vBool:
		out.Bool = v.b
	case vQuantity:
		out.Number = v.base()
		out.Quantity = stdlib.Quantity{Value: v.n, Unit: v.unit.Name}
	}
	return out
}
