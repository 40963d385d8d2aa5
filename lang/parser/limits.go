package parser

import (
	"fmt"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
)

// full reports whether the file has used its budget of diag.MaxPerFile
// diagnostics, so that the parser stops reporting (and parsing) there.
func (p *parser) full() bool {
	return p.preDiags+len(p.diags)+len(p.conv.diags) >= diag.MaxPerFile
}

// stop records that the parser stops at token i, and says so in an E115
// diagnostic there. The rest of the file is not parsed, so later phases
// must not take its absence for the user's intent (see GaveUp).
func (p *parser) stop(i int) {
	if p.stopped >= 0 {
		return
	}
	p.stopped = i
	off := len(p.f.Src)
	if i < len(p.toks) {
		off = p.start(i)
	}
	p.diags = p.diags.Append(gaveUp(p.f.Range(off, off)))
}

// GaveUpSummary is the summary of the E115 diagnostic Parse reports when
// it stops early; GaveUp finds it.
const GaveUpSummary = "Too many errors: stopped here"

func gaveUp(r source.Range) *diag.Diagnostic {
	return diag.Errorf(r, diag.TooManyCode, GaveUpSummary,
		fmt.Sprintf("This file has more than %d problems, so whisperc stopped reading it here; the rest of the file "+
			"was not checked. Fix the problems above (or check that this is the file you meant) and check again.", diag.MaxPerFile))
}

// GaveUp reports whether ds holds the diagnostic of a Parse that stopped
// early: the tree is then only the file's beginning.
func GaveUp(ds diag.Diagnostics) bool {
	for _, d := range ds {
		if d.Code == diag.TooManyCode && d.Summary == GaveUpSummary {
			return true
		}
	}
	return false
}

// binaryOps are the tokens that can join two operands.
var binaryOps = map[string]bool{"||": true, "&&": true, "==": true, "!=": true, "<": true, "<=": true,
	">": true, ">=": true, "+": true, "-": true, "*": true, "/": true}

// limitExpressions cuts every expression that holds more than MaxOperators
// binary operators at one bracket depth, before participle sees it: a
// chain of a million `+` would otherwise cost participle gigabytes before
// the converter's per-level limit (MaxChain) applies. The cut tokens (the
// rest of the chain, up to the next `,`, `=`, bracket or item at that
// depth) are dropped and the cut is reported as E113 at the first operator
// too many.
func limitExpressions(f *source.File, toks []lexer.Token) ([]lexer.Token, []exprCut) {
	var cuts []exprCut
	// count[d] is the number of operators of the chain open at depth d,
	// which starts at byte from[d].
	count, from := []int{0}, []int{0}
	operand := []bool{false} // whether the previous token at depth d ended an operand
	// out is nil until the first cut: most files are kept as they are.
	var out []lexer.Token
	cutting, cutDepth := false, 0
	for i, t := range toks {
		d := len(count) - 1
		if cutting {
			switch {
			case isOpener(t):
				count, from = append(count, 0), append(from, t.Pos.Offset)
				operand = append(operand, false)
				continue
			case isCloser(t) && d > cutDepth:
				count, from, operand = count[:d], from[:d], operand[:d]
				continue
			case isCloser(t), d == cutDepth && t.Type == tokPunct && (t.Value == "," || t.Value == "="):
				cutting = false
			case t.Type != tokPunct && operand[d] && d == cutDepth:
				// Two operands in a row: a new item starts.
				cutting = false
			default:
				operand[d] = t.Type != tokPunct
				continue
			}
		}
		switch {
		case isOpener(t):
			operand[d] = false
			count, from = append(count, 0), append(from, t.Pos.Offset)
			operand = append(operand, false)
		case isCloser(t):
			if d > 0 {
				count, from, operand = count[:d], from[:d], operand[:d]
				d--
			}
			operand[d] = true
		case t.Type == tokPunct && binaryOps[t.Value]:
			if operand[d] {
				count[d]++
				if count[d] > MaxOperators {
					off := t.Pos.Offset
					cuts = append(cuts, exprCut{from: from[d], d: diag.Errorf(f.Range(off, off+len(t.Value)), "E113", "Expression too long",
						fmt.Sprintf("One expression may hold at most %d binary operators (and chain at most %d of one precedence). "+
							"Split it, or move parts of it into variables.", MaxOperators, MaxChain))})
					cutting, cutDepth = true, d
					operand[d] = false
					if out == nil {
						out = append(make([]lexer.Token, 0, i+1024), toks[:i]...)
					}
					continue
				}
			}
			operand[d] = false
		case t.Type == tokPunct && (t.Value == "." || t.Value == "!"):
			// Inside an operand (var.lr) or before one (!x).
			operand[d] = false
		case t.Type == tokPunct:
			count[d], from[d], operand[d] = 0, t.Pos.Offset, false
		default:
			if operand[d] {
				count[d], from[d] = 0, t.Pos.Offset // two operands in a row: a new item
			}
			operand[d] = true
		}
		if out != nil {
			out = appendToken(out, t)
		}
	}
	if out == nil {
		return toks, cuts
	}
	return out, cuts
}

// exprCut is an expression limitExpressions cut: the diagnostic, and the
// offset where the expression (its chain at the cut's depth) starts.
type exprCut struct {
	from int
	d    *diag.Diagnostic
}

// cutDiagnostics returns the E113 of each cut, unless the converter
// already reported an E113 (MaxChain) in the same expression before it:
// one long expression gets one diagnostic.
func cutDiagnostics(cuts []exprCut, conv diag.Diagnostics) diag.Diagnostics {
	var ds diag.Diagnostics
	for _, c := range cuts {
		dup := false
		for _, d := range conv {
			if d.Code == "E113" && d.Subject != nil && c.from <= d.Subject.Start.Byte && d.Subject.Start.Byte < c.d.Subject.Start.Byte {
				dup = true
				break
			}
		}
		if !dup {
			ds = ds.Append(c.d)
		}
	}
	return ds
}
