package parser

import (
	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The grammar structs below are participle's view of the language. They are
// internal: convert.go turns them into the ast package's types, grouping
// each expression's operators by precedence into ast.Binary nodes (the
// grammar keeps them all at one level, which participle parses several
// times faster than one rule per level). spec/grammar.ebnf is generated
// from them (see Grammar).
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
	Kind   lexer.Token `parser:"@Ident"`
	Name   lexer.Token `parser:"@Ident?"`
	Body   *body       `parser:"@@"`
}

// body is the braced body of a block; items are separated by commas or
// newlines, both optional.
type body struct {
	Tokens []lexer.Token
	Items  []bodyItem `parser:"\"{\" ( @@ \",\"? )* \"}\""`
}

// bodyItem is the sum type of body items: an attribute or a nested block.
// A union costs participle less than a struct with a field for each.
type bodyItem interface{ bodyItem() }

func (*attribute) bodyItem() {}
func (*block) bodyItem()     {}

// oneBodyItem is one body item alone, which recovery parses.
type oneBodyItem struct {
	Item bodyItem `parser:"@@"`
}

// attribute is `name = value`.
type attribute struct {
	Name  lexer.Token `parser:"@Ident \"=\""`
	Value *expr       `parser:"@@"`
}

// ident is an identifier, one part of a reference. Elsewhere the grammar
// captures identifiers as bare tokens, which costs participle less than a
// struct.
type ident struct {
	Name lexer.Token `parser:"@Ident"`
}

// expr is an expression: operands joined by binary operators. All binary
// operators share this one grammar level, so that participle looks for an
// operator once after each operand rather than once per precedence level;
// convert.go builds the tree by precedence (see precedence).
type expr struct {
	Left operand  `parser:"@@"`
	Rest []*binOp `parser:"@@*"`
}

// binOp is a binary operator and its right operand.
type binOp struct {
	Op    operator `parser:"@@"`
	Right operand  `parser:"@@"`
}

// operator is a binary operator: one of `||`, `&&`, `==`, `!=`, `<`,
// `<=`, `>`, `>=`, `+`, `-`, `*` and `/` (see precedence). It is matched by
// hand rather than as twelve literal alternatives, which participle would
// try one by one, each in a branch of its own, after every operand.
type operator struct {
	Tok lexer.Token
}

// Parse implements participle.Parseable: it takes the next token when it
// is a binary operator.
func (o *operator) Parse(lex *lexer.PeekingLexer) error {
	t := lex.Peek()
	if t.Type != tokPunct || precedence(t.Value) == 0 {
		return participle.NextMatch
	}
	o.Tok = *lex.Next()
	return nil
}

// operand is the sum type of the operands of binary operators: primary
// expressions and unary ones. Having unary among the alternatives, rather
// than a rule above them, saves participle a struct and a branch per
// operand.
type operand interface{ operand() }

// unary is a prefix operator `-` or `!` applied to an operand. The
// operator's position is that of the token before X (see
// converter.unary).
type unary struct {
	Op string  `parser:"@( \"-\" | \"!\" )"`
	X  operand `parser:"@@"`
}

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
	Name   lexer.Token `parser:"@Ident \"(\""`
	Args   []*expr     `parser:"( @@ ( \",\" @@ )* \",\"? )? \")\""`
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

func (*quantity) operand()  {}
func (*number) operand()    {}
func (*stringLit) operand() {}
func (*boolLit) operand()   {}
func (*call) operand()      {}
func (*reference) operand() {}
func (*list) operand()      {}
func (*object) operand()    {}
func (*paren) operand()     {}
func (*unary) operand()     {}

// options are shared by every parser built from the grammar.
var options = []participle.Option{
	participle.Lexer(lexDef),
	participle.Elide(elidedTokenTypeName...),
	participle.UseLookahead(4),
	participle.Union[bodyItem](&attribute{}, &block{}),
	participle.Union[operand](&quantity{}, &number{}, &stringLit{}, &boolLit{}, &call{}, &reference{}, &list{}, &object{}, &paren{}, &unary{}),
}

// The parsers: the whole file, one top-level item and one body item (used
// when recovering from errors). They are immutable once built.
var (
	fileParser     = participle.MustBuild[file](options...)
	itemParser     = participle.MustBuild[item](options...)
	bodyItemParser = participle.MustBuild[oneBodyItem](options...)
)

// Grammar returns the language's grammar in participle's EBNF notation.
// spec/grammar.ebnf holds the same text (a test keeps them equal).
func Grammar() string { return fileParser.String() }
