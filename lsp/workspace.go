package lsp

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/source"
)

// Finding the files that import a declaring file, open in the editor or
// not, so that references and rename reach every program that uses a
// declaration.
//
// By the import rule (see importAllowed) a program reads only files inside
// its root file's directory tree. The programs that can read a file X are
// therefore those rooted at a .whisper file directly in X's directory or in
// one of its ancestors. The server lists those directories, from X's up to
// the innermost workspace folder that holds X (when no folder does: up to
// the nearest directory with a .git entry, else X's own directory), and
// reads nothing below them but what the imports name.
const (
	// maxImporterCandidates bounds the .whisper files read in one search.
	maxImporterCandidates = 1000
	// maxImporterBytes bounds the bytes read in one search.
	maxImporterBytes = 64 << 20
	// maxDirEntries bounds the entries listed in one directory.
	maxDirEntries = 10000
)

// workspaceFolders records the client's workspace folders (or its root).
func (s *server) workspaceFolders(params *protocol.InitializeParams) {
	var dirs []string
	if fs, ok := params.WorkspaceFolders.Get(); ok {
		for _, f := range fs {
			if f.URI.IsFile() {
				dirs = append(dirs, filepath.Clean(f.URI.FsPath()))
			}
		}
	}
	if len(dirs) == 0 && params.RootURI != nil && params.RootURI.IsFile() {
		dirs = append(dirs, filepath.Clean(params.RootURI.FsPath()))
	}
	if p, ok := params.RootPath.Get(); ok && len(dirs) == 0 && filepath.IsAbs(p) {
		dirs = append(dirs, filepath.Clean(p))
	}
	s.mu.Lock()
	s.folders = dirs
	s.mu.Unlock()
}

// importerSearch is the result of a search for the programs that read a
// file: the analyses of those not open in the editor, and whether the
// search saw every candidate.
type importerSearch struct {
	programs []*analysis
	// incomplete says why some candidates were not examined ("" when
	// all were).
	incomplete string
}

// closedImporters finds the .whisper files that are not open in the editor
// and whose programs read the file at path, and checks each of them.
func (s *server) closedImporters(ctx context.Context, path string) importerSearch {
	var res importerSearch
	if !filepath.IsAbs(path) {
		return res // an untitled buffer: nothing can import it
	}
	dirs, _ := s.resolveImportDirs(s.currentConfig().importDirs)
	for _, d := range dirs {
		if within(path, d) {
			// Programs anywhere may import from an import directory:
			// the directories above it do not hold them all.
			res.incomplete = "it lies under an import directory (whisper.importDirs), which programs elsewhere may import"
		}
	}
	seen, bytes := 0, 0
	for _, dir := range s.searchDirs(path) {
		names, complete := listWhisper(dir)
		if !complete {
			res.incomplete = fmt.Sprintf("%s holds more than %d entries", dir, maxDirEntries)
		}
		for _, name := range names {
			if ctx.Err() != nil {
				res.incomplete = "the request was cancelled"
				return res
			}
			p := filepath.Join(dir, name)
			if p == path {
				continue
			}
			if _, open := s.docs.byPath(p); open {
				continue // open documents are analysed as such
			}
			if seen++; seen > maxImporterCandidates {
				res.incomplete = fmt.Sprintf("more than %d .whisper files may import it", maxImporterCandidates)
				return res
			}
			a, n := s.importerAnalysis(p, path)
			if bytes += n; bytes > maxImporterBytes {
				res.incomplete = fmt.Sprintf("the files that may import it hold more than %d MiB", maxImporterBytes>>20)
				return res
			}
			if a != nil {
				res.programs = append(res.programs, a)
			}
		}
	}
	return res
}

// searchDirs returns the directories whose .whisper files may root a
// program that reads path: its directory and each ancestor, up to the
// innermost workspace folder holding it; without one, up to the nearest
// directory with a .git entry, or path's directory alone.
func (s *server) searchDirs(path string) []string {
	s.mu.Lock()
	folders := s.folders
	s.mu.Unlock()
	top := ""
	for _, f := range folders {
		if within(path, f) && len(f) > len(top) {
			top = f
		}
	}
	if top == "" {
		top = filepath.Dir(path)
		for d := top; filepath.Dir(d) != d; d = filepath.Dir(d) {
			if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
				top = d
				break
			}
		}
	}
	var dirs []string
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		dirs = append(dirs, d)
		if d == top || filepath.Dir(d) == d {
			return dirs
		}
	}
}

// within reports whether p lies in directory dir or below it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// listWhisper returns the names of the regular .whisper files in dir (at
// most maxDirEntries entries are listed) and whether the listing was
// complete. An unreadable directory holds nothing.
func listWhisper(dir string) ([]string, bool) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, true
	}
	defer f.Close()
	entries, err := f.ReadDir(maxDirEntries)
	complete := err == nil || err == io.EOF
	if complete && len(entries) == maxDirEntries {
		more, _ := f.ReadDir(1)
		complete = len(more) == 0
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), compiler.SourceExt) && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	return names, complete
}

// importerAnalysis returns the checked program rooted at the file root when
// it reads the file at path, nil otherwise, and the bytes it read. The
// tolerant trees decide first, cheaply, whether the import closure reaches
// path; only then is the program checked (never planned).
func (s *server) importerAnalysis(root, path string) (*analysis, int) {
	src, err := s.readSource(root)
	if err != nil {
		return nil, 0
	}
	d := &document{URI: uri.File(root), Path: root, File: source.NewFile(root, src)}
	a := &analysis{doc: d, tree: parseTree(src), unit: make(map[string]*unitFile)}
	a.importDirs, _ = s.resolveImportDirs(s.currentConfig().importDirs)
	a.unit[root] = &unitFile{path: root, file: d.File, tree: a.tree, via: -1}
	a.order = append(a.order, root)
	if len(a.tree.imports) == 0 {
		return nil, len(src)
	}
	s.followImports(a)
	n := 0
	for _, uf := range a.unit {
		n += len(uf.file.Src)
	}
	if !a.reads(path) {
		return nil, n
	}
	read := func(p string) ([]byte, error) {
		if uf, ok := a.unit[p]; ok {
			return uf.file.Src, nil
		}
		return s.readSource(p)
	}
	a.prog, a.diags = compiler.Check(root, compiler.Options{ReadFile: read, ImportDirs: a.importDirs})
	if a.prog == nil {
		return nil, n
	}
	return a, n
}
