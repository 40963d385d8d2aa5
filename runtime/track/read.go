package track

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// List reads every run under the track directory root
// (root/<pipeline>/<id>/manifest.json), sorted by id. Runs whose manifest
// cannot be read are returned in bad, each with its reason; a missing
// root is an error.
func List(root string) (runs []*Manifest, bad []error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, []error{fmt.Errorf("track dir %s: %w", root, unwrapPath(err))}
	}
	if !st.IsDir() {
		return nil, []error{fmt.Errorf("track dir %s is not a directory", root)}
	}
	pipes, err := os.ReadDir(root)
	if err != nil {
		return nil, []error{err}
	}
	for _, p := range pipes {
		if !p.IsDir() || p.Name() == "mlruns" || strings.HasPrefix(p.Name(), ".") {
			continue
		}
		ids, err := os.ReadDir(filepath.Join(root, p.Name()))
		if err != nil {
			bad = append(bad, err)
			continue
		}
		for _, id := range ids {
			if !id.IsDir() || !ValidID(id.Name()) {
				continue
			}
			m, err := ReadManifest(filepath.Join(root, p.Name(), id.Name()))
			if err != nil {
				bad = append(bad, err)
				continue
			}
			runs = append(runs, m)
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].ID < runs[j].ID })
	return runs, bad
}

// Find returns the directory and manifest of the run whose id is ref or
// starts with ref (like a git commit prefix). An unknown or ambiguous ref
// is an error naming the candidates.
func Find(root, ref string) (string, *Manifest, error) {
	if ref == "" {
		return "", nil, errors.New("no run id given")
	}
	runs, bad := List(root)
	if runs == nil && len(bad) == 1 && !strings.Contains(bad[0].Error(), "manifest") {
		return "", nil, bad[0]
	}
	var hits []*Manifest
	for _, m := range runs {
		if m.ID == ref {
			hits = []*Manifest{m}
			break
		}
		if strings.HasPrefix(m.ID, ref) {
			hits = append(hits, m)
		}
	}
	switch len(hits) {
	case 0:
		for _, b := range bad {
			if strings.Contains(b.Error(), ref) {
				return "", nil, b
			}
		}
		return "", nil, fmt.Errorf("no run %q in %s (whisperc runs %s lists them)", ref, root, root)
	case 1:
		return filepath.Join(root, hits[0].Pipeline, hits[0].ID), hits[0], nil
	}
	var ids []string
	for _, m := range hits {
		ids = append(ids, m.ID)
	}
	return "", nil, fmt.Errorf("run id %q is ambiguous: %s", ref, strings.Join(ids, ", "))
}

// maxLine bounds one metrics.jsonl line.
const maxLine = 1 << 20

// ReadPoints reads a run's metrics.jsonl. A last line without its
// newline (a run killed while writing) is ignored; any other malformed
// line is an error with its line number.
func ReadPoints(dir string) ([]Point, error) {
	name := filepath.Join(dir, MetricsFile)
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	var pts []Point
	for n := 1; ; n++ {
		line, err := readLine(br)
		if err == io.EOF {
			return pts, nil
		}
		if errors.Is(err, errPartialLine) {
			return pts, nil
		}
		if err != nil {
			return pts, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		var p Point
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return pts, fmt.Errorf("%s:%d: malformed metric: %v", name, n, err)
		}
		if p.Name == "" {
			return pts, fmt.Errorf("%s:%d: metric without a name", name, n)
		}
		pts = append(pts, p)
	}
}

var errPartialLine = errors.New("partial last line")

func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxLine)
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(line) > 0:
			return nil, errPartialLine
		default:
			return nil, err
		}
	}
}

// Change is one difference between two runs.
type Change struct {
	What string `json:"what"`
	A    string `json:"a"`
	B    string `json:"b"`
}

