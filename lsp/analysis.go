package lsp

import (
	"context"
	"path/filepath"
	"strings"

	"go.lsp.dev/uri"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
)

// maxImportedFiles bounds the import closure the server follows from one
// document, so a pathological workspace cannot make every keystroke read
// thousands of files.
const maxImportedFiles = 256

// analysis is everything the server knows about one version of a document:
// its tolerant tree, the trees of the files it imports, and the results of
// whisperc's phases (diagnostics and, when the program checks, the plan).
type analysis struct {
	doc  *document
	cfg  config
	tree *syntaxTree
	// unit holds the tolerant trees of the document and of every file in
	// its import closure, keyed by path; order lists the paths, the
	// document first.
	unit  map[string]*unitFile
	order []string
	diags diag.Diagnostics
	// settings are the errors in the server's settings (a target that
	// names no profile, an import directory that is none): they are
	// about no line of the document, and are shown at its start.
	settings []settingProblem
	// importDirs are the usable import directories of cfg, absolute.
	importDirs []string
	// prog is the checked program (partial when there are errors); nil
	// before the phases ran.
	prog *compiler.Program
	// memory is the planner's per-declaration memory estimate, keyed by
	// declaration name, when a plan could be built.
	memory map[string]memoryInfo
}

// unitFile is one file of a document's import closure.
type unitFile struct {
	path string
	file *source.File
	tree *syntaxTree
	// via is the index, in the document's tree, of the import statement
	// through which the file was first reached; -1 for the document.
	via int
}

// memoryInfo is what the planner predicts for one model or stage.
type memoryInfo struct {
	// Total is the peak bytes of the declaration.
	Total int64
	// Detail is a one-line breakdown ("weights 3.5 GiB, activations ...").
	Detail string
	// Fits is false when the stage does not fit the target.
	Fits bool
	// Device names the hardware the prediction is for.
	Device string
	// Stage is the plan stage with the peak ("train.sft").
	Stage string
}

// reads reports whether the analysis used the file at path.
func (a *analysis) reads(path string) bool {
	_, ok := a.unit[path]
	return ok
}

// readSource returns the text of path: the editor's buffer when the file is
// open, the disk otherwise.
func (s *server) readSource(path string) ([]byte, error) {
	if d, ok := s.docs.byPath(path); ok {
		return d.File.Src, nil
	}
	return s.opts.ReadFile(path)
}

// analyse returns the analysis of d, from the cache when this version was
// already analysed against the current target. Concurrent callers for the
// same version (the debounced publisher and the editor's requests) share
// one computation instead of competing for the CPU. It returns nil when
// ctx is cancelled first.
//
// early, when set, receives the check's diagnostics before the plan runs
// (see runPhases), when this call computes the analysis.
func (s *server) analyse(ctx context.Context, d *document, early func(*analysis)) *analysis {
	cfg := s.currentConfig()
	s.mu.Lock()
	if a, ok := s.cache[d.URI]; ok && a.doc == d && a.cfg.equal(cfg) {
		s.mu.Unlock()
		return a
	}
	if c, ok := s.inflight[d]; ok && c.cfg.equal(cfg) {
		s.mu.Unlock()
		select {
		case <-c.done:
			if c.a != nil {
				return c.a
			}
			return s.analyse(ctx, d, early) // its caller was cancelled; try again
		case <-ctx.Done():
			return nil
		}
	}
	c := &inflight{cfg: cfg, done: make(chan struct{})}
	s.inflight[d] = c
	s.mu.Unlock()

	a := s.compute(ctx, d, cfg, early)

	s.mu.Lock()
	if s.inflight[d] == c {
		delete(s.inflight, d)
	}
	c.a = a
	if a != nil && !c.stale {
		if old, ok := s.cache[d.URI]; !ok || old.doc.Version <= d.Version {
			s.cache[d.URI] = a
		}
	}
	s.mu.Unlock()
	close(c.done)
	return a
}

