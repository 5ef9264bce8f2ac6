package upload

import (
	"math/rand/v2"
	"time"
)

// Backoff is the wait before retry number attempt (from 0): it doubles
// from lo up to hi, and a random part (half of it) spreads the retries
// of many recorders that lost the same store at the same moment, so they
// do not all come back at once.
func Backoff(attempt int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	half := d / 2
	return half + rand.N(half+1)
}