// Diff lists what differs between runs a and b: the pipeline sources
// line by line, variables, model and dataset hashes, the commit, and the
// final metrics.
func Diff(a, b *Manifest) []Change {
	var out []Change
	add := func(what, x, y string) {
		if x != y {
			out = append(out, Change{What: what, A: x, B: y})
		}
	}
	add("pipeline", a.Pipeline, b.Pipeline)
	add("whisperc version", a.Whisperc, b.Whisperc)
	add("status", string(a.Status), string(b.Status))
	for _, pr := range pairSources(a.Sources, b.Sources) {
		if pr[0].SHA256 != pr[1].SHA256 {
			out = append(out, lineDiff(filepath.Base(pr[0].Path), filepath.Base(pr[1].Path), pr[0].Text, pr[1].Text)...)
		}
	}
	for _, k := range unionKeys(a.Vars, b.Vars) {
		add("var."+k, a.Vars[k], b.Vars[k])
	}
	files := func(rs []FileRecord) map[string]string {
		m := map[string]string{}
		for _, r := range rs {
			m[r.Name+" "+filepath.Base(r.Path)] = short(r.SHA256)
		}
		return m
	}
	for _, kind := range []struct {
		what string
		a, b []FileRecord
	}{{"model", a.Models, b.Models}, {"dataset", a.Datasets, b.Datasets}} {
		fa, fb := files(kind.a), files(kind.b)
		for _, k := range unionKeys(fa, fb) {
			add(kind.what+" "+k, fa[k], fb[k])
		}
	}
	commit := func(g *Git) string {
		if g == nil {
			return ""
		}
		s := short(g.Commit)
		if g.Dirty {
			s += " (dirty)"
		}
		return s
	}
	add("commit", commit(a.Git), commit(b.Git))
	for _, k := range unionKeys(a.Final, b.Final) {
		add("metric "+k, fmtMetric(a.Final, k), fmtMetric(b.Final, k))
	}
	return out
}

func fmtMetric(m map[string]float64, k string) string {
	v, ok := m[k]
	if !ok {
		return ""
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// pairSources pairs the files of two runs: by base name, then the rest in
// order (the root file comes first in both, whatever it is called).
func pairSources(a, b []Source) [][2]Source {
	var pairs [][2]Source
	usedB := make([]bool, len(b))
	var restA []Source
	for _, sa := range a {
		found := false
		for j, sb := range b {
			if !usedB[j] && filepath.Base(sa.Path) == filepath.Base(sb.Path) {
				pairs = append(pairs, [2]Source{sa, sb})
				usedB[j], found = true, true
				break
			}
		}
		if !found {
			restA = append(restA, sa)
		}
	}
	var restB []Source
	for j, sb := range b {
		if !usedB[j] {
			restB = append(restB, sb)
		}
	}
	for i := 0; i < max(len(restA), len(restB)); i++ {
		var p [2]Source
		if i < len(restA) {
			p[0] = restA[i]
		}
		if i < len(restB) {
			p[1] = restB[i]
		}
		pairs = append(pairs, p)
	}
	return pairs
}

// lineDiff reports the lines (trimmed) that only one side has, each with
// its file and line number.
func lineDiff(fileA, fileB, a, b string) []Change {
	count := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			m[strings.TrimSpace(l)]++
		}
		return m
	}
	ca, cb := count(a), count(b)
	var out []Change
	for i, l := range strings.Split(a, "\n") {
		if t := strings.TrimSpace(l); t != "" && cb[t] < ca[t] {
			out = append(out, Change{What: fmt.Sprintf("%s:%d", fileA, i+1), A: t})
			ca[t]--
		}
	}
	ca, cb = count(a), count(b)
	for i, l := range strings.Split(b, "\n") {
		if t := strings.TrimSpace(l); t != "" && ca[t] < cb[t] {
			out = append(out, Change{What: fmt.Sprintf("%s:%d", fileB, i+1), B: t})
			cb[t]--
		}
	}
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	var ks []string
	for _, m := range []map[string]V{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				ks = append(ks, k)
			}
		}
	}
	sort.Strings(ks)
	return ks
}
