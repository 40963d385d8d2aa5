package compiler

import (
	"path/filepath"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
)

// importEdge is one import statement on the current import path: the file
// that imports and the range of the imported path string.
type importEdge struct {
	from  string
	to    string
	where source.Range
}

// load reads and parses a file and, depth first, everything it imports.
// via is the chain of imports that led here (nil for a root), used to
// detect import cycles.
func (c *checker) load(name string, via []importEdge) {
	if _, done := c.prog.ASTs[name]; done {
		return
	}
	src, err := c.opts.ReadFile(name)
	if err != nil {
		d := &diag.Diagnostic{Severity: diag.Error, Code: "E208",
			Summary: "Cannot read " + name,
			Detail:  err.Error() + ". Import paths are relative to the importing file; fix the path or create the file."}
		if n := len(via); n > 0 {
			d.Summary = "Import not found: " + name
			r := via[n-1].where
			d.Subject = &r
		}
		c.report(d)
		return
	}
	file, ds := c.parse(name, src)
	c.diags = c.diags.Extend(ds)
	if file == nil {
		return
	}
	if file.Source == nil {
		file.Source = source.NewFile(name, src)
	}
	c.prog.Files[name] = file.Source
	c.prog.ASTs[name] = file
	c.prog.FileOrder = append(c.prog.FileOrder, name)
	c.srcs[name] = file.Source

	dir := filepath.Dir(name)
	for _, imp := range c.importsOf(file) {
		target := filepath.Clean(filepath.Join(dir, imp.path))
		if filepath.IsAbs(imp.path) {
			target = filepath.Clean(imp.path)
		}
		edge := importEdge{from: name, to: target, where: imp.where}
		if i := cycleStart(via, name, target); i >= 0 {
			c.reportImportCycle(append(append([]importEdge{}, via[i:]...), edge))
			continue
		}
		c.load(target, append(via, edge))
	}
}

type importSpec struct {
	path  string
	where source.Range
}

// importsOf returns the paths a file imports, from `import "path"`
// statements (and the equivalent `import { path = "..." }` block).
func (c *checker) importsOf(f *ast.File) []importSpec {
	var out []importSpec
	for _, it := range f.Items {
		switch it := it.(type) {
		case *ast.Import:
			if it.Path != nil {
				out = append(out, importSpec{it.Path.Value, f.Range(it.Path)})
			}
		case *ast.Block:
			if it.Kind == nil || it.Kind.Name != "import" || it.Body == nil {
				continue
			}
			for _, a := range it.Body.Attributes() {
				if a.Name != nil && a.Name.Name == "path" {
					if s, ok := a.Value.(*ast.String); ok {
						out = append(out, importSpec{s.Value, f.Range(s)})
					}
				}
			}
		}
	}
	return out
}

// cycleStart returns the index in via of the edge that first entered
// target, when importing target from name would close a cycle, else -1.
func cycleStart(via []importEdge, name, target string) int {
	if target == name {
		return len(via)
	}
	for i, e := range via {
		if e.from == target {
			return i
		}
	}
	return -1
}

// reportImportCycle reports an import cycle at the import that closes it,
// with a note at every import of the cycle.
func (c *checker) reportImportCycle(cycle []importEdge) {
	last := cycle[len(cycle)-1]
	chain := ""
	for _, e := range cycle {
		chain += filepath.Base(e.from) + " → "
	}
	chain += filepath.Base(last.to)
	d := diag.Errorf(last.where, "E209", "Import cycle: "+chain,
		"A file may not import itself, directly or through other files. Move the shared declarations into a "+
			"file that both import, and remove one of the imports of the cycle.")
	for _, e := range cycle {
		d.Notes = append(d.Notes, diag.Note{Range: e.where, Message: filepath.Base(e.from) + " imports " + filepath.Base(e.to)})
	}
	c.report(d)
}
