package parser

import (
	"errors"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/modelwhisperer/whisperc/lang/diag"
)

// reportBrackets reports every unmatched closing bracket (E112) and every
// unclosed opening one (E111). An unclosed bracket's subject is where its
// closer was expected; a note points at the bracket itself.
func (p *parser) reportBrackets() {
	for i, m := range p.match {
		if m >= 0 {
			continue
		}
		if p.full() {
			p.stop(i)
			return
		}
		t := p.tok(i)
		switch {
		case isCloser(t):
			p.diags = p.diags.Append(diag.Errorf(p.f.Range(p.start(i), p.end(i)), "E112", "Unmatched `"+t.Value+"`",
				"This `"+t.Value+"` closes nothing: every bracket before it is already closed. Remove it, or add the opening bracket it was meant to close."))
		case isOpener(t):
			closer := closerOf(t.Value)
			var at int
			switch {
			case p.closedBy[i] >= 0 && t.Value == "{":
				at = p.unclosedBlockEnd(i, p.closedBy[i])
			case p.closedBy[i] >= 0:
				at = min(p.unclosedEnd(i), p.closedBy[i])
			case t.Value == "{":
				at = p.nextDeclaration(i + 1)
			default:
				at = p.unclosedEnd(i)
			}
			where := "the end of the file"
			if at < len(p.toks) {
				where = quoteTok(p.tok(at)) + " at " + p.f.Pos(p.start(at)).String()
			}
			// The closer belongs right after the last token before at.
			off := p.end(max(at-1, i))
			d := diag.Errorf(p.f.Range(off, off), "E111", "Unclosed `"+t.Value+"`",
				"The `"+t.Value+"` at "+p.f.Pos(p.start(i)).String()+" is never closed: "+where+" comes first. Add the missing `"+closer+"` here.")
			d.Notes = []diag.Note{{Range: p.f.Range(p.start(i), p.end(i)), Message: "the unclosed `" + t.Value + "` opens here"}}
			p.diags = p.diags.Append(d)
		}
	}
}

// unclosedEnd returns where an unclosed `[` or `(` at i should have been
// closed: before the first token after it that starts a new item on a new
// line, or before the closer of an enclosing bracket.
func (p *parser) unclosedEnd(i int) int {
	for k := i + 1; k < len(p.toks); k++ {
		t := p.tok(k)
		if isCloser(t) {
			return k
		}
		if p.firstOnLine(k) && p.startsItem(k, len(p.toks)) {
			return k
		}
		if isOpener(t) && p.match[k] > k {
			k = p.match[k]
		}
	}
	return len(p.toks)
}

// syntaxError turns participle's error for significant tokens [a, b) into
// an E110 diagnostic: "Unexpected X" with what was expected after the
// previous token and how to fix it.
func (p *parser) syntaxError(err error, a, b int) *diag.Diagnostic {
	var perr participle.Error
	if !errors.As(err, &perr) {
		off := 0
		if a < len(p.toks) {
			off = p.start(a)
		}
		return internalError(p.f, off, err.Error())
	}
	off := perr.Position().Offset
	var ut *participle.UnexpectedTokenError
	var tok *lexer.Token
	if errors.As(err, &ut) {
		off = ut.Unexpected.Pos.Offset
		if !ut.Unexpected.EOF() {
			t := ut.Unexpected
			tok = &t
		}
	}
	// The piece's EOF stands for whatever follows it in the file.
	idx := p.sigAt(off)
	if tok == nil && idx < len(p.toks) && idx >= b {
		t := p.tok(idx)
		tok = &t
	}
	start, end := off, off
	if tok != nil {
		start, end = tok.Pos.Offset, tok.Pos.Offset+len(tok.Value)
	}
	prev := idx - 1
	if tok == nil {
		prev = p.sigAt(off) - 1
	}
	expected := expectedFrom(perr.Message())
	if p.isIdent(a) && (idx == a+1 || idx == a+2 && p.isIdent(a+1)) && !p.is(idx, "{") && !p.is(idx, "=") {
		// `rank 16`, `model base extra {`: the header of an attribute or
		// a block went wrong right after its name.
		expected = "`=` or `{`"
		switch {
		case idx == a+2:
			expected = "`{`"
		case p.depth[a] == 0:
			expected = "a name or `{`"
		}
	}
	summary := "Unexpected " + describe(tok)
	var detail strings.Builder
	if expected != "" {
		detail.WriteString("Expected " + expected)
		if prev >= 0 && prev < len(p.toks) {
			detail.WriteString(" after " + quoteTok(p.tok(prev)))
		}
		detail.WriteString(". ")
	}
	detail.WriteString(p.hint(tok, prev, expected))
	d := diag.Errorf(p.f.Range(start, end), "E110", summary, detail.String())
	return d
}

