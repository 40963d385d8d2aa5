package track

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// Digest is a file's content hashes, computed in one read: sha256 for the
// manifest and git-lfs, md5 for DVC.
type Digest struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	MD5    string `json:"md5"`
}

// hashCacheFile is the cache's name under the track directory.
const hashCacheFile = ".hashcache.json"

// Hasher hashes files, remembering each result by absolute path, size
// and modification time so that an unchanged multi-gigabyte model is not
// read again on the next run. The cache is a JSON file under the track
// directory; losing it costs only time.
type Hasher struct {
	path string
	mu   sync.Mutex
	ents map[string]cacheEntry
	// open opens a file for reading; tests count the bytes read.
	open func(name string) (io.ReadCloser, error)
}

type cacheEntry struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256"`
	MD5     string `json:"md5"`
}

// NewHasher returns a Hasher whose cache lives in dir (none when dir is
// ""). An unreadable or corrupt cache is ignored and rewritten.
func NewHasher(dir string) *Hasher {
	h := &Hasher{ents: map[string]cacheEntry{}, open: func(n string) (io.ReadCloser, error) { return os.Open(n) }}
	if dir != "" {
		h.path = filepath.Join(dir, hashCacheFile)
		if b, err := os.ReadFile(h.path); err == nil {
			if json.Unmarshal(b, &h.ents) != nil {
				h.ents = map[string]cacheEntry{}
			}
		}
	}
	return h
}

// File returns the digest of the regular file name, from the cache when
// its size and modification time are unchanged.
func (h *Hasher) File(name string) (Digest, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return Digest{}, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return Digest{}, err
	}
	if !st.Mode().IsRegular() {
		return Digest{}, fmt.Errorf("%s is not a regular file", name)
	}
	h.mu.Lock()
	e, ok := h.ents[abs]
	h.mu.Unlock()
	if ok && e.Size == st.Size() && e.ModTime == st.ModTime().UnixNano() {
		return Digest{Size: e.Size, SHA256: e.SHA256, MD5: e.MD5}, nil
	}
	f, err := h.open(abs)
	if err != nil {
		return Digest{}, err
	}
	defer f.Close()
	s, m := sha256.New(), md5.New()
	n, err := io.Copy(io.MultiWriter(s, m), f)
	if err != nil {
		return Digest{}, fmt.Errorf("hashing %s: %w", name, err)
	}
	d := Digest{Size: n, SHA256: hex.EncodeToString(s.Sum(nil)), MD5: hex.EncodeToString(m.Sum(nil))}
	// A file that changed while we read it is hashed, but not cached.
	if st2, err := os.Stat(abs); err == nil && st2.Size() == n && st2.ModTime().Equal(st.ModTime()) {
		h.mu.Lock()
		h.ents[abs] = cacheEntry{Size: n, ModTime: st.ModTime().UnixNano(), SHA256: d.SHA256, MD5: d.MD5}
		h.mu.Unlock()
	}
	return d, nil
}

// Files hashes name, or every regular file under it when it is a
// directory, in path order.
func (h *Hasher) Files(name string) ([]string, []Digest, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	if !st.IsDir() {
		names = []string{name}
	} else {
		err := filepath.WalkDir(name, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				names = append(names, p)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		sort.Strings(names)
	}
	ds := make([]Digest, len(names))
	for i, n := range names {
		if ds[i], err = h.File(n); err != nil {
			return nil, nil, err
		}
	}
	return names, ds, nil
}

// Save writes the cache back, dropping entries of files that no longer
// exist. Concurrent runs may each save; the last one wins, which only
// costs a re-hash.
func (h *Hasher) Save() error {
	if h.path == "" {
		return nil
	}
	h.mu.Lock()
	for p := range h.ents {
		if _, err := os.Stat(p); err != nil {
			delete(h.ents, p)
		}
	}
	b, err := json.Marshal(h.ents)
	h.mu.Unlock()
	if err != nil {
		return err
	}
	return writeFileAtomic(h.path, b)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
