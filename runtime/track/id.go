package track

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"time"
)

// NewID returns a run id: the UTC start time to the second and four
// random hex digits, such as 261206-153811-7f3a. Ids sort by start time
// (until 2099), are short enough to type, and two runs started in the
// same second differ in their suffix; the run directory is created
// exclusively, so a collision is retried, never shared.
func NewID(t time.Time) string {
	var b [2]byte
	rand.Read(b[:])
	return t.UTC().Format("060102-150405") + "-" + hex.EncodeToString(b[:])
}

var idPattern = regexp.MustCompile(`^[0-9]{6}-[0-9]{6}-[0-9a-f]{4}$`)

// ValidID reports whether s has the form of a run id.
func ValidID(s string) bool { return idPattern.MatchString(s) }