// sigAt returns the index of the first significant token starting at or
// after byte offset off.
func (p *parser) sigAt(off int) int { return tokenAtOffset(p.toks, off) }

// expectedNames says in words what a grammar production or token type
// stands for in "Expected ..." messages.
var expectedNames = map[string]string{
	"ident": "a name", "Ident": "a name",
	"string": "a string", "String": "a string", "StringLit": "a string",
	"number": "a number", "Number": "a number",
	"quantity": "a quantity", "Quantity": "a quantity",
	"Body": "`{`", "Block": "a block", "Item": "a block or `import`", "ImportDecl": "`import`",
	"BodyItem": "an attribute or a nested block", "Attribute": "`name = value`",
	"EOF": "end of file",
}

// expectedFrom extracts and rewrites the "(expected ...)" part of
// participle's message: `"=" | "{"` becomes "`=` or `{`".
func expectedFrom(msg string) string {
	i := strings.Index(msg, "(expected ")
	if i < 0 || !strings.HasSuffix(msg, ")") {
		return ""
	}
	inner := msg[i+len("(expected ") : len(msg)-1]
	var alts []string
	for _, alt := range strings.Split(inner, "|") {
		alt = strings.TrimSpace(alt)
		switch {
		case alt == "":
			continue
		case strings.HasPrefix(alt, `"`) && strings.HasSuffix(alt, `"`) && len(alt) >= 2:
			alt = "`" + alt[1:len(alt)-1] + "`"
		default:
			alt = expectedNames[strings.Trim(alt, "<>")]
			if alt == "" {
				alt = "a value"
			}
		}
		if !contains(alts, alt) {
			alts = append(alts, alt)
		}
	}
	switch len(alts) {
	case 0:
		return ""
	case 1:
		return alts[0]
	}
	return strings.Join(alts[:len(alts)-1], ", ") + " or " + alts[len(alts)-1]
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// describe names a token for a summary: "`}`", "identifier `rank`",
// "number `16`", "end of file".
func describe(t *lexer.Token) string {
	if t == nil {
		return "end of file"
	}
	switch t.Type {
	case tokIdent:
		return "identifier `" + t.Value + "`"
	case tokNumber:
		return "number `" + t.Value + "`"
	case tokQuantity:
		return "quantity `" + t.Value + "`"
	case tokString:
		return "string " + shorten(t.Value)
	}
	return "`" + t.Value + "`"
}

// quoteTok quotes a token's text for a detail: "`rank`".
func quoteTok(t lexer.Token) string {
	if t.Type == tokString {
		return shorten(t.Value)
	}
	return "`" + t.Value + "`"
}

func shorten(s string) string {
	if len(s) > 30 {
		cut := 27
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		return s[:cut] + "..."
	}
	return s
}

// hint returns the closing sentence of a syntax error's detail: how to fix
// the most likely mistake.
func (p *parser) hint(tok *lexer.Token, prev int, expected string) string {
	prevTok := func(v string) bool { return prev >= 0 && prev < len(p.toks) && p.is(prev, v) }
	switch {
	case tok != nil && tok.Value == "=" && prev >= 0 && prev < len(p.toks) && p.isIdent(prev) && strings.Contains(expected, "{"):
		return "Attributes belong inside a block: write `kind name { " + p.tok(prev).Value + " = value }`."
	case tok != nil && tok.Type == tokString && p.isIdent(prev) && !p.is(prev, "import") && p.depth[prev] == 0:
		return "Block names are bare identifiers, without quotes: `" + p.tok(prev).Value + " name { ... }`."
	case prev >= 0 && prev < len(p.toks) && p.isIdent(prev) && strings.Contains(expected, "`=`"):
		name := p.tok(prev).Value
		return "Write `" + name + " = value` for an attribute, or `" + name + " { ... }` for a nested block."
	case prevTok("="):
		return "Write a value after `=`: a number, string, name, list or call."
	case strings.Contains(expected, "`]`"):
		return "Separate list elements with commas and close the list with `]`."
	case strings.Contains(expected, "`)`"):
		return "Separate arguments with commas and close the call with `)`."
	}
	return "Check for a missing `=`, comma, bracket or value before it."
}
