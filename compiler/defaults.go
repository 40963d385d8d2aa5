package compiler

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/modelwhisperer/whisperc/stdlib"
)

// parseDefault reads a schema default, written as .whisper source: a
// number, quantity, boolean, quoted string, identifier or a list of them.
// Schema defaults are tested to parse (defaults_test.go), so a failure
// here is a bug in stdlib and yields ok false.
func parseDefault(s string) (val, bool) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return val{}, false
	case s == "true" || s == "false":
		return val{kind: vBool, b: s == "true"}, true
	case strings.HasPrefix(s, `"`):
		u, err := strconv.Unquote(s)
		return val{kind: vString, s: u}, err == nil
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		v := val{kind: vList}
		inner := strings.TrimSpace(s[1 : len(s)-1])
		if inner == "" {
			return v, true
		}
		for _, part := range strings.Split(inner, ",") {
			e, ok := parseDefault(part)
			if !ok {
				return val{}, false
			}
			v.elems = append(v.elems, e)
		}
		return v, true
	}
	if q, ok := stdlib.ParseQuantity(s); ok {
		u, _ := stdlib.LookupUnit(q.Unit)
		return val{kind: vQuantity, n: q.Value, unit: u, isInt: q.Value == float64(int64(q.Value))}, true
	}
	if n, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64); err == nil {
		return val{kind: vNumber, n: n, isInt: !strings.ContainsAny(s, ".eE")}, true
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return val{}, false
		}
	}
	return val{kind: vIdent, s: s}, true
}

// get returns the attribute's checked value, or its schema default, or
// the zero val when it has neither.
func (b *body) get(name string) val {
	if v, ok := b.vals[name]; ok {
		return v
	}
	if b.schema == nil {
		return val{}
	}
	if a, ok := b.schema.Attr(name); ok && a.Default != "" {
		if v, ok := parseDefault(a.Default); ok {
			return v
		}
	}
	return val{}
}

func (b *body) str(name string) string { return b.get(name).s }

func (b *body) num(name string) float64 {
	v := b.get(name)
	if v.kind == vNumber {
		return v.n
	}
	return 0
}

func (b *body) integer(name string) int {
	v := b.get(name)
	if v.kind == vNumber && v.n >= -1<<62 && v.n <= 1<<62 {
		return int(v.n)
	}
	return 0
}

func (b *body) boolean(name string) bool { return b.get(name).b }

// enum returns the identifier of an enum attribute ("" when unset).
func (b *body) enum(name string) string {
	v := b.get(name)
	if v.kind == vIdent {
		return v.s
	}
	return ""
}

// resolvePath resolves p against the directory of the declaring file.
func resolvePath(file, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(file), p)
}
