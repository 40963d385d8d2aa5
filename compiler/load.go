package compiler

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/parser"
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
			Detail:  err.Error() + ". Fix the path, or create the file."}
		if n := len(via); n > 0 {
			d.Summary = "Import not found: " + name
			d.Detail = err.Error() + ". Import paths are relative to the importing file; fix the path or create the file."
			r := via[n-1].where
			d.Subject = &r
		}
		c.report(d)
		return
	}
	file, ds := c.parse(name, src)
	c.diags = c.diags.Extend(ds)
	if parser.GaveUp(ds) {
		c.gaveUp = true
	}
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
		if why := c.importRefused(imp.path, target); why != "" {
			c.report(diag.Errorf(imp.where, "E218", "Import not allowed: "+imp.path, why))
			continue
		}
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

// SourceExt is the extension of every file an import may name.
const SourceExt = ".whisper"

// importRefused returns why target (written as path) may not be imported,
// or "" when it may. The rule: an import names a .whisper file inside the
// directory tree of a root file, or of a directory the user allowed with
// Options.ImportDirs; symbolic links are followed before the check, so a
// link cannot lead outside. The file is not read when refused, so nothing
// of it can appear in a diagnostic.
func (c *checker) importRefused(path, target string) string {
	if !strings.HasSuffix(target, SourceExt) {
		return "An import names a .whisper file; " + quoteBase(target) + " is not one, so whisperc does not read it. " +
			"Import the .whisper file that declares what you need."
	}
	if ImportAllowed(target, c.importDirs()) {
		return ""
	}
	return "Imports may read only .whisper files inside the directory of the file being checked (" + c.importDirs()[0] +
		") and its subdirectories; " + quoteBase(path) + " lies outside. Move the file into the project, " +
		"or allow its directory with --import-dir DIR."
}

func quoteBase(p string) string { return "\"" + filepath.Base(p) + "\"" }

// importDirs returns the directories imports may read from: each root
// file's, then Options.ImportDirs.
func (c *checker) importDirs() []string {
	var dirs []string
	for _, r := range c.roots {
		dirs = append(dirs, filepath.Dir(r))
	}
	return append(dirs, c.opts.ImportDirs...)
}

// ImportAllowed reports whether target lies inside one of dirs (or their
// subdirectories), both lexically and after resolving symbolic links.
func ImportAllowed(target string, dirs []string) bool {
	lexical, resolved := absClean(target), resolveLinks(target)
	for _, d := range dirs {
		if within(lexical, absClean(d)) && within(resolved, resolveLinks(d)) {
			return true
		}
	}
	return false
}

func absClean(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// resolveLinks returns p, absolute, with every symbolic link resolved; for
// a file that does not exist (yet), the links of its directory.
func resolveLinks(p string) string {
	a := absClean(p)
	if r, err := filepath.EvalSymlinks(a); err == nil {
		return r
	}
	if _, err := os.Lstat(a); err == nil {
		// A dangling or looping link: keep its own path, which reading
		// will then fail on.
		return a
	}
	if r, err := filepath.EvalSymlinks(filepath.Dir(a)); err == nil {
		return filepath.Join(r, filepath.Base(a))
	}
	return a
}

// within reports whether path p lies in directory dir or below it.
func within(p, dir string) bool {
	if p == dir {
		return true
	}
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
