package parser

import "slices"

// units lists every unit a quantity may carry, as the lexer recognises
// them. stdlib.Units documents each one with its class and factor; the two
// lists must agree (lang may not import stdlib, so the spelling lives here
// too).
var units = []string{
	"B", "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB",
	"%",
	"ms", "s", "m", "h",
	"steps", "step", "epochs", "epoch", "tokens", "token",
}

// UnitNames returns every unit spelling the parser accepts after a number,
// in the order the language reference lists them.
func UnitNames() []string { return slices.Clone(units) }

// isUnit reports whether name is a unit spelling (case-sensitively: "m" is
// minutes, "M" is nothing).
func isUnit(name string) bool { return slices.Contains(units, name) }

// suggestUnits are the units offered by "did you mean": the canonical
// spellings, without the singular forms of count units.
var suggestUnits = []string{
	"B", "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB",
	"%",
	"ms", "s", "m", "h",
	"steps", "epochs", "tokens",
}
