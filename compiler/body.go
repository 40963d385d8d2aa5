package compiler

import (
	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
	"github.com/modelwhisperer/whisperc/stdlib"
)

// body is a block body checked against its schema: the attributes that
// checked cleanly, the nested blocks, and where everything is.
type body struct {
	site   Site
	schema *stdlib.Block
	vals   map[string]val
	// bad lists attributes that were written but failed to check; builders
	// leave their fields at the default so later phases still see a value.
	bad    map[string]bool
	nested map[string]*body
}

// has reports whether the attribute was written and checked cleanly.
func (b *body) has(name string) bool {
	if b == nil {
		return false
	}
	_, ok := b.vals[name]
	return ok
}

// checkBody checks a block body against its schema. what prefixes
// attribute names in messages ("lora." for a nested lora block).
func (c *checker) checkBody(ctx evalCtx, decl *Decl, schema *stdlib.Block, site Site, b *ast.Body, what string) *body {
	out := &body{site: site, schema: schema, vals: map[string]val{}, bad: map[string]bool{}, nested: map[string]*body{}}
	if b == nil {
		return out
	}
	f := c.srcs[ctx.file]
	firstAttr := map[string]source.Range{}
	firstBlock := map[string]source.Range{}

	nestedBlock := func(kind *ast.Ident, name *ast.Ident, blockRange source.Range, inner *ast.Body) {
		ns, ok := schema.NestedBlock(kind.Name)
		kr := ast.RangeOf(f, kind)
		if !ok {
			detail := "A " + schema.Kind + " block has no nested " + quote(kind.Name) + " block."
			fix := " Nested blocks of " + schema.Kind + ": " + orNone(schema.NestedKinds()) + "."
			if _, top := c.kinds[kind.Name]; top {
				fix = " " + kind.Name + " is a top-level block; declare it outside " + schema.Kind + "."
			} else if _, isAttr := schema.Attr(kind.Name); isAttr {
				fix = " " + kind.Name + " is an attribute; write `" + kind.Name + " = value`."
			}
			c.report(c.unknownName(kr, "E204", "Unknown block "+kind.Name+" in "+schema.Kind, detail,
				kind.Name, schema.NestedKinds(), fix))
			return
		}
		if name != nil {
			c.report(diag.Errorf(ast.RangeOf(f, name), "E214", "A "+ns.Kind+" block takes no name",
				"Remove the name "+quote(name.Name)+"."))
		}
		if first, dup := firstBlock[ns.Kind]; dup {
			d := diag.Errorf(kr, "E215", "Second "+ns.Kind+" block in "+schema.Kind,
				"A "+schema.Kind+" has at most one "+ns.Kind+" block. Merge the two blocks into one.")
			d.Notes = []diag.Note{{Range: first, Message: "the first " + ns.Kind + " block"}}
			c.report(d)
			return
		}
		firstBlock[ns.Kind] = kr
		nsite := Site{Range: blockRange, NameRange: kr, KindRange: kr}
		nb := c.checkBody(ctx, decl, ns, nsite, inner, what+ns.Kind+".")
		out.nested[ns.Kind] = nb
		if out.site.nested == nil {
			out.site.nested = map[string]*Site{}
		}
		out.site.nested[ns.Kind] = &nb.site
	}

	for _, it := range b.Items {
		switch it := it.(type) {
		case *ast.Block:
			if it.Kind == nil {
				continue
			}
			nestedBlock(it.Kind, it.Name, ast.RangeOf(f, it), it.Body)
		case *ast.Attribute:
			if it.Name == nil {
				continue
			}
			name := it.Name.Name
			nr := ast.RangeOf(f, it.Name)
			attr, ok := schema.Attr(name)
			if !ok {
				if _, isBlock := schema.NestedBlock(name); isBlock {
					if obj, isObj := it.Value.(*ast.Object); isObj {
						items := make([]ast.BodyItem, len(obj.Items))
						for i, a := range obj.Items {
							items[i] = a
						}
						nestedBlock(it.Name, nil, ast.RangeOf(f, it), &ast.Body{Extent: obj.Extent, Items: items})
						continue
					}
					c.report(diag.Errorf(nr, "E302", name+" is a block, not a value",
						"Write `"+name+" { ... }` with its settings inside."))
					continue
				}
				fix := " Remove it, or fix the name (spec/blocks.md lists the attributes of " + schema.Kind + ")."
				for _, n := range schema.Nested {
					if _, in := n.Attr(name); in {
						fix = " " + name + " belongs in the " + n.Kind + " block: write `" + n.Kind + " { " + name + " = ... }`."
					}
				}
				c.report(c.unknownName(nr, "E203", "Unknown attribute "+name+" in "+schema.Kind,
					"A "+schema.Kind+" block has no attribute "+quote(name)+".", name, schema.AttrNames(), fix))
				continue
			}
			if first, dup := firstAttr[name]; dup {
				d := diag.Errorf(nr, "E210", "Duplicate attribute "+name,
					name+" is already set in this block. Remove one of the two settings.")
				d.Notes = []diag.Note{{Range: first, Message: "first set here"}}
				c.report(d)
				continue
			}
			firstAttr[name] = nr
			full := ast.RangeOf(f, it)
			var vr source.Range
			if it.Value != nil {
				vr = ast.RangeOf(f, it.Value)
			} else {
				vr = full
			}
			out.site.attrs = append(out.site.attrs, attrSite{name: name, full: full, value: vr})
			v := c.eval(ctx, it.Value)
			cv, ok := c.conform(conformCtx{what: what + name, decl: decl, bounds: attr.Bounds}, v, attr.Type)
			if ok {
				out.vals[name] = cv
			} else {
				out.bad[name] = true
			}
		}
	}
	for _, a := range schema.Attrs {
		if a.Required && !out.site.Has(a.Name) {
			c.report(diag.Errorf(site.NameRange, "E301", "Missing "+what+a.Name+" in "+schema.Kind+" "+declLabel(decl, schema),
				"A "+schema.Kind+" needs "+a.Name+": "+lowerFirst(a.Doc)+" Add `"+a.Name+" = ...`."))
		}
	}
	return out
}

func declLabel(d *Decl, schema *stdlib.Block) string {
	if d == nil || d.Kind != schema.Kind || d.Name == d.Kind {
		return ""
	}
	return d.Name
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	if s[0] >= 'A' && s[0] <= 'Z' {
		return string(s[0]+'a'-'A') + s[1:]
	}
	return s
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return orKinds(xs)
}
