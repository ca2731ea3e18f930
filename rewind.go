package cmq

import "time"

// Rewind makes every retained message sent at or after start receivable
// again, in send order, for all consumers: deleted messages kept for rewind
// and received messages still invisible return to active, and their receipt
// handles stop working. Messages whose delay has not ended stay delayed.
// start must lie in [now - RewindPeriod, now].
//
// Deleted messages are kept for rewind, and counted as RewindMsgNum, only
// while the queue has a RewindPeriod, and only until their retention ends.
//
// Errors: [ErrRewindDisabled] if RewindPeriod is 0, [ErrRewindTime],
// [ErrQueueNotExist], [ErrClosed].
func (q *Queue) Rewind(start time.Time) error {
	now, err := q.lock()
	if err != nil {
		return err
	}
	defer q.mu.Unlock()
	if q.set.rewindPeriod == 0 {
		return ErrRewindDisabled
	}
	from := start.UnixNano()
	if from < now-int64(q.set.rewindPeriod) || from > now {
		return ErrRewindTime
	}
	// The log is in enqueue order: walk back from the newest message.
	n := 0
	for m := q.log.last(); m != nil; m = m.older {
		if m.enqueued < from {
			break
		}
		if m.where != inNone && (m.visibleAt == m.enqueued || m.visibleAt > now && m.dequeues == 0) {
			continue // already in its send-order place, or still delayed
		}
		if m.where != inNone && m.visibleAt <= now {
			n-- // already active: it only moves to its send-order place
		}
		q.unlink(m)
		m.visibleAt, m.nonce = m.enqueued, 0
		q.insert(m, inTree)
		q.liveSeq = min(q.liveSeq, m.seq)
		n++
	}
	q.waiters.wake(n)
	return nil
}
