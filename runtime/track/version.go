package track

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/modelwhisperer/whisperc/compiler"
)

// Versioning (ML008). DVC 3.x: next to a file f we write f.dvc
//
//	outs:
//	- md5: <md5 of the content>
//	  size: <bytes>
//	  hash: md5
//	  path: <base name of f>
//
// add f to the .gitignore of its directory, and, when f lies in a DVC
// repository (a parent holds .dvc/), copy its content into the cache at
// .dvc/cache/files/md5/<first two hex digits>/<the other 30>. git-lfs: we
// add a `filter=lfs diff=lfs merge=lfs -text` line for f to the
// .gitattributes of its git repository and, when there is one, store the
// content in .git/lfs/objects/<oid[0:2]>/<oid[2:4]>/<oid>, where git-lfs
// keeps it; the LFS pointer (version, oid sha256:<hex>, size) goes to
// the run directory (lfs/<path>), and `git add` produces the same
// pointer.

// version versions one file as kind says and returns the record and a
// note for the user.
func (r *Run) version(kind compiler.Versioning, path string, d Digest) (*VersionRecord, string, error) {
	switch kind {
	case compiler.VersioningDVC:
		return versionDVC(path, d)
	case compiler.VersioningGitLFS:
		return r.versionLFS(path, d)
	}
	return &VersionRecord{Kind: "none"}, "", nil
}

// DVCFile is what we write to (and read from) a .dvc file.
type DVCFile struct {
	MD5  string
	Size int64
	Path string
}

// dvcText renders a single-output DVC 3.x .dvc file.
func dvcText(f DVCFile) []byte {
	return []byte(fmt.Sprintf("outs:\n- md5: %s\n  size: %d\n  hash: md5\n  path: %s\n", f.MD5, f.Size, yamlPath(f.Path)))
}

// yamlPath quotes a path when YAML would read it as something else.
func yamlPath(p string) string {
	if p == "" || strings.ContainsAny(p, ":#'\"{}[],&*!|>%@`") || strings.TrimSpace(p) != p {
		return yamlQuote(p)
	}
	return p
}

// ReadDVCFile reads the first output of a .dvc file (the form we write:
// DVC's own files with one output read the same way).
func ReadDVCFile(name string) (DVCFile, error) {
	b, err := readBounded(name, 1<<20)
	if err != nil {
		return DVCFile{}, err
	}
	var f DVCFile
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "- "))
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = yamlUnquote(v)
		switch k {
		case "md5":
			if f.MD5 == "" {
				f.MD5 = v
			}
		case "size":
			if f.Size == 0 {
				f.Size, _ = strconv.ParseInt(v, 10, 64)
			}
		case "path":
			if f.Path == "" {
				f.Path = v
			}
		}
	}
	if len(f.MD5) != 32 || f.Path == "" {
		return f, fmt.Errorf("%s: not a DVC file with an md5 output", name)
	}
	return f, nil
}

func versionDVC(path string, d Digest) (*VersionRecord, string, error) {
	dvcName := path + ".dvc"
	rec := &VersionRecord{Kind: "dvc", ID: d.MD5, File: dvcName}
	var note string
	if old, err := ReadDVCFile(dvcName); err == nil && old.MD5 != d.MD5 {
		note = fmt.Sprintf("%s changed since it was last versioned (md5 %s, now %s); %s updated", path, old.MD5, d.MD5, dvcName)
	}
	if err := writeFileAtomic(dvcName, dvcText(DVCFile{MD5: d.MD5, Size: d.Size, Path: filepath.Base(path)})); err != nil {
		return nil, "", err
	}
	if err := gitignoreAdd(filepath.Dir(path), "/"+filepath.Base(path)); err != nil {
		return nil, "", err
	}
	root := findUp(filepath.Dir(path), ".dvc")
	if root == "" {
		rec.Note = "not in a DVC repository (no .dvc/ above it): the .dvc file is written, the content is not cached"
		return rec, note, nil
	}
	cache := DVCCachePath(root, d.MD5)
	if err := copyInto(path, cache, d.Size); err != nil {
		return nil, "", fmt.Errorf("storing %s in the DVC cache: %w", path, err)
	}
	rec.Cache = cache
	return rec, note, nil
}

// DVCCachePath is where DVC 3.x keeps content with the given md5 in the
// repository at root.
func DVCCachePath(root, md5 string) string {
	return filepath.Join(root, ".dvc", "cache", "files", "md5", md5[:2], md5[2:])
}

// LFSObjectPath is where git-lfs keeps the object oid in the repository
// whose git directory is gitDir.
func LFSObjectPath(gitDir, oid string) string {
	return filepath.Join(gitDir, "lfs", "objects", oid[:2], oid[2:4], oid)
}

