package ast

import (
	"fmt"
	"strconv"
	"strings"
)

// Dump renders the tree rooted at n as an indented outline without
// positions, one node per line. Two trees that differ only in positions and
// comments dump equally, which is how tests compare a file with its
// formatted form.
func Dump(n Node) string {
	var b strings.Builder
	dump(&b, n, 0)
	return b.String()
}

func dump(b *strings.Builder, n Node, depth int) {
	if n == nil || isNil(n) {
		return
	}
	b.WriteString(strings.Repeat("  ", depth))
	switch n := n.(type) {
	case *File:
		b.WriteString("File")
	case *Import:
		b.WriteString("Import")
	case *Block:
		b.WriteString("Block")
	case *Body:
		b.WriteString("Body")
	case *Attribute:
		b.WriteString("Attribute")
	case *Ident:
		fmt.Fprintf(b, "Ident %s", n.Name)
	case *Comment:
		fmt.Fprintf(b, "Comment %q", n.Text)
	case *String:
		fmt.Fprintf(b, "String %s", strconv.Quote(n.Value))
	case *Number:
		fmt.Fprintf(b, "Number %s", n.Text)
	case *Bool:
		fmt.Fprintf(b, "Bool %t", n.Value)
	case *Quantity:
		b.WriteString("Quantity")
	case *Reference:
		b.WriteString("Reference")
	case *Call:
		b.WriteString("Call")
	case *List:
		b.WriteString("List")
	case *Object:
		b.WriteString("Object")
	case *Paren:
		b.WriteString("Paren")
	case *Unary:
		fmt.Fprintf(b, "Unary %s", n.Op)
	case *Binary:
		fmt.Fprintf(b, "Binary %s", n.Op)
	default:
		fmt.Fprintf(b, "%T", n)
	}
	b.WriteByte('\n')
	for _, c := range Children(n) {
		dump(b, c, depth+1)
	}
}