// syntaxOf returns the tolerant view of the current version of an open
// document and of its import closure, without running the phases: what
// completion, semantic tokens and the outline need, at keystroke speed.
// When the full analysis of this version is ready it is returned instead;
// otherwise the memory figures of the latest full analysis are carried
// over.
func (s *server) syntaxOf(ctx context.Context, u uri.URI) (*analysis, error) {
	d, ok := s.docs.get(u)
	if !ok {
		return nil, errNotOpen(u)
	}
	s.mu.Lock()
	prev := s.cache[u]
	s.mu.Unlock()
	if prev != nil && prev.doc == d {
		return prev, nil
	}
	a := &analysis{doc: d, tree: d.syntax(), unit: make(map[string]*unitFile)}
	a.importDirs, _ = s.resolveImportDirs(s.currentConfig().importDirs)
	a.unit[d.Path] = &unitFile{path: d.Path, file: d.File, tree: a.tree, via: -1}
	a.order = append(a.order, d.Path)
	s.followImports(a)
	if prev != nil {
		a.memory = prev.memory
	}
	return a, nil
}

// inflight is an analysis being computed; done closes when a is set (nil
// if it was cancelled).
type inflight struct {
	cfg  config
	done chan struct{}
	a    *analysis
	// stale is set when a file the analysis may have read changed while
	// it ran: its result answers the callers waiting for it, but is not
	// cached.
	stale bool
}

// compute analyses d with the settings cfg, or returns nil when ctx is
// cancelled.
func (s *server) compute(ctx context.Context, d *document, cfg config, early func(*analysis)) *analysis {
	if s.computing != nil {
		s.computing(d, true)
		defer s.computing(d, false)
	}
	if early != nil && len(d.File.Src) >= s.provisionalBytes {
		// A large document: checking it takes long. Parse the edit first
		// (the check then finds the parse done) and give the editor the
		// provisional diagnostics at once, before even the tolerant view.
		t, st, from := s.reparse(d.Path, d.File.Src)
		if st.Changed && ctx.Err() == nil {
			if p := s.provisional(d, cfg, t.Diags, st, from); p != nil {
				early(p)
			}
		}
	}
	a := &analysis{doc: d, cfg: cfg, tree: d.syntax(), unit: make(map[string]*unitFile)}
	a.importDirs, _ = s.resolveImportDirs(cfg.importDirs)
	a.settings = s.settingProblems(cfg)
	a.unit[d.Path] = &unitFile{path: d.Path, file: d.File, tree: a.tree, via: -1}
	a.order = append(a.order, d.Path)
	s.followImports(a)
	if ctx.Err() != nil {
		return nil
	}
	s.runPhases(ctx, a, early)
	if ctx.Err() != nil {
		return nil
	}
	return a
}

// followImports adds the tolerant trees of the document's import closure.
// Files that cannot be read are skipped here; the checker reports them.
func (s *server) followImports(a *analysis) {
	for i := 0; i < len(a.order) && len(a.order) < maxImportedFiles; i++ {
		uf := a.unit[a.order[i]]
		for k, imp := range uf.tree.imports {
			via := uf.via
			if i == 0 {
				via = k
			}
			p := resolveImport(uf.path, imp.Path)
			if _, seen := a.unit[p]; seen || p == "" || !importAllowed(a.doc.Path, p, a.importDirs) {
				continue
			}
			if od, ok := s.docs.byPath(p); ok { // open: its buffer and tree
				a.unit[p] = &unitFile{path: p, file: od.File, tree: od.syntax(), via: via}
				a.order = append(a.order, p)
				continue
			}
			src, err := s.opts.ReadFile(p)
			if err != nil || len(src) > maxDocumentBytes {
				continue
			}
			a.unit[p] = &unitFile{path: p, file: source.NewFile(p, src), tree: parseTree(src), via: via}
			a.order = append(a.order, p)
		}
	}
}

// importAllowed reports whether the program rooted at root may import the
// file at p, by the command line's rule: a .whisper file inside the root's
// directory tree or one of dirs (the import directories). A file refused
// is never read (the checker reports it).
func importAllowed(root, p string, dirs []string) bool {
	return filepath.IsAbs(root) && strings.HasSuffix(p, compiler.SourceExt) && compiler.ImportAllowed(p, append([]string{filepath.Dir(root)}, dirs...))
}

// resolveImport returns the path an import in the file at from names:
// relative to from's directory. Imports from documents that are not files
// (untitled buffers) cannot be resolved.
func resolveImport(from, path string) string {
	if path == "" {
		return ""
	}
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	if !filepath.IsAbs(from) {
		return ""
	}
	return filepath.Join(filepath.Dir(from), path)
}
