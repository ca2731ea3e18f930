package cmq

import (
	"context"
	"time"
)

// ChangeVisibility sets the next visible time of the message that receipt
// handle h names to now plus timeout (0 to [Limits].VisibilityTimeout.Max):
// it extends or shortens the lease of a consumer that needs more or less
// time. The handle stays valid until the new next visible time; with a
// timeout of 0 the message is visible at once and the handle stops working.
// Only the handle of the latest receive works, as for [Queue.Delete]. It is
// an extension: CMQ's HTTP API has no such action.
//
// Errors: [ErrOutOfRange] for the timeout, [ErrInvalidReceiptHandle],
// [ErrQueueNotExist], [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (q *Queue) ChangeVisibility(ctx context.Context, h string, timeout time.Duration) (_ time.Time, err error) {
	if err := q.enter(ctx); err != nil {
		return time.Time{}, err
	}
	if timeout < 0 || timeout > q.b.limits.VisibilityTimeout.Max {
		return time.Time{}, outOfRange("visibilityTimeout")
	}
	now, err := q.lock()
	if err != nil {
		return time.Time{}, err
	}
	defer q.unlockInto(&err)
	m, err := q.lookupReceipt(h, now)
	if err != nil {
		return time.Time{}, err
	}
	q.unlink(m)
	m.visibleAt = now + int64(timeout)
	q.insert(m, inTree)
	changed := [1]*message{m}
	q.logUpdate(now, changed[:])
	if timeout == 0 {
		q.waiters.wake(1)
	} else {
		q.armTimer(now)
	}
	return unixTime(m.visibleAt), nil
}
