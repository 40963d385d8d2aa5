package ast

// ShiftItem returns a copy of the top-level item it whose every offset is
// moved by delta bytes: what an incremental parser reuses when text was
// inserted or deleted before the item. The original is not modified, so
// the trees that share it stay valid.
func ShiftItem(it Item, delta int) Item {
	switch it := it.(type) {
	case *Import:
		c := *it
		c.Extent = c.shift(delta)
		c.Path = shiftString(it.Path, delta)
		return &c
	case *Block:
		return shiftBlock(it, delta)
	}
	return it
}

// ShiftComment returns a copy of c moved by delta bytes.
func ShiftComment(c *Comment, delta int) *Comment {
	n := *c
	n.Extent = n.shift(delta)
	return &n
}

func (e Extent) shift(delta int) Extent { return Extent{Start: e.Start + delta, End: e.End + delta} }

func shiftIdent(id *Ident, delta int) *Ident {
	if id == nil {
		return nil
	}
	c := *id
	c.Extent = c.shift(delta)
	return &c
}

func shiftString(s *String, delta int) *String {
	if s == nil {
		return nil
	}
	c := *s
	c.Extent = c.shift(delta)
	return &c
}

func shiftNumber(n *Number, delta int) *Number {
	if n == nil {
		return nil
	}
	c := *n
	c.Extent = c.shift(delta)
	return &c
}

func shiftBlock(b *Block, delta int) *Block {
	if b == nil {
		return nil
	}
	c := *b
	c.Extent = c.shift(delta)
	c.Kind = shiftIdent(b.Kind, delta)
	c.Name = shiftIdent(b.Name, delta)
	if b.Body != nil {
		body := *b.Body
		body.Extent = body.shift(delta)
		if b.Body.Items != nil {
			body.Items = make([]BodyItem, len(b.Body.Items))
		}
		for i, it := range b.Body.Items {
			switch it := it.(type) {
			case *Attribute:
				body.Items[i] = shiftAttribute(it, delta)
			case *Block:
				body.Items[i] = shiftBlock(it, delta)
			default:
				body.Items[i] = it
			}
		}
		c.Body = &body
	}
	return &c
}

func shiftAttribute(a *Attribute, delta int) *Attribute {
	if a == nil {
		return nil
	}
	c := *a
	c.Extent = c.shift(delta)
	c.Name = shiftIdent(a.Name, delta)
	c.Value = shiftExpr(a.Value, delta)
	return &c
}

func shiftExpr(x Expr, delta int) Expr {
	switch x := x.(type) {
	case nil:
		return nil
	case *String:
		return shiftString(x, delta)
	case *Number:
		return shiftNumber(x, delta)
	case *Bool:
		c := *x
		c.Extent = c.shift(delta)
		return &c
	case *Quantity:
		c := *x
		c.Extent = c.shift(delta)
		c.Number = shiftNumber(x.Number, delta)
		c.Unit = shiftIdent(x.Unit, delta)
		return &c
	case *Reference:
		c := *x
		c.Extent = c.shift(delta)
		if x.Parts != nil {
			c.Parts = make([]*Ident, len(x.Parts))
		}
		for i, p := range x.Parts {
			c.Parts[i] = shiftIdent(p, delta)
		}
		return &c
	case *Call:
		c := *x
		c.Extent = c.shift(delta)
		c.Name = shiftIdent(x.Name, delta)
		c.Args = shiftExprs(x.Args, delta)
		return &c
	case *List:
		c := *x
		c.Extent = c.shift(delta)
		c.Elems = shiftExprs(x.Elems, delta)
		return &c
	case *Object:
		c := *x
		c.Extent = c.shift(delta)
		if x.Items != nil {
			c.Items = make([]*Attribute, len(x.Items))
		}
		for i, a := range x.Items {
			c.Items[i] = shiftAttribute(a, delta)
		}
		return &c
	case *Paren:
		c := *x
		c.Extent = c.shift(delta)
		c.X = shiftExpr(x.X, delta)
		return &c
	case *Unary:
		c := *x
		c.Extent = c.shift(delta)
		c.X = shiftExpr(x.X, delta)
		return &c
	case *Binary:
		c := *x
		c.Extent = c.shift(delta)
		c.OpPos += delta
		c.X = shiftExpr(x.X, delta)
		c.Y = shiftExpr(x.Y, delta)
		return &c
	}
	return x
}

func shiftExprs(xs []Expr, delta int) []Expr {
	if xs == nil {
		return nil
	}
	out := make([]Expr, len(xs))
	for i, x := range xs {
		out[i] = shiftExpr(x, delta)
	}
	return out
}
