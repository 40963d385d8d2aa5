package compiler

import (
	"math"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
	"github.com/modelwhisperer/whisperc/stdlib"
)

// vkind is the shape of an evaluated expression, before it is checked
// against an attribute's type.
type vkind int

const (
	vInvalid  vkind = iota
	vError          // already reported; checking it further adds nothing
	vString         // "text"
	vNumber         // 16, 0.05
	vBool           // true
	vQuantity       // 24GiB
	vIdent          // a one-part reference: an enum value or a declaration
	vRef            // a dotted reference other than var.NAME
	vList           // [a, b]
	vCall           // every(2)
	vObject         // { k = v }
	vCompare        // gpu_memory >= 24GiB
)

// val is an evaluated expression. Arithmetic is folded, var.NAME is
// substituted, and rng remains the range of the expression as written.
type val struct {
	kind  vkind
	rng   source.Range
	s     string  // string value, identifier name
	n     float64 // number or quantity value (as written, not base)
	isInt bool
	unit  stdlib.Unit // quantity unit
	b     bool
	elems []val // list elements, call arguments
	ref   *ast.Reference
	obj   *ast.Object
	op    string // comparison operator
	x, y  *val   // comparison operands
	// fromVar is the variable the value came from, for notes.
	fromVar *Variable
	// at is a checkpoint address (`"sft@step500"`) on a reference.
	at *Checkpoint
}

// describe names the value's shape for "found ..." messages.
func (v val) describe() string {
	switch v.kind {
	case vString:
		return "a string"
	case vNumber:
		if v.isInt {
			return "an integer"
		}
		return "a number"
	case vBool:
		return "a boolean"
	case vQuantity:
		return "a " + stdlib.ClassName(v.unit.Class) + " (" + stdlib.FormatNumber(v.n) + spaceUnit(v.unit) + v.unit.Name + ")"
	case vIdent:
		return "the identifier " + v.s
	case vRef:
		return "the reference " + v.s
	case vList:
		return "a list"
	case vCall:
		return "a call " + v.s + "(...)"
	case vObject:
		return "an object"
	case vCompare:
		return "a comparison"
	}
	return "an invalid value"
}

func spaceUnit(u stdlib.Unit) string {
	if u.Class == stdlib.TypeCount {
		return " "
	}
	return ""
}

// base returns a quantity in its class's base unit, or a number as is.
func (v val) base() float64 {
	if v.kind == vQuantity {
		return v.n * v.unit.Factor
	}
	return v.n
}

// evalCtx says where an expression is evaluated.
type evalCtx struct {
	file string
	// inVariable forbids var.NAME (variable defaults are literals).
	inVariable bool
}

// eval evaluates an expression, folding constants and substituting
// variables. Problems are reported and yield vError.
func (c *checker) eval(ctx evalCtx, e ast.Expr) val {
	if e == nil {
		return val{kind: vError}
	}
	f := c.srcs[ctx.file]
	rng := ast.RangeOf(f, e)
	switch e := e.(type) {
	case *ast.String:
		return val{kind: vString, rng: rng, s: e.Value}
	case *ast.Number:
		v := val{kind: vNumber, rng: rng, n: e.Value, isInt: e.IsInt}
		if e.IsInt {
			v.n = float64(e.Int)
		}
		return v
	case *ast.Bool:
		return val{kind: vBool, rng: rng, b: e.Value}
	case *ast.Quantity:
		if e.Number == nil || e.Unit == nil {
			return val{kind: vError, rng: rng}
		}
		u, ok := stdlib.LookupUnit(e.Unit.Name)
		if !ok {
			// The parser reported it (E105, with its one suggestion):
			// a second diagnostic here offered a conflicting fix.
			return val{kind: vError, rng: rng}
		}
		n := e.Number.Value
		if e.Number.IsInt {
			n = float64(e.Number.Int)
		}
		return val{kind: vQuantity, rng: rng, n: n, isInt: e.Number.IsInt, unit: u}
	case *ast.Reference:
		return c.evalRef(ctx, e, rng)
	case *ast.Call:
		v := val{kind: vCall, rng: rng}
		if e.Name != nil {
			v.s = e.Name.Name
		}
		for _, a := range e.Args {
			v.elems = append(v.elems, c.eval(ctx, a))
		}
		return v
	case *ast.List:
		v := val{kind: vList, rng: rng}
		for _, x := range e.Elems {
			v.elems = append(v.elems, c.eval(ctx, x))
		}
		return v
	case *ast.Object:
		return val{kind: vObject, rng: rng, obj: e}
	case *ast.Paren:
		v := c.eval(ctx, e.X)
		v.rng = rng
		return v
	case *ast.Unary:
		return c.evalUnary(ctx, e, rng)
	case *ast.Binary:
		return c.evalBinary(ctx, e, rng)
	}
	c.report(diag.Errorf(rng, "E309", "Unsupported expression", "This expression cannot be evaluated. Write a literal value."))
	return val{kind: vError, rng: rng}
}

