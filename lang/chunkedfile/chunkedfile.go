// Package chunkedfile reads test files made of chunks with expected
// diagnostics written on the offending lines, after starlark-go's
// internal/chunkedfile.
//
// A chunked file holds several small .whisper sources separated by lines
// that are exactly `---`. A line that should produce a diagnostic carries
// one or more expectations in a hash comment, `### "regexp"`, matched
// against the diagnostic rendered as `CODE: Summary. Detail`:
//
//	finetune sft {
//	  lora { rank 16 }   ### "E110: Unexpected number `16`"
//	}
//	---
//	model base { source = "hf:gpt2" }   // a chunk that must be clean
//
// An expectation written `###^ "regexp"` applies to the line above it, for
// lines that cannot hold a comment (an unterminated string).
//
// Each chunk is parsed as its own file, so line numbers restart at 1 in
// every chunk; failures are reported at the line of the chunked file.
package chunkedfile

import (
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/diag"
)

// Reporter is the part of testing.TB that chunked files report through.
type Reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// Chunk is one source of a chunked file and the diagnostics it must
// produce.
type Chunk struct {
	// Filename is the chunked file's name, for failure messages.
	Filename string
	// StartLine is the line of the chunked file where the chunk starts.
	StartLine int
	// Source is the chunk's text.
	Source []byte
	// wants maps a 1-based line of the chunk to its expectations.
	wants map[int][]*regexp.Regexp
}

var expectation = regexp.MustCompile(`###(\^?)\s*("(?:[^"\\]|\\.)*")`)

// Read reads filename and splits it into chunks, reporting malformed
// expectations through t.
func Read(t Reporter, filename string) []*Chunk {
	t.Helper()
	data, err := os.ReadFile(filename)
	if err != nil {
		t.Errorf("%v", err)
		return nil
	}
	return Parse(t, filename, string(data))
}

// Parse splits the text of a chunked file into chunks.
func Parse(t Reporter, filename, text string) []*Chunk {
	t.Helper()
	var chunks []*Chunk
	cur := &Chunk{Filename: filename, StartLine: 1, wants: map[int][]*regexp.Regexp{}}
	var b strings.Builder
	lines := strings.SplitAfter(text, "\n")
	rel := 0
	for i, line := range lines {
		if strings.TrimRight(line, "\r\n") == "---" {
			cur.Source = []byte(b.String())
			chunks = append(chunks, cur)
			cur = &Chunk{Filename: filename, StartLine: i + 2, wants: map[int][]*regexp.Regexp{}}
			b.Reset()
			rel = 0
			continue
		}
		rel++
		b.WriteString(line)
		for _, m := range expectation.FindAllStringSubmatch(line, -1) {
			pat, err := strconv.Unquote(m[2])
			if err != nil {
				t.Errorf("%s:%d: bad expectation %s: %v", filename, i+1, m[2], err)
				continue
			}
			re, err := regexp.Compile(pat)
			if err != nil {
				t.Errorf("%s:%d: bad expectation regexp %s: %v", filename, i+1, m[2], err)
				continue
			}
			target := rel
			if m[1] == "^" {
				target = rel - 1
			}
			cur.wants[target] = append(cur.wants[target], re)
		}
	}
	if b.Len() > 0 || len(chunks) == 0 {
		cur.Source = []byte(b.String())
		chunks = append(chunks, cur)
	}
	return chunks
}

// Format renders a diagnostic the way expectations match it:
// `CODE: Summary. Detail`.
func Format(d *diag.Diagnostic) string {
	return d.Code + ": " + d.Summary + ". " + d.Detail
}

// Check reports every diagnostic that no expectation on its line matches,
// and every expectation that no diagnostic matched. Each diagnostic
// consumes the first expectation of its line that it matches. Diagnostics
// of other severities than error are checked too.
func (c *Chunk) Check(t Reporter, ds diag.Diagnostics) {
	t.Helper()
	used := map[*regexp.Regexp]bool{}
	for _, d := range ds {
		line := 0
		if d.Subject != nil {
			line = d.Subject.Start.Line
		}
		msg := Format(d)
		found := false
		for _, re := range c.wants[line] {
			if !used[re] && re.MatchString(msg) {
				used[re] = true
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s:%d: unexpected diagnostic: %s", c.Filename, c.StartLine+line-1, msg)
		}
	}
	for line, res := range c.wants {
		for _, re := range res {
			if !used[re] {
				t.Errorf("%s:%d: expected a diagnostic matching %q", c.Filename, c.StartLine+line-1, re)
			}
		}
	}
}
