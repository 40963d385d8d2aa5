package engines

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzQuoting checks that strings from .whisper files (prompts, fields,
// paths, project names) are quoted so that the generated Python, YAML and
// shell read back exactly that string and nothing else.
func FuzzQuoting(f *testing.F) {
	for _, s := range []string{"", "text", `a "quoted" \ back`, "line\nbreak\ttab\r", "\x00\x1f\x7f", "# not a comment: {x}",
		"it's", "héllo ✓", "-dash", "true", "1e5", "$(rm -rf /)", "`x`", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := strings.ToValidUTF8(s, "\uFFFD")
		if !utf8.ValidString(s) {
			// each invalid byte becomes one U+FFFD when ranged over
			var b strings.Builder
			for _, r := range s {
				b.WriteRune(r)
			}
			want = b.String()
		}
		q := pyStr(s)
		if strings.ContainsAny(q, "\n\r") {
			t.Fatalf("pyStr(%q) = %q spans lines", s, q)
		}
		got, err := strconv.Unquote(q)
		if err != nil || got != want {
			t.Fatalf("pyStr(%q) = %q reads back as %q, %v", s, q, got, err)
		}
		y := yamlStr(s)
		if y != q && (y != s || strings.ContainsAny(y, ":#{}[],&*!|>'\"%@`\n\t")) {
			t.Fatalf("yamlStr(%q) = %q is neither quoted nor safe", s, y)
		}
		sh := shQuote(s)
		if sh != s {
			if !strings.HasPrefix(sh, "'") || !strings.HasSuffix(sh, "'") {
				t.Fatalf("shQuote(%q) = %q", s, sh)
			}
			if strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(sh, "'"), "'"), `'\''`, "'") != s {
				t.Fatalf("shQuote(%q) = %q does not read back", s, sh)
			}
		}
	})
}