func (c *checker) evalRef(ctx evalCtx, e *ast.Reference, rng source.Range) val {
	if len(e.Parts) == 0 {
		return val{kind: vError, rng: rng}
	}
	if e.Parts[0].Name != "var" {
		if len(e.Parts) == 1 {
			return val{kind: vIdent, rng: rng, s: e.Parts[0].Name, ref: e}
		}
		return val{kind: vRef, rng: rng, s: e.String(), ref: e}
	}
	if ctx.inVariable {
		c.report(diag.Errorf(rng, "E309", "A variable's default cannot use another variable",
			"Variable defaults are literals. Write the value itself."))
		return val{kind: vError, rng: rng}
	}
	if len(e.Parts) != 2 {
		c.report(diag.Errorf(rng, "E211", "Malformed variable reference "+e.String(),
			"Variables are referenced as var.NAME. Write var.NAME."))
		return val{kind: vError, rng: rng}
	}
	name := e.Parts[1].Name
	vs, ok := c.vars[name]
	if !ok {
		c.report(c.unknownName(ast.RangeOf(c.srcs[ctx.file], e.Parts[1]), "E211", "Undefined variable "+name,
			"No variable "+quote(name)+" is declared.", name, c.varNames(),
			" Declare it with `variable "+name+" { default = ... }` or fix the name."))
		return val{kind: vError, rng: rng}
	}
	c.prog.VarUses = append(c.prog.VarUses, VarUse{Range: rng, Var: vs.v})
	if vs.val.kind == vInvalid || vs.val.kind == vError {
		return val{kind: vError, rng: rng}
	}
	v := vs.val
	v.rng = rng
	v.fromVar = vs.v
	return v
}

func (c *checker) evalUnary(ctx evalCtx, e *ast.Unary, rng source.Range) val {
	x := c.eval(ctx, e.X)
	if x.kind == vError {
		return x
	}
	switch {
	case e.Op == "-" && (x.kind == vNumber || x.kind == vQuantity):
		x.n = -x.n
		x.rng = rng
		return x
	case e.Op == "!" && x.kind == vBool:
		x.b = !x.b
		x.rng = rng
		return x
	}
	c.report(diag.Errorf(rng, "E309", "Cannot apply "+e.Op+" to "+x.describe(),
		"Unary - applies to numbers and quantities, ! to booleans. Remove the operator or fix its operand."))
	return val{kind: vError, rng: rng}
}

func isComparison(op string) bool {
	switch op {
	case "==", "!=", "<", "<=", ">", ">=":
		return true
	}
	return false
}

func (c *checker) evalBinary(ctx evalCtx, e *ast.Binary, rng source.Range) val {
	x, y := c.eval(ctx, e.X), c.eval(ctx, e.Y)
	if x.kind == vError || y.kind == vError {
		return val{kind: vError, rng: rng}
	}
	if isComparison(e.Op) {
		return val{kind: vCompare, rng: rng, op: e.Op, x: &x, y: &y}
	}
	bad := func(why string) val {
		c.report(diag.Errorf(rng, "E309", "Cannot compute "+x.describe()+" "+e.Op+" "+y.describe(), why))
		return val{kind: vError, rng: rng}
	}
	switch e.Op {
	case "&&", "||":
		if x.kind != vBool || y.kind != vBool {
			return bad(e.Op + " combines booleans. Write true or false on both sides.")
		}
		b := x.b && y.b
		if e.Op == "||" {
			b = x.b || y.b
		}
		return val{kind: vBool, rng: rng, b: b}
	case "+", "-", "*", "/":
	default:
		return bad("Unknown operator " + e.Op + ". Use + - * / or a comparison.")
	}
	num := func(v val) bool { return v.kind == vNumber }
	qty := func(v val) bool { return v.kind == vQuantity }
	out := val{rng: rng}
	switch {
	case num(x) && num(y):
		out.kind = vNumber
		out.isInt = x.isInt && y.isInt
		switch e.Op {
		case "+":
			out.n = x.n + y.n
		case "-":
			out.n = x.n - y.n
		case "*":
			out.n = x.n * y.n
		case "/":
			if y.n == 0 {
				return bad("Division by zero. Divide by a non-zero number.")
			}
			out.n = x.n / y.n
			out.isInt = out.isInt && out.n == math.Trunc(out.n)
		}
	case qty(x) && num(y) && (e.Op == "*" || e.Op == "/"), num(x) && qty(y) && e.Op == "*":
		q, k := x, y
		if num(x) {
			q, k = y, x
		}
		out = q
		out.rng = rng
		if e.Op == "*" {
			out.n = q.n * k.n
		} else {
			if k.n == 0 {
				return bad("Division by zero. Divide by a non-zero number.")
			}
			out.n = q.n / k.n
		}
		out.isInt = out.n == math.Trunc(out.n)
	case qty(x) && qty(y):
		if x.unit.Class != y.unit.Class || (x.unit.Class == stdlib.TypeCount && x.unit.Canonical != y.unit.Canonical) {
			return bad("The units differ in kind. Combine quantities of the same kind, such as two sizes.")
		}
		ry := y.n * y.unit.Factor / x.unit.Factor
		switch e.Op {
		case "+":
			out = x
			out.n = x.n + ry
		case "-":
			out = x
			out.n = x.n - ry
		case "/":
			if ry == 0 {
				return bad("Division by zero. Divide by a non-zero quantity.")
			}
			out = val{kind: vNumber, n: x.n / ry}
		default:
			return bad("Multiplying two quantities has no unit whisperc knows. Multiply a quantity by a number.")
		}
		out.rng = rng
		out.isInt = out.n == math.Trunc(out.n)
	default:
		return bad("Arithmetic applies to numbers and quantities. Write a number or a quantity on both sides.")
	}
	if math.IsInf(out.n, 0) || math.IsNaN(out.n) {
		return bad("The result is too large. Use smaller values.")
	}
	return out
}

// refParts returns the names of a reference's parts.
func refParts(r *ast.Reference) []string {
	if r == nil {
		return nil
	}
	out := make([]string, len(r.Parts))
	for i, p := range r.Parts {
		out[i] = p.Name
	}
	return out
}
