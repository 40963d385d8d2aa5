// Package suggest finds the name the user probably meant, for "did you
// mean" hints.
package suggest

import (
	"strings"

	"github.com/agext/levenshtein"
)

// Closest returns the candidate nearest to name by edit distance, or "" when
// none is near enough to be a plausible typo. Case differences count as
// half an edit, so "Flash2" finds "flash2".
func Closest(name string, candidates []string) string {
	best, bestDist := "", 1<<30
	for _, c := range candidates {
		if c == name {
			return c
		}
		// Two units per edit; a match that differs only in case costs one.
		d := 2 * levenshtein.Distance(strings.ToLower(name), strings.ToLower(c), nil)
		if strings.EqualFold(name, c) {
			d = 1
		}
		if d < bestDist || (d == bestDist && c < best) {
			best, bestDist = c, d
		}
	}
	// Allow about one edit in three characters (a transposition is two),
	// at least one, at most three.
	limit := (len(name) + 2) / 3
	if limit < 1 {
		limit = 1
	}
	if limit > 3 {
		limit = 3
	}
	if best == "" || bestDist > 2*limit {
		return ""
	}
	return best
}

// DidYouMean returns ` Did you mean "x"?` for the closest candidate, or ""
// when there is none, ready to append to a diagnostic's detail.
func DidYouMean(name string, candidates []string) string {
	if c := Closest(name, candidates); c != "" && c != name {
		return ` Did you mean "` + c + `"?`
	}
	return ""
}
