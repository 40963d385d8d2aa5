package track

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"time"
)

// NewID returns a run id: the UTC start time to the second, then four
// hex digits, the first two the fraction of the second (in 256ths) and
// the last two random, such as 261206-153811-a37f. Ids sort by start time
// to about 4 ms (until 2099), are short enough to type, and runs started
// at the same moment differ in their random digits; the run directory is
// created exclusively, so a collision is retried, never shared.
func NewID(t time.Time) string {
	var b [2]byte
	rand.Read(b[1:])
	t = t.UTC()
	b[0] = byte(t.Nanosecond() / (1e9 / 256))
	return t.Format("060102-150405") + "-" + hex.EncodeToString(b[:])
}

var idPattern = regexp.MustCompile(`^[0-9]{6}-[0-9]{6}-[0-9a-f]{4}$`)

// ValidID reports whether s has the form of a run id.
func ValidID(s string) bool { return idPattern.MatchString(s) }
