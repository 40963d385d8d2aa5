package lsp

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/source"
	"github.com/modelwhisperer/whisperc/stdlib"
	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"
)

// symbolAt returns the declaration named or referenced at off in the
// analysis's document, using the checker's side tables: a declaration's
// name, a reference to it, or a variable use (var.NAME).
func symbolAt(a *analysis, off int) (*compiler.Decl, source.Range, bool) {
	p := a.prog
	if p == nil {
		return nil, source.Range{}, false
	}
	in := func(r source.Range) bool {
		return r.Filename == a.doc.Path && r.Start.Byte <= off && off <= r.End.Byte && !r.Empty()
	}
	for _, d := range p.Decls {
		if in(d.NameRange) && d.NameRange != d.KindRange {
			return d, d.NameRange, true
		}
	}
	for _, r := range p.References {
		if in(r.Range) && r.Decl != nil {
			return r.Decl, r.Range, true
		}
	}
	for _, v := range p.VarUses {
		if in(v.Range) && v.Var != nil && v.Var.Decl != nil {
			return v.Var.Decl, v.Range, true
		}
	}
	return nil, source.Range{}, false
}

// sites returns every range that names d: its declaration (when
// includeDecl) and every reference and variable use, sorted by file and
// offset.
func sites(p *compiler.Program, d *compiler.Decl, includeDecl bool) []source.Range {
	var out []source.Range
	if includeDecl {
		out = append(out, d.NameRange)
	}
	for _, r := range p.References {
		if r.Decl == d {
			out = append(out, r.Range)
		}
	}
	for _, v := range p.VarUses {
		if v.Var != nil && v.Var.Decl == d {
			out = append(out, v.Range)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Filename != out[j].Filename {
			return out[i].Filename < out[j].Filename
		}
		return out[i].Start.Byte < out[j].Start.Byte
	})
	return out
}

// importingPrograms returns the analyses of the programs, other than a's,
// that read the file at path: those of the open documents, and those rooted
// at .whisper files that are not open (see closedImporters). incomplete
// says why the search could not examine every candidate ("" when it did).
func (s *server) importingPrograms(ctx context.Context, a *analysis, path string) (progs []*analysis, incomplete string) {
	for _, doc := range s.docs.all() {
		if doc.URI == a.doc.URI {
			continue
		}
		b := s.analyse(ctx, doc, nil)
		if b == nil {
			if ctx.Err() != nil {
				return progs, "the request was cancelled"
			}
			continue
		}
		if b.prog != nil && b.reads(path) {
			progs = append(progs, b)
		}
	}
	found := s.closedImporters(ctx, path)
	return append(progs, found.programs...), found.incomplete
}

// allSites is sites extended to the other programs that read the
// declaring file (progs, from importingPrograms): asked in the file that
// declares a model, find-references and rename also reach the files that
// use it through an import, open or not. Ranges are deduplicated (files
// shared by several closures are seen once).
func (s *server) allSites(a *analysis, d *compiler.Decl, includeDecl bool, progs []*analysis) []source.Range {
	out := sites(a.prog, d, includeDecl)
	for _, b := range progs {
		if od := b.prog.Decl(d.Name); od != nil && od.File == d.File {
			out = append(out, sites(b.prog, od, false)...)
		}
	}
	type key struct {
		file       string
		start, end int
	}
	seen := map[key]bool{}
	uniq := out[:0]
	for _, r := range out {
		k := key{r.Filename, r.Start.Byte, r.End.Byte}
		if !seen[k] {
			seen[k] = true
			uniq = append(uniq, r)
		}
	}
	sort.Slice(uniq, func(i, j int) bool {
		if uniq[i].Filename != uniq[j].Filename {
			return uniq[i].Filename < uniq[j].Filename
		}
		return uniq[i].Start.Byte < uniq[j].Start.Byte
	})
	return uniq
}

