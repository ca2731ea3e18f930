package cmq

import (
	"time"

	"golang.org/x/time/rate"
)

// newLimiter returns a token bucket admitting qps messages per second, or
// nil for no limit. Its burst is qps, but at least batch, so that a full
// batch can always pass a full bucket. It starts full.
func newLimiter(qps, batch int) *rate.Limiter {
	if qps == 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(qps), max(qps, batch))
}

// allow takes n tokens from l at now if it has them, all or nothing. A
// refusal changes nothing. now must not go back between calls on the same
// limiter: callers read it under the queue's lock from the broker's
// monotonic clock.
func allow(l *rate.Limiter, now int64, n int) bool {
	return l == nil || l.AllowN(time.Unix(0, now), n)
}
