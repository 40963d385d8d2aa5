package stdlib

import (
	"strings"
)

// NameRule says whether a block kind takes a name after its kind keyword.
// The zero value is invalid.
type NameRule int

// The name rules.
const (
	NameInvalid NameRule = iota
	// NameRequired blocks must be named: `model base { ... }`.
	NameRequired
	// NameOptional blocks may be named; singleton kinds use it so that
	// `track { ... }` works.
	NameOptional
	// NameForbidden blocks never take a name (nested settings blocks such
	// as `quantize`).
	NameForbidden
)

// String returns "required", "optional" or "forbidden".
func (r NameRule) String() string {
	switch r {
	case NameRequired:
		return "required"
	case NameOptional:
		return "optional"
	case NameForbidden:
		return "forbidden"
	}
	return "invalid"
}

// Block describes one block kind: its documentation, whether it is named,
// which attributes and nested blocks it accepts, and the rules that govern
// it.
type Block struct {
	Kind string
	Doc  string
	Name NameRule
	// Singleton kinds may appear at most once in a program.
	Singleton bool
	// Stage is true for kinds that do work when the pipeline runs
	// (finetune, generate, serve, export) and so appear in the stage order.
	Stage     bool
	Attrs     []Attr
	Nested    []Block
	Citations []Citation
	// Rules lists the ML rule codes that inspect this kind.
	Rules []string
}

// Attr returns the attribute called name and whether it exists.
func (b *Block) Attr(name string) (*Attr, bool) {
	for i := range b.Attrs {
		if b.Attrs[i].Name == name {
			return &b.Attrs[i], true
		}
	}
	return nil, false
}

// NestedBlock returns the nested block kind called kind and whether it
// exists.
func (b *Block) NestedBlock(kind string) (*Block, bool) {
	for i := range b.Nested {
		if b.Nested[i].Kind == kind {
			return &b.Nested[i], true
		}
	}
	return nil, false
}

// AttrNames returns the names of the block's attributes, in schema order.
func (b *Block) AttrNames() []string {
	out := make([]string, len(b.Attrs))
	for i, a := range b.Attrs {
		out[i] = a.Name
	}
	return out
}

// NestedKinds returns the kinds of the block's nested blocks.
func (b *Block) NestedKinds() []string {
	out := make([]string, len(b.Nested))
	for i, n := range b.Nested {
		out[i] = n.Kind
	}
	return out
}

// Attr describes one attribute of a block.
type Attr struct {
	Name     string
	Type     Type
	Required bool
	// Default is the value used when the attribute is absent, written as
	// .whisper source ("true", "cosine", "3%"); "" means there is none.
	Default string
	// DefaultWhy says why the default is the sane choice.
	DefaultWhy string
	// Bounds limits numbers and quantities (in the unit class's base unit:
	// bytes, seconds, percent points, counts); nil means unbounded.
	Bounds    *Bounds
	Doc       string
	Citations []Citation
	// Rule is the ML rule code that concerns this attribute, if any.
	Rule string
}

// Bounds is an inclusive numeric interval, optionally open at either end.
type Bounds struct {
	Min, Max         float64
	HasMin, HasMax   bool
	MinOpen, MaxOpen bool // exclude the end point
}

// Contains reports whether v lies within the bounds.
func (b *Bounds) Contains(v float64) bool {
	if b == nil {
		return true
	}
	if b.HasMin && (v < b.Min || (b.MinOpen && v == b.Min)) {
		return false
	}
	if b.HasMax && (v > b.Max || (b.MaxOpen && v == b.Max)) {
		return false
	}
	return true
}

// String renders the interval as "[0, 1]", "(0, ∞)" and the like.
func (b *Bounds) String() string {
	if b == nil {
		return "(-∞, ∞)"
	}
	var s strings.Builder
	if b.HasMin && !b.MinOpen {
		s.WriteString("[")
	} else {
		s.WriteString("(")
	}
	if b.HasMin {
		s.WriteString(formatNumber(b.Min))
	} else {
		s.WriteString("-∞")
	}
	s.WriteString(", ")
	if b.HasMax {
		s.WriteString(formatNumber(b.Max))
	} else {
		s.WriteString("∞")
	}
	if b.HasMax && !b.MaxOpen {
		s.WriteString("]")
	} else {
		s.WriteString(")")
	}
	return s.String()
}