// Definition jumps from a reference (or a variable use) to the
// declaration's name, in whichever file of the import closure declares it.
func (s *server) Definition(ctx context.Context, params *protocol.DefinitionParams) (protocol.DefinitionResult, error) {
	a, err := s.analysisOf(ctx, params.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	off := Mapper{File: a.doc.File, Enc: s.encoding()}.Offset(params.Position)
	for _, imp := range a.tree.imports {
		if imp.PathStart <= off && off <= imp.PathEnd {
			return s.importDefinition(a, imp), nil
		}
	}
	d, _, ok := symbolAt(a, off)
	if !ok {
		return protocol.LocationSlice{}, nil
	}
	loc, ok := s.location(a, d.NameRange)
	if !ok {
		return protocol.LocationSlice{}, nil
	}
	return protocol.LocationSlice{loc}, nil
}

// importDefinition is the definition of an import's path: the start of the
// file it names, when the analysis could read it.
func (s *server) importDefinition(a *analysis, imp importStmt) protocol.LocationSlice {
	p := resolveImport(a.doc.Path, imp.Path)
	if _, ok := a.unit[p]; !ok || p == "" {
		return protocol.LocationSlice{}
	}
	return protocol.LocationSlice{{URI: s.uriOf(p), Range: protocol.Range{}}}
}

// References lists every use of the declaration at the cursor across the
// import closure, and the declaration itself when the client asks.
func (s *server) References(ctx context.Context, params *protocol.ReferenceParams) ([]protocol.Location, error) {
	a, err := s.analysisOf(ctx, params.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	off := Mapper{File: a.doc.File, Enc: s.encoding()}.Offset(params.Position)
	d, _, ok := symbolAt(a, off)
	if !ok {
		return []protocol.Location{}, nil
	}
	progs, incomplete := s.importingPrograms(ctx, a, d.File)
	if incomplete != "" {
		s.logf("references to %s: not every file that may import %s was searched: %s", d.Name, d.File, incomplete)
	}
	out := []protocol.Location{}
	for _, r := range s.allSites(a, d, params.Context.IncludeDeclaration, progs) {
		if loc, ok := s.location(a, r); ok {
			out = append(out, loc)
		}
	}
	return out, nil
}

// PrepareRename says whether the cursor is on something renameable and
// which range the new name replaces.
func (s *server) PrepareRename(ctx context.Context, params *protocol.PrepareRenameParams) (protocol.PrepareRenameResult, error) {
	a, err := s.analysisOf(ctx, params.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	m := Mapper{File: a.doc.File, Enc: s.encoding()}
	d, r, ok := symbolAt(a, m.Offset(params.Position))
	if !ok {
		return nil, fmt.Errorf("there is no declaration or reference here to rename")
	}
	r = s.nameRange(a, d, r)
	pr := m.SourceRange(r)
	return &protocol.PrepareRenamePlaceholder{Range: pr, Placeholder: d.Name}, nil
}

// nameRange narrows a site to the declaration's name: a variable use
// `var.lr` is renamed at `lr`, and a field reference `sft.output` at `sft`.
func (s *server) nameRange(a *analysis, d *compiler.Decl, r source.Range) source.Range {
	f := s.fileOf(a, r.Filename)
	if f == nil {
		return r
	}
	src := f.Src
	for i := r.Start.Byte; i+len(d.Name) <= r.End.Byte && i+len(d.Name) <= len(src); i++ {
		if string(src[i:i+len(d.Name)]) != d.Name {
			continue
		}
		before := i == 0 || !isIdentByte(src[i-1])
		after := i+len(d.Name) >= len(src) || !isIdentByte(src[i+len(d.Name)])
		if before && after && !(i >= 4 && string(src[i-4:i]) == "var." && d.Kind != "variable") {
			return f.Range(i, i+len(d.Name))
		}
	}
	return r
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Rename renames a declaration and every use of it across the import
// closure. The new name must be an identifier that is not a keyword and
// not already declared.
func (s *server) Rename(ctx context.Context, params *protocol.RenameParams) (*protocol.WorkspaceEdit, error) {
	a, err := s.analysisOf(ctx, params.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	m := Mapper{File: a.doc.File, Enc: s.encoding()}
	d, _, ok := symbolAt(a, m.Offset(params.Position))
	if !ok {
		return nil, fmt.Errorf("there is no declaration or reference here to rename")
	}
	name := params.NewName
	if !isIdentifier(name) {
		return nil, fmt.Errorf("%q is not an identifier: use ASCII letters, digits and _, starting with a letter or _", name)
	}
	if name == "var" || name == "true" || name == "false" || name == "import" {
		return nil, fmt.Errorf("%q is reserved", name)
	}
	if _, ok := stdlib.LookupBlock(name); ok {
		return nil, fmt.Errorf("%q is a block kind; choose another name", name)
	}
	if other := a.prog.Decl(name); other != nil && other != d {
		return nil, fmt.Errorf("%q is already declared (a %s in %s)", name, other.Kind, other.File)
	}
	// Every program that reads the declaring file must be renamed with
	// it, or the rename would break it silently: refuse when some could
	// not be examined.
	progs, incomplete := s.importingPrograms(ctx, a, d.File)
	if incomplete != "" {
		return nil, fmt.Errorf("cannot rename %s safely: not every file that may import %s could be searched (%s)", d.Name, filepath.Base(d.File), incomplete)
	}
	for _, b := range progs {
		if other := b.prog.Decl(name); other != nil {
			return nil, fmt.Errorf("%q is already declared (a %s in %s)", name, other.Kind, other.File)
		}
		if b.prog.Decl(d.Name) == nil {
			// The program reads the file but resolves the name to
			// nothing: its checker failed on it, so its uses are unknown.
			return nil, fmt.Errorf("cannot rename %s safely: %s imports %s but does not check; fix its errors first", d.Name, filepath.Base(b.doc.Path), filepath.Base(d.File))
		}
	}
	changes := map[uri.URI][]protocol.TextEdit{}
	for _, r := range s.allSites(a, d, true, progs) {
		r = s.nameRange(a, d, r)
		f := s.fileOf(a, r.Filename)
		if f == nil {
			continue
		}
		em := Mapper{File: f, Enc: s.encoding()}
		u := s.uriOf(r.Filename)
		changes[u] = append(changes[u], protocol.TextEdit{Range: em.SourceRange(r), NewText: name})
	}
	return &protocol.WorkspaceEdit{Changes: changes}, nil
}

// isIdentifier reports whether s is a .whisper identifier.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	b := []byte(s)
	if !isIdentStart(b, 0) {
		return false
	}
	return scanIdent(b, 0) == len(b)
}

// DocumentHighlight marks, in this document, the declaration at the cursor
// (as written) and every use of it (as read).
func (s *server) DocumentHighlight(ctx context.Context, params *protocol.DocumentHighlightParams) ([]protocol.DocumentHighlight, error) {
	a, err := s.analysisOf(ctx, params.TextDocument.URI)
	if err != nil {
		return nil, err
	}
	m := Mapper{File: a.doc.File, Enc: s.encoding()}
	d, _, ok := symbolAt(a, m.Offset(params.Position))
	out := []protocol.DocumentHighlight{}
	if !ok {
		return out, nil
	}
	for _, r := range sites(a.prog, d, true) {
		if r.Filename != a.doc.Path {
			continue
		}
		kind := protocol.DocumentHighlightKindRead
		if r == d.NameRange {
			kind = protocol.DocumentHighlightKindWrite
		}
		out = append(out, protocol.DocumentHighlight{Range: m.SourceRange(s.nameRange(a, d, r)), Kind: kind})
	}
	return out, nil
}
