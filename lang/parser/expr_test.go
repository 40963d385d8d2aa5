package parser

import (
	"fmt"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
)

// parenthesize renders an expression with every binary and unary node in
// parentheses, so that a test can state the tree in one line.
func parenthesize(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Binary:
		return "(" + parenthesize(e.X) + " " + e.Op + " " + parenthesize(e.Y) + ")"
	case *ast.Unary:
		return "(" + e.Op + parenthesize(e.X) + ")"
	case *ast.Paren:
		return "[" + parenthesize(e.X) + "]"
	case *ast.Number:
		return e.Text
	case *ast.Reference:
		var parts []string
		for _, p := range e.Parts {
			parts = append(parts, p.Name)
		}
		return strings.Join(parts, ".")
	case *ast.Bool:
		return fmt.Sprint(e.Value)
	case *ast.Call:
		var args []string
		for _, a := range e.Args {
			args = append(args, parenthesize(a))
		}
		return e.Name.Name + "(" + strings.Join(args, ", ") + ")"
	}
	return fmt.Sprintf("%T", e)
}

// attrValue parses `m x { a = <expr> }` and returns the value.
func attrValue(t *testing.T, expr string) (ast.Expr, string, diag.Diagnostics) {
	t.Helper()
	a, src, ds := attr(t, expr)
	return a.Value, src, ds
}

// attr parses `m x { a = <expr> }` and returns the attribute.
func attr(t *testing.T, expr string) (*ast.Attribute, string, diag.Diagnostics) {
	t.Helper()
	src := "m x { a = " + expr + " }\n"
	f, ds := Parse("e.whisper", []byte(src))
	if len(f.Items) != 1 {
		t.Fatalf("%q: %d items, diagnostics %v", src, len(f.Items), ds)
	}
	items := f.Items[0].(*ast.Block).Body.Items
	if len(items) != 1 {
		t.Fatalf("%q: %d body items, diagnostics %v", src, len(items), ds)
	}
	return items[0].(*ast.Attribute), src, ds
}