// LFSPointer is the git-lfs pointer file (spec v1) of content with the
// given sha256 and size.
func LFSPointer(sha string, size int64) []byte {
	return []byte(fmt.Sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", sha, size))
}

func (r *Run) versionLFS(path string, d Digest) (*VersionRecord, string, error) {
	rec := &VersionRecord{Kind: "git_lfs", ID: "sha256:" + d.SHA256}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", err
	}
	rel := strings.TrimPrefix(filepath.ToSlash(abs), "/")
	pointer := filepath.Join(r.Dir, "lfs", filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(pointer), 0o755); err != nil {
		return nil, "", err
	}
	if err := writeFileAtomic(pointer, LFSPointer(d.SHA256, d.Size)); err != nil {
		return nil, "", err
	}
	top := findUp(filepath.Dir(abs), ".git")
	if top == "" {
		rec.Note = "not in a git repository: the LFS pointer is in the run directory, the content is not stored"
		return rec, "", nil
	}
	relToRepo, err := filepath.Rel(top, abs)
	if err != nil {
		return nil, "", err
	}
	attrs := filepath.Join(top, ".gitattributes")
	if err := gitattributesTrack(attrs, filepath.ToSlash(relToRepo)); err != nil {
		return nil, "", err
	}
	rec.File = attrs
	gitDir := filepath.Join(top, ".git")
	if st, err := os.Stat(gitDir); err != nil || !st.IsDir() {
		rec.Note = "the repository's .git is not a directory (a worktree or submodule): the content is not stored"
		return rec, "", nil
	}
	obj := LFSObjectPath(gitDir, d.SHA256)
	if err := copyInto(path, obj, d.Size); err != nil {
		return nil, "", fmt.Errorf("storing %s in the git-lfs store: %w", path, err)
	}
	rec.Cache = obj
	return rec, "", nil
}

// gitattributesTrack adds an LFS line for pattern to a .gitattributes,
// unless one is there.
func gitattributesTrack(name, pattern string) error {
	pattern = strings.ReplaceAll(pattern, " ", "[[:space:]]")
	line := pattern + " filter=lfs diff=lfs merge=lfs -text"
	return appendLineOnce(name, line, func(l string) bool {
		f := strings.Fields(l)
		return len(f) > 0 && f[0] == pattern && strings.Contains(l, "filter=lfs")
	})
}

// gitignoreAdd adds entry to dir/.gitignore unless it is there.
func gitignoreAdd(dir, entry string) error {
	return appendLineOnce(filepath.Join(dir, ".gitignore"), entry, func(l string) bool { return strings.TrimSpace(l) == entry })
}

func appendLineOnce(name, line string, has func(string) bool) error {
	b, err := os.ReadFile(name)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if has(l) {
			return nil
		}
	}
	if len(b) > 0 && !bytes.HasSuffix(b, []byte("\n")) {
		b = append(b, '\n')
	}
	return writeFileAtomic(name, append(b, line+"\n"...))
}

// findUp returns the first directory at or above dir that holds name.
func findUp(dir, name string) string {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// copyInto copies src to dst (read-only, as DVC and git-lfs keep their
// caches) unless dst already holds size bytes; content addressing makes
// an existing object the same content.
func copyInto(src, dst string, size int64) error {
	if st, err := os.Stat(dst); err == nil && st.Size() == size {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, in)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		os.Chmod(tmp.Name(), 0o444)
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

func readBounded(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, limit)
	}
	return b, nil
}

// Output records a file or directory a stage wrote (a checkpoint, an
// adapter, an export): its hashes, and its version under the version
// block's checkpoints setting. step is the training step of a
// checkpoint, 0 for a final output.
func (r *Run) Output(stage, kind, path string, step int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	names, ds, err := r.hasher.Files(path)
	if err != nil {
		return r.fail(fmt.Errorf("hashing output %s: %w", path, err))
	}
	versioning := compiler.VersioningNone
	if v := r.prog.Version; v != nil && v.Checkpoints != compiler.VersioningInvalid && versioned(kind) {
		versioning = v.Checkpoints
	}
	for i, n := range names {
		rec := FileRecord{Stage: stage, Kind: kind, Path: n, Size: ds[i].Size, SHA256: ds[i].SHA256, MD5: ds[i].MD5, Step: step}
		v, note, err := r.version(versioning, n, ds[i])
		if err != nil {
			return r.fail(fmt.Errorf("versioning %s: %w", n, err))
		}
		rec.Version = v
		if note != "" {
			r.Report = append(r.Report, note)
		}
		r.m.Outputs = append(r.m.Outputs, rec)
	}
	return nil
}

// versioned reports whether outputs of kind are checkpoints that the
// version block's checkpoints setting covers.
func versioned(kind string) bool {
	switch kind {
	case "checkpoint", "adapter", "model":
		return true
	}
	return false
}
