package parser

import (
	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The grammar structs below are participle's view of the language. They are
// internal: convert.go turns them into the ast package's types, folding the
// precedence levels into ast.Binary. spec/grammar.ebnf is generated from
// them (see Grammar).
//
// They carry only what conversion needs, as cheaply as participle allows:
// a node whose extent matters has a Tokens field (the tokens it spans,
// set once the node has matched), and a single token is captured as a
// lexer.Token, which holds its position. Pos and EndPos fields would cost
// two allocations per node, the first one on every attempt, failed ones
// included.

// file is a whole file.
type file struct {
	Items []*item `parser:"@@*"`
}

// item is a top-level item.
type item struct {
	Import *importDecl `parser:"  @@"`
	Block  *block      `parser:"| @@"`
}

// importDecl is `import "path"`.
type importDecl struct {
	Tokens []lexer.Token
	Path   *stringLit `parser:"\"import\" @@"`
}

// block is `KIND [NAME] { body }`.
type block struct {
	Tokens []lexer.Token
	Kind   *ident `parser:"@@"`
	Name   *ident `parser:"@@?"`
	Body   *body  `parser:"@@"`
}

// body is the braced body of a block; items are separated by commas or
// newlines, both optional.
type body struct {
	Tokens []lexer.Token
	Items  []*bodyItem `parser:"\"{\" ( @@ \",\"? )* \"}\""`
}

// bodyItem is an attribute or a nested block.
type bodyItem struct {
	Attr  *attribute `parser:"  @@"`
	Block *block     `parser:"| @@"`
}

// attribute is `name = value`.
type attribute struct {
	Tokens []lexer.Token
	Name   *ident `parser:"@@ \"=\""`
	Value  *expr  `parser:"@@"`
}

// ident is an identifier.
type ident struct {
	Name lexer.Token `parser:"@Ident"`
}

// expr is an expression: the lowest precedence level, `||`.
type expr struct {
	Left *andExpr `parser:"@@"`
	Rest []*orOp  `parser:"@@*"`
}

type orOp struct {
	Op    lexer.Token `parser:"@\"||\""`
	Right *andExpr    `parser:"@@"`
}

type andExpr struct {
	Left *comparison `parser:"@@"`
	Rest []*andOp    `parser:"@@*"`
}

type andOp struct {
	Op    lexer.Token `parser:"@\"&&\""`
	Right *comparison `parser:"@@"`
}

type comparison struct {
	Left *sum     `parser:"@@"`
	Rest []*cmpOp `parser:"@@*"`
}

type cmpOp struct {
	Op    lexer.Token `parser:"@( \"==\" | \"!=\" | \"<=\" | \">=\" | \"<\" | \">\" )"`
	Right *sum        `parser:"@@"`
}

type sum struct {
	Left *product `parser:"@@"`
	Rest []*addOp `parser:"@@*"`
}

type addOp struct {
	Op    lexer.Token `parser:"@( \"+\" | \"-\" )"`
	Right *product    `parser:"@@"`
}

type product struct {
	Left *unary   `parser:"@@"`
	Rest []*mulOp `parser:"@@*"`
}

type mulOp struct {
	Op    lexer.Token `parser:"@( \"*\" | \"/\" )"`
	Right *unary      `parser:"@@"`
}

// unary is `-x`, `!x` or a primary expression.
type unary struct {
	Tokens  []lexer.Token
	Op      string  `parser:"(   @( \"-\" | \"!\" )"`
	X       *unary  `parser:"    @@ )"`
	Primary primary `parser:"| @@"`
}

// primary is the sum type of primary expressions.
type primary interface{ primary() }

type quantity struct {
	Text lexer.Token `parser:"@Quantity"`
}

type number struct {
	Text lexer.Token `parser:"@Number"`
}

type stringLit struct {
	Raw lexer.Token `parser:"@String"`
}

type boolLit struct {
	Value lexer.Token `parser:"@( \"true\" | \"false\" )"`
}

type call struct {
	Tokens []lexer.Token
	Name   *ident  `parser:"@@ \"(\""`
	Args   []*expr `parser:"( @@ ( \",\" @@ )* \",\"? )? \")\""`
}

type reference struct {
	Parts []*ident `parser:"@@ ( \".\" @@ )*"`
}

type list struct {
	Tokens []lexer.Token
	Elems  []*expr `parser:"\"[\" ( @@ ( \",\" @@ )* \",\"? )? \"]\""`
}

type object struct {
	Tokens []lexer.Token
	Items  []*attribute `parser:"\"{\" ( @@ \",\"? )* \"}\""`
}

type paren struct {
	Tokens []lexer.Token
	X      *expr `parser:"\"(\" @@ \")\""`
}

func (*quantity) primary()  {}
func (*number) primary()    {}
func (*stringLit) primary() {}
func (*boolLit) primary()   {}
func (*call) primary()      {}
func (*reference) primary() {}
func (*list) primary()      {}
func (*object) primary()    {}
func (*paren) primary()     {}

// options are shared by every parser built from the grammar.
var options = []participle.Option{
	participle.Lexer(lexDef),
	participle.Elide(elidedTokenTypeName...),
	participle.UseLookahead(4),
	participle.Union[primary](&quantity{}, &number{}, &stringLit{}, &boolLit{}, &call{}, &reference{}, &list{}, &object{}, &paren{}),
}

// The parsers: the whole file, one top-level item and one body item (used
// when recovering from errors). They are immutable once built.
var (
	fileParser     = participle.MustBuild[file](options...)
	itemParser     = participle.MustBuild[item](options...)
	bodyItemParser = participle.MustBuild[bodyItem](options...)
)

// Grammar returns the language's grammar in participle's EBNF notation.
// spec/grammar.ebnf holds the same text (a test keeps them equal).
func Grammar() string { return fileParser.String() }

func (o *orOp) opPos() int  { return o.Op.Pos.Offset }
func (o *andOp) opPos() int { return o.Op.Pos.Offset }
func (o *cmpOp) opPos() int { return o.Op.Pos.Offset }
func (o *addOp) opPos() int { return o.Op.Pos.Offset }
func (o *mulOp) opPos() int { return o.Op.Pos.Offset }
