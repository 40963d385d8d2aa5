package lsp

import (
	"fmt"
	"sync"

	"github.com/modelwhisperer/whisperc/lang/source"
	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"
)

// maxDocumentBytes bounds the text the server keeps for one document. A
// .whisper file is a page or two; anything this large is not one, and the
// server refuses it instead of analysing megabytes on every keystroke.
const maxDocumentBytes = 16 << 20

// document is one open editor buffer at one version. A document is never
// modified in place: every change makes a new one, so analyses can hold on
// to the version they were computed from.
type document struct {
	URI     uri.URI
	Path    string // file-system path, or the URI when it is not a file
	Version int32
	File    *source.File

	treeOnce sync.Once
	tree     *syntaxTree
}

// syntax returns the document's tolerant tree, built once per version and
// shared by every request and analysis of it.
func (d *document) syntax() *syntaxTree {
	d.treeOnce.Do(func() { d.tree = parseTree(d.File.Src) })
	return d.tree
}

// documents is the set of open documents, keyed by URI.
type documents struct {
	mu   sync.Mutex
	docs map[uri.URI]*document
}

func newDocuments() *documents { return &documents{docs: make(map[uri.URI]*document)} }

// pathOf returns the file-system path of a document URI, or the URI itself
// for schemes other than file (untitled buffers, say).
func pathOf(u uri.URI) string {
	if u.IsFile() {
		if p := u.FsPath(); p != "" {
			return p
		}
	}
	return string(u)
}

// open records a newly opened document.
func (ds *documents) open(u uri.URI, version int32, text string) (*document, error) {
	if len(text) > maxDocumentBytes {
		return nil, fmt.Errorf("%s is %d bytes; the language server analyses documents up to %d bytes", u, len(text), maxDocumentBytes)
	}
	p := pathOf(u)
	d := &document{URI: u, Path: p, Version: version, File: source.NewFile(p, []byte(text))}
	ds.mu.Lock()
	ds.docs[u] = d
	ds.mu.Unlock()
	return d, nil
}

// get returns the current version of an open document.
func (ds *documents) get(u uri.URI) (*document, bool) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	d, ok := ds.docs[u]
	return d, ok
}

// byPath returns the open document whose file-system path is p.
func (ds *documents) byPath(p string) (*document, bool) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	for _, d := range ds.docs {
		if d.Path == p {
			return d, true
		}
	}
	return nil, false
}

// all returns every open document.
func (ds *documents) all() []*document {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	out := make([]*document, 0, len(ds.docs))
	for _, d := range ds.docs {
		out = append(out, d)
	}
	return out
}

// close forgets a document.
func (ds *documents) close(u uri.URI) {
	ds.mu.Lock()
	delete(ds.docs, u)
	ds.mu.Unlock()
}

// change applies content changes, in order, to the document's current text
// and records the new version. Ranges are interpreted in enc.
func (ds *documents) change(u uri.URI, version int32, changes []protocol.TextDocumentContentChangeEvent, enc Encoding) (*document, error) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	old, ok := ds.docs[u]
	if !ok {
		return nil, fmt.Errorf("change to %s, which is not open", u)
	}
	text, err := applyChanges(old.File, changes, enc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	d := &document{URI: u, Path: old.Path, Version: version, File: source.NewFile(old.Path, text)}
	ds.docs[u] = d
	return d, nil
}

// applyChanges returns the text of f after the content changes.
func applyChanges(f *source.File, changes []protocol.TextDocumentContentChangeEvent, enc Encoding) ([]byte, error) {
	text := f.Src
	for _, c := range changes {
		switch c := c.(type) {
		case *protocol.TextDocumentContentChangeWholeDocument:
			text = []byte(c.Text)
		case *protocol.TextDocumentContentChangePartial:
			m := Mapper{File: f, Enc: enc}
			start, end := m.Offsets(c.Range)
			next := make([]byte, 0, len(text)-(end-start)+len(c.Text))
			next = append(next, text[:start]...)
			next = append(next, c.Text...)
			next = append(next, text[end:]...)
			text = next
		default:
			return nil, fmt.Errorf("unsupported content change %T", c)
		}
		if len(text) > maxDocumentBytes {
			return nil, fmt.Errorf("document grew to %d bytes; the limit is %d", len(text), maxDocumentBytes)
		}
		f = source.NewFile(f.Name, text)
	}
	return text, nil
}
