package parser

import "unicode/utf8"

// decodeRune decodes the first character of b, returning -1 for an invalid
// encoding.
func decodeRune(b []byte) (rune, int) {
	r, size := utf8.DecodeRune(b)
	if r == utf8.RuneError && size <= 1 {
		return -1, 1
	}
	return r, size
}
