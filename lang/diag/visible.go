package diag

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Visible returns s with every character that a terminal would act on
// instead of showing written as an escape: C0 and C1 control characters
// (ESC, NUL, carriage return, ...), DEL, the bidirectional overrides that
// reorder a line (U+202A–U+202E, U+2066–U+2069) and bytes that are not
// UTF-8. Text from a user's file or command line goes through it before
// any human-readable output, so that a string in a pipeline cannot drive
// the terminal (colour it, move the cursor, retitle the window, hide text).
// keep lists control characters left as they are (such as "\n").
func Visible(s, keep string) string {
	if !needsEscape(s, keep) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case strings.ContainsRune(keep, r):
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u{%X}`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

func needsEscape(s, keep string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			if !strings.ContainsRune(keep, rune(c)) {
				return true
			}
		}
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && size <= 1) || unsafeRune(r) {
				return true
			}
			i += size - 1
		}
	}
	return false
}
