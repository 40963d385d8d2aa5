package stdlib

import (
	"math"
	"strconv"
	"strings"
)

// Unit is one unit a quantity may carry: its spelling, the type kind it
// makes (TypeSize, TypePercent, TypeDuration or TypeCount) and its factor to
// the class's base unit (bytes, percent points, seconds, or 1 for counts,
// whose unit is kept by name).
type Unit struct {
	Name   string
	Class  TypeKind
	Factor float64
	// Canonical is the plural spelling of count units ("step" → "steps");
	// other units are their own canonical form.
	Canonical string
	Doc       string
}

// Units returns every unit of the language, in the order the spec lists
// them.
func Units() []Unit {
	return []Unit{
		{Name: "B", Class: TypeSize, Factor: 1, Doc: "bytes"},
		{Name: "KB", Class: TypeSize, Factor: 1e3, Doc: "kilobytes (10^3 bytes)"},
		{Name: "MB", Class: TypeSize, Factor: 1e6, Doc: "megabytes (10^6 bytes)"},
		{Name: "GB", Class: TypeSize, Factor: 1e9, Doc: "gigabytes (10^9 bytes)"},
		{Name: "TB", Class: TypeSize, Factor: 1e12, Doc: "terabytes (10^12 bytes)"},
		{Name: "KiB", Class: TypeSize, Factor: 1 << 10, Doc: "kibibytes (2^10 bytes)"},
		{Name: "MiB", Class: TypeSize, Factor: 1 << 20, Doc: "mebibytes (2^20 bytes)"},
		{Name: "GiB", Class: TypeSize, Factor: 1 << 30, Doc: "gibibytes (2^30 bytes)"},
		{Name: "TiB", Class: TypeSize, Factor: 1 << 40, Doc: "tebibytes (2^40 bytes)"},
		{Name: "%", Class: TypePercent, Factor: 1, Doc: "percent"},
		{Name: "ms", Class: TypeDuration, Factor: 1e-3, Doc: "milliseconds"},
		{Name: "s", Class: TypeDuration, Factor: 1, Doc: "seconds"},
		{Name: "m", Class: TypeDuration, Factor: 60, Doc: "minutes"},
		{Name: "h", Class: TypeDuration, Factor: 3600, Doc: "hours"},
		{Name: "steps", Class: TypeCount, Factor: 1, Canonical: "steps", Doc: "optimizer steps"},
		{Name: "step", Class: TypeCount, Factor: 1, Canonical: "steps", Doc: "optimizer steps (singular spelling)"},
		{Name: "epochs", Class: TypeCount, Factor: 1, Canonical: "epochs", Doc: "passes over the training data"},
		{Name: "epoch", Class: TypeCount, Factor: 1, Canonical: "epochs", Doc: "passes over the training data (singular spelling)"},
		{Name: "tokens", Class: TypeCount, Factor: 1, Canonical: "tokens", Doc: "tokens"},
		{Name: "token", Class: TypeCount, Factor: 1, Canonical: "tokens", Doc: "tokens (singular spelling)"},
	}
}

// LookupUnit returns the unit spelled name (case-sensitively: "m" is
// minutes, "M" is nothing).
func LookupUnit(name string) (Unit, bool) {
	for _, u := range Units() {
		if u.Name == name {
			if u.Canonical == "" {
				u.Canonical = u.Name
			}
			return u, true
		}
	}
	return Unit{}, false
}

// UnitNames returns every unit spelling, for did-you-mean.
func UnitNames() []string {
	us := Units()
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Name
	}
	return out
}

// ClassName names a quantity class for messages: "size", "percentage",
// "duration", "count".
func ClassName(k TypeKind) string {
	switch k {
	case TypeSize:
		return "size"
	case TypePercent:
		return "percentage"
	case TypeDuration:
		return "duration"
	case TypeCount:
		return "count"
	}
	return k.String()
}

// String names the type kind.
func (k TypeKind) String() string {
	return Type{Kind: k}.String()
}

// Quantity is a number with a unit, as written: 24GiB, 5%, 500 steps.
type Quantity struct {
	Value float64 // as written
	Unit  string  // as written
}

// Base returns the quantity in its class's base unit (bytes, percent,
// seconds, or the count itself) and the unit it was written in.
func (q Quantity) Base() (float64, Unit, bool) {
	u, ok := LookupUnit(q.Unit)
	if !ok {
		return 0, Unit{}, false
	}
	return q.Value * u.Factor, u, true
}

// ParseQuantity parses "24GiB", "5%", "500 steps" or "3 %" (spaces and
// tabs allowed between number and unit, `_` separators in the number). It
// is used for schema defaults and `-var` values; .whisper files are parsed
// by lang/parser.
func ParseQuantity(s string) (Quantity, bool) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' || s[i] == '_' || s[i] == 'e' || s[i] == 'E' ||
		((s[i] == '-' || s[i] == '+') && (i == 0 || s[i-1] == 'e' || s[i-1] == 'E'))) {
		// Stop at an 'e' that starts a unit rather than an exponent.
		if (s[i] == 'e' || s[i] == 'E') && (i+1 >= len(s) || !(s[i+1] >= '0' && s[i+1] <= '9' || s[i+1] == '-' || s[i+1] == '+')) {
			break
		}
		i++
	}
	num, unit := s[:i], strings.TrimLeft(s[i:], " \t")
	if num == "" || unit == "" {
		return Quantity{}, false
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(num, "_", ""), 64)
	if err != nil {
		return Quantity{}, false
	}
	if _, ok := LookupUnit(unit); !ok {
		return Quantity{}, false
	}
	return Quantity{Value: v, Unit: unit}, true
}

// String renders the quantity as the formatter would: "24GiB", "5%",
// "500 steps" (word units get a space).
func (q Quantity) String() string {
	n := formatNumber(q.Value)
	if u, ok := LookupUnit(q.Unit); ok && u.Class == TypeCount {
		return n + " " + q.Unit
	}
	return n + q.Unit
}

// formatNumber renders a float without exponent noise: 0.05, 2e-04 stays
// short, 16 has no decimals.
func formatNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// FormatNumber renders a number as the spec and diagnostics show it.
func FormatNumber(v float64) string { return formatNumber(v) }