func TestPrecedence(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1", "1"},
		{"a + b * c", "(a + (b * c))"},
		{"a * b + c", "((a * b) + c)"},
		{"a - b - c", "((a - b) - c)"},
		{"a / b * c", "((a / b) * c)"},
		{"a || b && c == d + e * f", "(a || (b && (c == (d + (e * f)))))"},
		{"a * b + c == d && e || f", "(((((a * b) + c) == d) && e) || f)"},
		{"a < b <= c > d >= e == f != g", "((((((a < b) <= c) > d) >= e) == f) != g)"},
		{"a || b || c && d && e", "((a || b) || ((c && d) && e))"},
		{"-x * y", "((-x) * y)"},
		{"- -x", "(-(-x))"},
		{"!a && !!b", "((!a) && (!(!b)))"},
		{"a - -b", "(a - (-b))"},
		{"(a + b) * c", "([(a + b)] * c)"},
		{"f(a + b * c, -d) / 2", "(f((a + (b * c)), (-d)) / 2)"},
		{"1 + 2 * 3 - 4 / 5 * 6 + 7", "(((1 + (2 * 3)) - ((4 / 5) * 6)) + 7)"},
		{"a.b >= 8 && true", "((a.b >= 8) && true)"},
	}
	for _, tt := range tests {
		e, src, ds := attrValue(t, tt.in)
		if len(ds) > 0 {
			t.Errorf("%q: %v", src, ds)
		}
		if got := parenthesize(e); got != tt.want {
			t.Errorf("%q parses as %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestBinaryExtents checks that each ast.Binary spans its operands and
// records where its operator is.
func TestBinaryExtents(t *testing.T) {
	e, src, _ := attrValue(t, "-a + b * (c) || d")
	var check func(e ast.Expr)
	check = func(e ast.Expr) {
		switch b := e.(type) {
		case *ast.Binary:
			xs, _ := b.X.Span()
			_, ye := b.Y.Span()
			if b.Start != xs || b.End != ye {
				t.Errorf("%s: extent [%d,%d), operands span [%d,%d)", parenthesize(b), b.Start, b.End, xs, ye)
			}
			if src[b.OpPos:b.OpPos+len(b.Op)] != b.Op {
				t.Errorf("%s: OpPos %d holds %q", parenthesize(b), b.OpPos, src[b.OpPos:])
			}
			check(b.X)
			check(b.Y)
		case *ast.Unary:
			if src[b.Start:b.Start+1] != b.Op {
				t.Errorf("unary %s starts at %q", b.Op, src[b.Start:])
			}
			check(b.X)
		}
	}
	check(e)
	if s, end := e.Span(); src[s:end] != "-a + b * (c) || d" {
		t.Errorf("expression spans %q", src[s:end])
	}
}

// TestChainLimit checks E113: each precedence level of one expression
// chains at most MaxChain operators; the rest of that level is cut and
// reported at the first operator too many.
func TestChainLimit(t *testing.T) {
	chain := func(n int, op, operand string) string {
		var b strings.Builder
		b.WriteString(operand)
		for i := 0; i < n; i++ {
			b.WriteString(" " + op + " " + operand)
		}
		return b.String()
	}
	count := func(e ast.Expr, op string) int {
		n := 0
		for {
			b, ok := e.(*ast.Binary)
			if !ok || b.Op != op {
				return n
			}
			n++
			e = b.X
		}
	}
	for _, tt := range []struct {
		name    string
		expr    string
		op      string
		wantOps int
		errAt   int // index of the operator reported, or -1
	}{
		{"at the limit", chain(MaxChain, "+", "1"), "+", MaxChain, -1},
		{"one over", chain(MaxChain+1, "+", "1"), "+", MaxChain, MaxChain},
		{"far over", chain(MaxChain+50, "||", "x"), "||", MaxChain, MaxChain},
		// Tighter operators inside each operand do not count.
		{"mixed levels", chain(MaxChain, "+", "2 * 3"), "+", MaxChain, -1},
		// A longer chain of a tighter level is cut where it is; the
		// looser level around it goes on.
		{"inner level", "0 + " + chain(MaxChain+1, "*", "2") + " + 9", "+", 2, MaxChain},
	} {
		a, src, ds := attr(t, tt.expr)
		e := a.Value
		// The attribute spans all of its text, even when its tree is cut.
		if got := src[a.Start:a.End]; got != "a = "+tt.expr {
			t.Errorf("%s: attribute spans %d bytes, want %d", tt.name, len(got), len("a = "+tt.expr))
		}
		var e113 []*diag.Diagnostic
		for _, d := range ds {
			if d.Code == "E113" {
				e113 = append(e113, d)
			} else {
				t.Errorf("%s: unexpected %s: %s", tt.name, d.Code, d.Summary)
			}
		}
		if got := count(e, tt.op); got != tt.wantOps {
			t.Errorf("%s: %d %q operators in the tree, want %d", tt.name, got, tt.op, tt.wantOps)
		}
		if tt.errAt < 0 {
			if len(e113) > 0 {
				t.Errorf("%s: %v", tt.name, e113)
			}
			continue
		}
		if len(e113) != 1 {
			t.Fatalf("%s: want one E113, got %v", tt.name, e113)
		}
		// The reported operator is the (errAt+1)-th of the cut level.
		off := e113[0].Subject.Start.Byte
		level := tt.op
		if tt.name == "inner level" {
			level = "*"
		}
		n := strings.Count(src[:off], " "+level+" ")
		if n != tt.errAt || src[off:off+len(level)] != level {
			t.Errorf("%s: E113 at byte %d (%q), after %d %q operators; want after %d", tt.name, off, src[off:min(off+5, len(src))], n, level, tt.errAt)
		}
	}
}
