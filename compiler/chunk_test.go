package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/source"
)

// A chunked test file holds several .whisper programs separated by lines
// of `---`. A comment `### "regexp"` (after # or //) on a line expects a
// diagnostic whose subject starts on that line and whose text
// "severity[CODE]: summary\ndetail" matches the regexp (case-insensitive,
// . matching newlines). Several expectations may follow one ###. Every
// diagnostic must be expected and every expectation met. Each chunk is
// padded with blank lines so that line numbers are those of the whole
// file, as in starlark-go's internal/chunkedfile.

type chunk struct {
	src    string
	expect map[int][]string // line → patterns
}

var expectRe = regexp.MustCompile(`###((?:\s*"(?:[^"\\]|\\.)*")+)`)
var quotedRe = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

func readChunks(t *testing.T, path string) []chunk {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	var out []chunk
	cur := chunk{expect: map[int][]string{}}
	start := 0
	for i, line := range lines {
		if strings.TrimRight(line, "\r\n") == "---" {
			out = append(out, cur)
			cur = chunk{expect: map[int][]string{}}
			start = i + 1
			continue
		}
		if cur.src == "" {
			cur.src = strings.Repeat("\n", start)
		}
		cur.src += line
		if m := expectRe.FindStringSubmatch(line); m != nil {
			for _, q := range quotedRe.FindAllString(m[1], -1) {
				p, err := strconv.Unquote(q)
				if err != nil {
					t.Fatalf("%s:%d: bad expectation %s: %v", path, i+1, q, err)
				}
				cur.expect[i+1] = append(cur.expect[i+1], p)
			}
		}
	}
	return append(out, cur)
}

func diagText(d *diag.Diagnostic) string {
	return fmt.Sprintf("%s[%s]: %s\n%s", d.Severity, d.Code, d.Summary, d.Detail)
}

func TestChunks(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "check", "*.whisper"))
	if len(files) == 0 {
		t.Fatal("no test files")
	}
	for _, path := range files {
		for ci, ch := range readChunks(t, path) {
			t.Run(fmt.Sprintf("%s#%d", filepath.Base(path), ci), func(t *testing.T) {
				src := ch.src
				read := func(name string) ([]byte, error) {
					if name == path {
						return []byte(src), nil
					}
					return nil, os.ErrNotExist
				}
				prog, ds := Check(path, Options{ReadFile: read})
				checkRanges(t, prog, ds)
				used := map[*diag.Diagnostic]bool{}
				for line, pats := range ch.expect {
					for _, p := range pats {
						re, err := regexp.Compile("(?is)" + p)
						if err != nil {
							t.Fatalf("%s:%d: %v", path, line, err)
						}
						found := false
						for _, d := range ds {
							if used[d] || d.Subject == nil || d.Subject.Start.Line != line {
								continue
							}
							if re.MatchString(diagText(d)) {
								used[d], found = true, true
								break
							}
						}
						if !found {
							t.Errorf("%s:%d: no diagnostic matching %q", path, line, p)
						}
					}
				}
				for _, d := range ds {
					if !used[d] {
						t.Errorf("unexpected %s", strings.ReplaceAll(diag.Text(prog.Files, diag.Diagnostics{d}), "\n", "\n\t"))
					}
				}
			})
		}
	}
}

// checkRanges asserts every diagnostic's ranges lie within its file.
func checkRanges(t testing.TB, prog *Program, ds diag.Diagnostics) {
	t.Helper()
	for _, d := range ds {
		if d.Severity == diag.SeverityInvalid || d.Code == "" || d.Summary == "" {
			t.Errorf("malformed diagnostic %+v", d)
		}
		for _, r := range collectRanges(d) {
			f := prog.Files[r.Filename]
			if f == nil {
				t.Errorf("%s: range in unknown file %q", d.Code, r.Filename)
				continue
			}
			if r.Start.Byte < 0 || r.End.Byte < r.Start.Byte || r.End.Byte > len(f.Src) {
				t.Errorf("%s: range %d..%d outside %s (%d bytes)", d.Code, r.Start.Byte, r.End.Byte, r.Filename, len(f.Src))
			}
		}
	}
}

// collectRanges returns every range a diagnostic mentions.
func collectRanges(d *diag.Diagnostic) []source.Range {
	var out []source.Range
	if d.Subject != nil {
		out = append(out, *d.Subject)
	}
	if d.Context != nil {
		out = append(out, *d.Context)
	}
	for _, n := range d.Notes {
		out = append(out, n.Range)
	}
	if d.Suggestion != nil {
		out = append(out, d.Suggestion.Range)
	}
	return out
}