// TypeKind classifies attribute types. The zero value is invalid.
type TypeKind int

// The type kinds.
const (
	TypeInvalid TypeKind = iota
	// TypeString is a quoted string.
	TypeString
	// TypePath is a quoted string naming a file or directory, resolved
	// against the directory of the file that declares it.
	TypePath
	// TypeNumber is an integer or float literal.
	TypeNumber
	// TypeInt is an integer literal.
	TypeInt
	// TypeBool is true or false.
	TypeBool
	// TypeSize is a quantity in bytes: 24GiB, 512MB.
	TypeSize
	// TypePercent is a quantity in percent: 5%.
	TypePercent
	// TypeDuration is a quantity of time: 30s, 2h.
	TypeDuration
	// TypeCount is a quantity of steps, epochs or tokens: 500 steps.
	TypeCount
	// TypeEnum is one of a fixed set of bare identifiers.
	TypeEnum
	// TypeList is a list of Elem.
	TypeList
	// TypeRef is a bare identifier naming a declaration of one of Kinds.
	TypeRef
	// TypeCall is a call form such as every(2).
	TypeCall
	// TypeConstraint is a comparison over hardware properties, such as
	// gpu_memory >= 24GiB.
	TypeConstraint
	// TypeOneOf accepts any of Alts; the first that fits wins.
	TypeOneOf
	// TypeAny accepts any literal value (a variable's default).
	TypeAny
)

// Type is the type of an attribute's value.
type Type struct {
	Kind TypeKind
	// Values are the identifiers a TypeEnum accepts.
	Values []EnumValue
	// Elem is a TypeList's element type.
	Elem *Type
	// Kinds are the block kinds a TypeRef may name.
	Kinds []string
	// Call is a TypeCall's form.
	Call *CallForm
	// Props are the properties a TypeConstraint may compare.
	Props []Property
	// Alts are a TypeOneOf's alternatives.
	Alts []Type
	// Bounds, when set, bound values of this type (in base units, such
	// as percent for a percentage) in addition to the attribute's Bounds;
	// for one alternative of a TypeOneOf, such as eval's percentage.
	Bounds *Bounds
}

// EnumValue is one identifier an enum accepts.
type EnumValue struct {
	Name string
	Doc  string
}

// CallForm is a call such as every(n): a name and typed parameters.
type CallForm struct {
	Name   string
	Params []Param
	Doc    string
}

// Param is one parameter of a call form.
type Param struct {
	Name   string
	Type   Type
	Bounds *Bounds
}

// Property is a hardware property that target.require may compare.
type Property struct {
	Name string
	Type Type
	Doc  string
}

// EnumNames returns the names of an enum's values (for did-you-mean), or
// the names of every enum value among a TypeOneOf's alternatives.
func (t Type) EnumNames() []string {
	switch t.Kind {
	case TypeEnum:
		out := make([]string, len(t.Values))
		for i, v := range t.Values {
			out[i] = v.Name
		}
		return out
	case TypeOneOf:
		var out []string
		for _, a := range t.Alts {
			out = append(out, a.EnumNames()...)
		}
		return out
	}
	return nil
}

// Enum returns the enum value called name and whether t (or one of its
// alternatives) accepts it.
func (t Type) Enum(name string) (EnumValue, bool) {
	switch t.Kind {
	case TypeEnum:
		for _, v := range t.Values {
			if v.Name == name {
				return v, true
			}
		}
	case TypeOneOf:
		for _, a := range t.Alts {
			if v, ok := a.Enum(name); ok {
				return v, true
			}
		}
	}
	return EnumValue{}, false
}

// Property returns the constraint property called name.
func (t Type) Property(name string) (Property, bool) {
	for _, p := range t.Props {
		if p.Name == name {
			return p, true
		}
	}
	return Property{}, false
}

