package ratelimit

import (
	"math"
	"time"
)

// decision is the outcome of taking one token from a bucket.
type decision struct {
	allowed bool
	// limit is the bucket's capacity (burst).
	limit int64
	// remaining is the number of whole tokens left after this request.
	remaining int64
	// retryAfter is how long until the next token; zero when allowed.
	retryAfter time.Duration
	// reset is how long until the bucket is full again.
	reset time.Duration
}

// newDecision derives a decision from the token count left after the attempt; both
// backends share it so their headers agree.
func newDecision(allowed bool, tokens, rate float64, burst int64) decision {
	tokens = math.Max(0, tokens)
	d := decision{
		allowed:   allowed,
		limit:     burst,
		remaining: int64(math.Floor(tokens)),
		reset:     secondsToDuration((float64(burst) - tokens) / rate),
	}
	if !allowed {
		d.retryAfter = secondsToDuration((1 - tokens) / rate)
	}
	return d
}

func secondsToDuration(s float64) time.Duration {
	if s <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(s * float64(time.Second)))
}

// ceilSeconds renders a duration for retry-after and x-ratelimit-reset, which count
// whole seconds; rounding up so that a client honouring it is not refused again.
func ceilSeconds(d time.Duration) int64 {
	return int64(math.Ceil(d.Seconds()))
}
