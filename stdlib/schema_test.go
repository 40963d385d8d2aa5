package stdlib

import (
	"github.com/modelwhisperer/whisperc/lang/parser"
	"strings"
	"testing"
)

// walkBlocks calls fn for every block kind, nested ones included.
func walkBlocks(bs []Block, path string, fn func(path string, b *Block)) {
	for i := range bs {
		p := bs[i].Kind
		if path != "" {
			p = path + "." + p
		}
		fn(p, &bs[i])
		walkBlocks(bs[i].Nested, p, fn)
	}
}

// checkType reports types with an invalid kind or missing parts.
func checkType(t *testing.T, where string, ty Type) {
	t.Helper()
	switch ty.Kind {
	case TypeInvalid:
		t.Errorf("%s: invalid (zero) type", where)
	case TypeEnum:
		if len(ty.Values) == 0 {
			t.Errorf("%s: enum without values", where)
		}
		seen := map[string]bool{}
		for _, v := range ty.Values {
			if seen[v.Name] {
				t.Errorf("%s: enum value %s twice", where, v.Name)
			}
			seen[v.Name] = true
			if !strings.HasSuffix(v.Doc, ".") {
				t.Errorf("%s: enum value %s needs a sentence of doc", where, v.Name)
			}
		}
	case TypeList:
		if ty.Elem == nil {
			t.Errorf("%s: list without element type", where)
		} else {
			checkType(t, where+"[]", *ty.Elem)
		}
	case TypeRef:
		for _, k := range ty.Kinds {
			if _, ok := LookupBlock(k); !ok {
				t.Errorf("%s: reference to unknown kind %s", where, k)
			}
		}
	case TypeCall:
		if ty.Call == nil || ty.Call.Name == "" {
			t.Errorf("%s: call form without a name", where)
		}
	case TypeConstraint:
		if len(ty.Props) == 0 {
			t.Errorf("%s: constraint without properties", where)
		}
	case TypeOneOf:
		for _, a := range ty.Alts {
			checkType(t, where, a)
		}
	}
}

func TestSchemaWellFormed(t *testing.T) {
	kinds := map[string]bool{}
	walkBlocks(Blocks(), "", func(path string, b *Block) {
		if !strings.Contains(path, ".") {
			if kinds[b.Kind] {
				t.Errorf("block kind %s defined twice", b.Kind)
			}
			kinds[b.Kind] = true
		}
		if b.Name == NameInvalid {
			t.Errorf("%s: name rule not set", path)
		}
		if !strings.HasSuffix(b.Doc, ".") {
			t.Errorf("%s: doc should be full sentences", path)
		}
		for _, r := range b.Rules {
			if _, ok := LookupCode(r); !ok {
				t.Errorf("%s: rule %s is not documented", path, r)
			}
		}
		seen := map[string]bool{}
		for _, a := range b.Attrs {
			where := path + "." + a.Name
			if seen[a.Name] {
				t.Errorf("%s: attribute defined twice", where)
			}
			seen[a.Name] = true
			checkType(t, where, a.Type)
			if !strings.HasSuffix(a.Doc, ".") {
				t.Errorf("%s: doc should be a sentence", where)
			}
			if a.Required && a.Default != "" {
				t.Errorf("%s: required and defaulted", where)
			}
			if a.Default != "" && a.DefaultWhy == "" {
				t.Errorf("%s: default %s needs a reason", where, a.Default)
			}
			if a.Rule != "" {
				if _, ok := LookupCode(a.Rule); !ok {
					t.Errorf("%s: rule %s is not documented", where, a.Rule)
				}
			}
			if a.Type.Kind == TypeEnum && a.Default != "" {
				if _, ok := a.Type.Enum(a.Default); !ok {
					t.Errorf("%s: default %s is not one of %v", where, a.Default, a.Type.EnumNames())
				}
			}
		}
	})
	for _, k := range []string{"pipeline", "variable", "import", "model", "dataset", "finetune", "generate", "serve", "track", "version", "export", "target"} {
		if !kinds[k] {
			t.Errorf("block kind %s missing", k)
		}
	}
}

func TestParseQuantity(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Quantity
		ok   bool
	}{
		{"24GiB", Quantity{24, "GiB"}, true},
		{"5%", Quantity{5, "%"}, true},
		{"500 steps", Quantity{500, "steps"}, true},
		{"1_000\ttokens", Quantity{1000, "tokens"}, true},
		{"3epochs", Quantity{3, "epochs"}, true},
		{"1e3 steps", Quantity{1000, "steps"}, true},
		{"2e-4", Quantity{}, false},
		{"24 gib", Quantity{}, false},
		{"GiB", Quantity{}, false},
		{"", Quantity{}, false},
	} {
		got, ok := ParseQuantity(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseQuantity(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if b, u, _ := (Quantity{2, "GiB"}).Base(); b != 2<<30 || u.Class != TypeSize {
		t.Errorf("2GiB base = %v %v", b, u)
	}
	if s := (Quantity{500, "step"}).String(); s != "500 step" {
		t.Errorf("String = %q", s)
	}
}

func TestBounds(t *testing.T) {
	b := &Bounds{Min: 0, Max: 1, HasMin: true, HasMax: true, MaxOpen: true}
	if !b.Contains(0) || b.Contains(1) || b.Contains(-0.1) || !b.Contains(0.5) {
		t.Errorf("%s wrong", b)
	}
	if b.String() != "[0, 1)" {
		t.Errorf("String = %s", b)
	}
	var nb *Bounds
	if !nb.Contains(1e300) {
		t.Error("nil bounds should contain everything")
	}
}

func TestTypeDescribe(t *testing.T) {
	b, _ := LookupBlock("finetune")
	a, _ := b.Attr("checkpointing")
	if got := a.Type.String(); got != "none | full | selective | every(int)" {
		t.Errorf("String = %q", got)
	}
	if got := tList(tSize()).Describe(); got != "a list of sizes such as 24GiB" {
		t.Errorf("Describe = %q", got)
	}
}

// TestUnitsMatchParser keeps the units the lexer accepts and the units
// stdlib documents in step (lang cannot import stdlib, so both list them).
func TestUnitsMatchParser(t *testing.T) {
	if got, want := strings.Join(UnitNames(), " "), strings.Join(parser.UnitNames(), " "); got != want {
		t.Errorf("stdlib units %q, parser units %q", got, want)
	}
}