// PropertyNames returns the names of a constraint type's properties.
func (t Type) PropertyNames() []string {
	out := make([]string, len(t.Props))
	for i, p := range t.Props {
		out[i] = p.Name
	}
	return out
}

// String renders the type compactly, as the spec tables show it:
// "size", "list(string)", "nf4 | fp4 | int8", "ref(model, finetune)",
// "every(int)".
func (t Type) String() string {
	switch t.Kind {
	case TypeString:
		return "string"
	case TypePath:
		return "path"
	case TypeNumber:
		return "number"
	case TypeInt:
		return "int"
	case TypeBool:
		return "bool"
	case TypeSize:
		return "size"
	case TypePercent:
		return "percent"
	case TypeDuration:
		return "duration"
	case TypeCount:
		return "count"
	case TypeEnum:
		return strings.Join(t.EnumNames(), " | ")
	case TypeList:
		if t.Elem == nil {
			return "list"
		}
		return "list(" + t.Elem.String() + ")"
	case TypeRef:
		return "ref(" + strings.Join(t.Kinds, ", ") + ")"
	case TypeCall:
		if t.Call == nil {
			return "call"
		}
		parts := make([]string, len(t.Call.Params))
		for i, p := range t.Call.Params {
			parts[i] = p.Type.String()
		}
		return t.Call.Name + "(" + strings.Join(parts, ", ") + ")"
	case TypeConstraint:
		return "constraint"
	case TypeOneOf:
		parts := make([]string, len(t.Alts))
		for i, a := range t.Alts {
			parts[i] = a.String()
		}
		return strings.Join(parts, " | ")
	case TypeAny:
		return "any"
	}
	return "invalid"
}

// Describe renders the type for a sentence: "a size such as 24GiB",
// "one of nf4, fp4, int8", "a reference to a model or finetune".
func (t Type) Describe() string {
	switch t.Kind {
	case TypeString:
		return `a string such as "text"`
	case TypePath:
		return `a path string such as "data/train.jsonl"`
	case TypeNumber:
		return "a number such as 0.05"
	case TypeInt:
		return "an integer such as 16"
	case TypeBool:
		return "true or false"
	case TypeSize:
		return "a size such as 24GiB"
	case TypePercent:
		return "a percentage such as 5%"
	case TypeDuration:
		return "a duration such as 30s"
	case TypeCount:
		return "a count such as 500 steps"
	case TypeEnum:
		return "one of " + orList(t.EnumNames())
	case TypeList:
		if t.Elem == nil {
			return "a list"
		}
		return "a list of " + plural(t.Elem.Describe())
	case TypeRef:
		return "a reference to a " + orList(t.Kinds)
	case TypeCall:
		return "a call " + t.String()
	case TypeConstraint:
		return "a comparison such as gpu_memory >= 24GiB"
	case TypeOneOf:
		parts := make([]string, len(t.Alts))
		for i, a := range t.Alts {
			parts[i] = a.Describe()
		}
		return strings.Join(parts, ", or ")
	case TypeAny:
		return "a literal value"
	}
	return "an invalid type"
}

// plural turns "a size such as 24GiB" into "sizes such as 24GiB" well
// enough for list descriptions; it leaves other phrases alone after
// dropping the article.
func plural(s string) string {
	for _, art := range []string{"a ", "an "} {
		if strings.HasPrefix(s, art) {
			s = strings.TrimPrefix(s, art)
			word, rest, _ := strings.Cut(s, " ")
			return word + "s " + rest
		}
	}
	return s
}

func orList(xs []string) string {
	switch len(xs) {
	case 0:
		return "nothing"
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// Blocks returns every top-level block kind, in the order the spec lists
// them. The result is freshly built, so callers may keep or change it.
func Blocks() []Block { return blocks() }

// LookupBlock returns the top-level block kind called kind.
func LookupBlock(kind string) (Block, bool) {
	for _, b := range blocks() {
		if b.Kind == kind {
			return b, true
		}
	}
	return Block{}, false
}
