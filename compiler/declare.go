package compiler

import (
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
	"github.com/modelwhisperer/whisperc/lang/suggest"
	"github.com/modelwhisperer/whisperc/stdlib"
)

// declare collects every top-level block of every file into one namespace,
// reporting unknown kinds, missing or unexpected names, duplicate names and
// repeated singletons.
func (c *checker) declare() {
	singletons := map[string]*Decl{}
	for _, name := range c.prog.FileOrder {
		f := c.prog.ASTs[name]
		for _, b := range f.Blocks() {
			if b.Kind == nil || b.Kind.Name == "import" {
				continue
			}
			schema, ok := c.kinds[b.Kind.Name]
			kindRange := f.Range(b.Kind)
			if !ok {
				fix := " Fix the kind, or remove the block (spec/blocks.md lists every kind)."
				if parent := c.parentOf(b.Kind.Name); parent != "" {
					fix = " " + b.Kind.Name + " is a nested block; write it inside a " + parent + " block."
				}
				c.report(c.unknownName(kindRange, "E201", "Unknown block kind "+b.Kind.Name,
					"There is no top-level block kind "+quote(b.Kind.Name)+".", b.Kind.Name, c.topLevelKinds(), fix))
				continue
			}
			d := &Decl{Kind: schema.Kind, File: name, Block: b, Schema: schema}
			d.Range = f.Range(b)
			d.KindRange = kindRange
			d.NameRange = kindRange
			switch {
			case b.Name != nil:
				d.Name = b.Name.Name
				d.NameRange = f.Range(b.Name)
				if schema.Name == stdlib.NameForbidden {
					c.report(diag.Errorf(d.NameRange, "E214", "A "+schema.Kind+" block takes no name",
						"Remove the name "+quote(d.Name)+"."))
					d.Name = schema.Kind
				}
			case schema.Name == stdlib.NameRequired:
				c.report(diag.Errorf(kindRange, "E214", "Missing name for "+schema.Kind,
					"Every "+schema.Kind+" is declared with a name so that other blocks can refer to it. "+
						"Write `"+schema.Kind+" NAME { ... }`."))
				continue
			default:
				d.Name = schema.Kind
			}
			if schema.Singleton {
				if first, dup := singletons[schema.Kind]; dup {
					e := diag.Errorf(d.NameRange, "E213", "Second "+schema.Kind+" block",
						"A program has at most one "+schema.Kind+" block. Merge the two blocks into one.")
					e.Notes = []diag.Note{{Range: first.NameRange, Message: "the first " + schema.Kind + " block"}}
					c.report(e)
					continue
				}
				singletons[schema.Kind] = d
			}
			if b.Name == nil || schema.Name == stdlib.NameForbidden {
				// Anonymous singletons are not in the namespace of names.
				c.prog.Decls = append(c.prog.Decls, d)
				continue
			}
			if first, dup := c.prog.byName[d.Name]; dup {
				e := diag.Errorf(d.NameRange, "E202", "Duplicate declaration "+d.Name,
					quote(d.Name)+" is already declared as a "+first.Kind+". Declaration names are shared by every "+
						"kind and every imported file; rename one of the two.")
				e.Notes = []diag.Note{{Range: first.NameRange, Message: "first declared here"}}
				c.report(e)
				continue
			}
			c.prog.byName[d.Name] = d
			c.prog.Decls = append(c.prog.Decls, d)
		}
	}
}

func (c *checker) topLevelKinds() []string {
	out := make([]string, 0, len(c.schema))
	for _, b := range c.schema {
		out = append(out, b.Kind)
	}
	return out
}

// unknownName builds an error for a misspelt name with a did-you-mean hint
// and, when there is a close candidate, a quick-fix suggestion.
func (c *checker) unknownName(r source.Range, code, summary, detail, name string, candidates []string, fix string) *diag.Diagnostic {
	d := diag.Errorf(r, code, summary, detail)
	if best := suggest.Closest(name, candidates); best != "" && best != name {
		d.Detail += ` Did you mean "` + best + `"?`
		d.Suggestion = &diag.Suggestion{Message: "replace with", Range: r, Replacement: best}
	}
	d.Detail += fix
	return d
}

func quote(s string) string { return `"` + s + `"` }

// parentOf returns the kind of the first top-level block that allows a
// nested block called kind, or "".
func (c *checker) parentOf(kind string) string {
	for i := range c.schema {
		if _, ok := c.schema[i].NestedBlock(kind); ok {
			return c.schema[i].Kind
		}
	}
	return ""
}
