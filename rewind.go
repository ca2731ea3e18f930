package cmq

import (
	"context"
	"time"
)

// Rewind makes every retained message sent at or after start receivable
// again, in send order, for all consumers: deleted messages kept for rewind
// and received messages still invisible return to active, and their receipt
// handles stop working. Messages whose delay has not ended stay delayed.
// start must lie in [now - RewindPeriod, now], the lower edge taken down to
// its whole second: CMQ's startConsumeTime is in whole seconds, and a
// client that asks for now - rewindSeconds in seconds must not be refused.
//
// A rewound message is delivered afresh: its DequeueCount and
// FirstDequeueTime start again with its next receive, so a dead-letter
// policy [DeadLetterOnMaxReceive] counts only receives after the rewind. A
// rewind does not renew a time-to-live: under [DeadLetterOnTimeToLive] a
// rewound message already older than MaxTimeToLive moves to the
// dead-letter queue at once.
//
// Deleted messages are kept for rewind, and counted as RewindMsgNum, only
// while the queue has a RewindPeriod, and only until their retention ends.
//
// Errors: [ErrRewindDisabled] if RewindPeriod is 0, [ErrRewindTime],
// [ErrQueueNotExist], [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (q *Queue) Rewind(ctx context.Context, start time.Time) (err error) {
	if err := q.enter(ctx); err != nil {
		return err
	}
	now, err := q.lock()
	if err != nil {
		return err
	}
	defer q.unlockInto(&err)
	if q.set.rewindPeriod == 0 {
		return ErrRewindDisabled
	}
	from := start.UnixNano()
	lower := now - int64(q.set.rewindPeriod)
	lower -= lower % int64(time.Second) // whole seconds: lower > 0 on any real clock
	if from < lower || from > now {
		return ErrRewindTime
	}
	var ttl int64 = maxTime
	if p := q.set.deadLetter; p != nil && p.Kind == DeadLetterOnTimeToLive {
		ttl = int64(p.MaxTimeToLive)
	}
	// The log is in enqueue order: walk back from the newest message.
	n := 0
	var rewound []*message // for the journal
	for m, older := q.log.last(), (*message)(nil); m != nil; m = older {
		older = m.older
		if m.enqueued < from {
			break
		}
		if m.where != inNone && m.dequeues == 0 && (m.visibleAt == m.enqueued || m.visibleAt > now) {
			continue // never received: in its send-order place, or still delayed
		}
		if now-m.enqueued >= ttl {
			// Only a deleted, kept message can be here: advance moved
			// every other one whose time-to-live passed.
			q.moveToDeadLetter(m, now)
			continue
		}
		if m.where != inNone && m.visibleAt <= now {
			n-- // already active: it only moves to its send-order place
		}
		q.unlink(m)
		m.visibleAt, m.nonce, m.dequeues, m.firstDeq = m.enqueued, 0, 0, 0
		q.insert(m, inTree)
		q.liveSeq = min(q.liveSeq, m.seq)
		q.ttlSeq = min(q.ttlSeq, m.seq) // its time-to-live is checked again
		n++
		if q.b.j != nil {
			rewound = append(rewound, m)
		}
	}
	q.logUpdate(now, rewound)
	q.waiters.wake(n)
	q.noteTimeToLive(now)
	return nil
}
