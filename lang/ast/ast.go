// Package ast defines the syntax tree of a .whisper file.
//
// Every node records the half-open byte range [Start, End) it covers in its
// file (see Extent); lines and columns come from the file's line table via
// File.Range or RangeOf. The parser (package lang/parser) builds the tree
// with participle and converts its grammar structs into these types, so the
// tree stays independent of the grammar's layering. Later phases keep their
// results in side tables keyed by node, never in the tree.
package ast

import (
	"strings"

	"github.com/modelwhisperer/whisperc/lang/source"
)

// Node is any node of the tree.
type Node interface {
	// Span returns the byte offsets [start, end) the node covers.
	Span() (start, end int)
	node()
}

// Extent is the half-open byte range [Start, End) a node covers. Every node
// embeds it.
type Extent struct {
	Start, End int
}

// Span returns the byte offsets [start, end) the node covers.
func (e Extent) Span() (start, end int) { return e.Start, e.End }

// Contains reports whether off lies within the extent, its end included (a
// cursor just after a token still touches it).
func (e Extent) Contains(off int) bool { return e.Start <= off && off <= e.End }

// RangeOf returns the source range of n in f.
func RangeOf(f *source.File, n Node) source.Range {
	s, e := n.Span()
	return f.Range(s, e)
}

// File is a parsed .whisper file: its top-level items in source order and
// every comment, which the grammar does not see but the formatter and the
// language server need.
type File struct {
	Extent
	// Source holds the file's name, bytes and line table.
	Source   *source.File
	Items    []Item
	Comments []*Comment
}

// Range returns the source range of n, a node of this file.
func (f *File) Range(n Node) source.Range { return RangeOf(f.Source, n) }

// Imports returns the file's import statements in source order.
func (f *File) Imports() []*Import {
	var out []*Import
	for _, it := range f.Items {
		if im, ok := it.(*Import); ok {
			out = append(out, im)
		}
	}
	return out
}

// Blocks returns the file's top-level blocks in source order.
func (f *File) Blocks() []*Block {
	var out []*Block
	for _, it := range f.Items {
		if b, ok := it.(*Block); ok {
			out = append(out, b)
		}
	}
	return out
}

// Item is a top-level item: *Import or *Block.
type Item interface {
	Node
	item()
}

// BodyItem is an item of a block body: *Attribute or *Block.
type BodyItem interface {
	Node
	bodyItem()
}

// Import is the statement `import "path"`. The path is relative to the
// importing file.
type Import struct {
	Extent
	Path *String
}

// Block is `KIND [NAME] { body }`, at top level or nested in a body.
type Block struct {
	Extent
	Kind *Ident
	// Name is nil when the block is anonymous (singleton kinds such as
	// track or target, and nested blocks such as lora).
	Name *Ident
	Body *Body
}

// NameOrEmpty returns the block's name, or "" when it has none.
func (b *Block) NameOrEmpty() string {
	if b.Name == nil {
		return ""
	}
	return b.Name.Name
}

// Body is the braced part of a block, braces included in its extent.
type Body struct {
	Extent
	Items []BodyItem
}

// Attributes returns the body's attributes in source order.
func (b *Body) Attributes() []*Attribute {
	var out []*Attribute
	for _, it := range b.Items {
		if a, ok := it.(*Attribute); ok {
			out = append(out, a)
		}
	}
	return out
}

// Blocks returns the body's nested blocks in source order.
func (b *Body) Blocks() []*Block {
	var out []*Block
	for _, it := range b.Items {
		if blk, ok := it.(*Block); ok {
			out = append(out, blk)
		}
	}
	return out
}

// Attribute is `name = value`, in a body or an inline object.
type Attribute struct {
	Extent
	Name  *Ident
	Value Expr
}

// Ident is a bare identifier: a block kind or name, an attribute name, a
// part of a reference, a call's function or a quantity's unit.
type Ident struct {
	Extent
	Name string
}

