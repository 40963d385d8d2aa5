// Package stdlib is the one definition of the .whisper language's
// vocabulary: every block kind, attribute, type, enum value, default,
// documentation string and citation, every diagnostic code with its
// explanation, and the built-in hardware target profiles. The checker, the
// formatter, `whisperc explain`, the generated spec tables and the language
// server all read it from here.
package stdlib

import (
	"slices"
	"strings"
)

// Citation is a published source for a rule or a default.
type Citation struct {
	Title string // "QLoRA: Efficient Finetuning of Quantized LLMs"
	Ref   string // "arXiv:2305.14314"
	URL   string
}

// String renders the citation as "Title (Ref)".
func (c Citation) String() string {
	if c.Ref == "" {
		return c.Title
	}
	return c.Title + " (" + c.Ref + ")"
}

// Code documents one stable diagnostic code: what it means, why, and how to
// fix it, with an example that triggers it. `whisperc explain CODE` prints
// it and spec/diagnostics.md is generated from it.
type Code struct {
	ID        string // "E101", "ML003"
	Title     string // short, lower case
	Phase     string // "syntax", "check", "rule", "plan", "run"
	Explain   string // paragraphs: what, why, how to fix
	Example   string // a .whisper snippet that triggers it, when one exists
	Citations []Citation
}

// Codes returns every documented diagnostic code, sorted by ID. Each phase
// keeps its codes in its own file of this package (codes_*.go).
func Codes() []Code {
	var all []Code
	for _, group := range [][]Code{syntaxCodes, checkCodes, ruleCodes, planCodes, runCodes} {
		all = append(all, group...)
	}
	slices.SortFunc(all, func(a, b Code) int { return strings.Compare(a.ID, b.ID) })
	return all
}

// LookupCode returns the code with the given ID, case-insensitively.
func LookupCode(id string) (Code, bool) {
	for _, c := range Codes() {
		if strings.EqualFold(c.ID, id) {
			return c, true
		}
	}
	return Code{}, false
}
