package ast

// Visitor's Visit is called for each node by Walk. If it returns a non-nil
// visitor w, Walk visits the node's children with w and then calls
// w.Visit(nil).
type Visitor interface {
	Visit(n Node) (w Visitor)
}

// Walk traverses the tree rooted at n in depth-first source order, like
// go/ast.Walk. Comments are not visited (they are not children of any node;
// see File.Comments). Nil children are skipped.
func Walk(v Visitor, n Node) {
	if n == nil || isNil(n) {
		return
	}
	if v = v.Visit(n); v == nil {
		return
	}
	for _, c := range Children(n) {
		Walk(v, c)
	}
	v.Visit(nil)
}

type inspector func(Node) bool

func (f inspector) Visit(n Node) Visitor {
	if n != nil && f(n) {
		return f
	}
	return nil
}

// Inspect traverses the tree rooted at n in depth-first source order,
// calling f for each node; f returning false skips the node's children.
func Inspect(n Node, f func(Node) bool) { Walk(inspector(f), n) }

// Children returns the direct children of n in source order, without nils.
func Children(n Node) []Node {
	var out []Node
	add := func(c Node) {
		if c != nil && !isNil(c) {
			out = append(out, c)
		}
	}
	switch n := n.(type) {
	case *File:
		for _, it := range n.Items {
			add(it)
		}
	case *Import:
		add(n.Path)
	case *Block:
		add(n.Kind)
		add(n.Name)
		add(n.Body)
	case *Body:
		for _, it := range n.Items {
			add(it)
		}
	case *Attribute:
		add(n.Name)
		add(n.Value)
	case *Quantity:
		add(n.Number)
		add(n.Unit)
	case *Reference:
		for _, p := range n.Parts {
			add(p)
		}
	case *Call:
		add(n.Name)
		for _, a := range n.Args {
			add(a)
		}
	case *List:
		for _, e := range n.Elems {
			add(e)
		}
	case *Object:
		for _, a := range n.Items {
			add(a)
		}
	case *Paren:
		add(n.X)
	case *Unary:
		add(n.X)
	case *Binary:
		add(n.X)
		add(n.Y)
	}
	return out
}

// isNil reports whether n is a typed nil pointer inside the interface.
func isNil(n Node) bool {
	switch n := n.(type) {
	case *File:
		return n == nil
	case *Import:
		return n == nil
	case *Block:
		return n == nil
	case *Body:
		return n == nil
	case *Attribute:
		return n == nil
	case *Ident:
		return n == nil
	case *Comment:
		return n == nil
	case *String:
		return n == nil
	case *Number:
		return n == nil
	case *Bool:
		return n == nil
	case *Quantity:
		return n == nil
	case *Reference:
		return n == nil
	case *Call:
		return n == nil
	case *List:
		return n == nil
	case *Object:
		return n == nil
	case *Paren:
		return n == nil
	case *Unary:
		return n == nil
	case *Binary:
		return n == nil
	}
	return false
}