// CommentKind says how a comment is written. The zero value is invalid.
type CommentKind int

// The comment kinds.
const (
	CommentInvalid CommentKind = iota
	// CommentLine is `// text` to the end of the line.
	CommentLine
	// CommentHash is `# text` to the end of the line.
	CommentHash
	// CommentBlock is `/* text */`, possibly over several lines.
	CommentBlock
)

// Comment is one comment, Text being exactly as written, markers included.
type Comment struct {
	Extent
	Kind CommentKind
	Text string
}

// Expr is an expression: *String, *Number, *Bool, *Quantity, *Reference,
// *Call, *List, *Object, *Paren, *Unary or *Binary.
type Expr interface {
	Node
	expr()
}

// String is a string literal. Raw is the text as written, quotes and escapes
// included; Value is the decoded string.
type String struct {
	Extent
	Raw   string
	Value string
}

// Number is a numeric literal. Text is exactly as written (digit separators
// and exponent included) so the formatter never rewrites `2e-4`. Value is
// its value; IsInt reports an integer literal (no point, no exponent), whose
// exact value is Int.
type Number struct {
	Extent
	Text  string
	Value float64
	IsInt bool
	Int   int64
}

// Bool is `true` or `false`.
type Bool struct {
	Extent
	Value bool
}

// Quantity is a number with a unit on the same line: `24GiB`, `5%`,
// `500 steps`. Unit.Name is the unit as written ("GiB", "%", "step").
type Quantity struct {
	Extent
	Number *Number
	Unit   *Ident
}

// Reference is a dotted name: `base`, `var.lr`, `sft.output`. Whether a
// one-part reference is an enum value or a declaration is decided by the
// checker from the attribute's schema.
type Reference struct {
	Extent
	Parts []*Ident
}

// String returns the reference's parts joined by dots.
func (r *Reference) String() string {
	names := make([]string, len(r.Parts))
	for i, p := range r.Parts {
		names[i] = p.Name
	}
	return strings.Join(names, ".")
}

// Call is `name(args)`, such as `every(2)`.
type Call struct {
	Extent
	Name *Ident
	Args []Expr
}

// List is `[a, b, c]`.
type List struct {
	Extent
	Elems []Expr
}

// Object is an inline object `{ k = v, ... }`.
type Object struct {
	Extent
	Items []*Attribute
}

// Paren is a parenthesised expression `(x)`.
type Paren struct {
	Extent
	X Expr
}

// Unary is `-x` or `!x`.
type Unary struct {
	Extent
	Op string
	X  Expr
}

// Binary is `x op y` for op one of `* / + - == != < <= > >= && ||`. OpPos
// is the byte offset of the operator.
type Binary struct {
	Extent
	Op    string
	OpPos int
	X, Y  Expr
}

func (*File) node()      {}
func (*Import) node()    {}
func (*Block) node()     {}
func (*Body) node()      {}
func (*Attribute) node() {}
func (*Ident) node()     {}
func (*Comment) node()   {}
func (*String) node()    {}
func (*Number) node()    {}
func (*Bool) node()      {}
func (*Quantity) node()  {}
func (*Reference) node() {}
func (*Call) node()      {}
func (*List) node()      {}
func (*Object) node()    {}
func (*Paren) node()     {}
func (*Unary) node()     {}
func (*Binary) node()    {}

func (*Import) item() {}
func (*Block) item()  {}

func (*Attribute) bodyItem() {}
func (*Block) bodyItem()     {}

func (*String) expr()    {}
func (*Number) expr()    {}
func (*Bool) expr()      {}
func (*Quantity) expr()  {}
func (*Reference) expr() {}
func (*Call) expr()      {}
func (*List) expr()      {}
func (*Object) expr()    {}
func (*Paren) expr()     {}
func (*Unary) expr()     {}
func (*Binary) expr()    {}
