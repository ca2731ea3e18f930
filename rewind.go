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
// A rewind of many messages runs in bounded steps (see catchUp), in send
// order, releasing the queue's lock between steps so that other calls on
// the queue, and Close, get in. It covers the messages sent before Rewind
// was called; a message sent while it runs is not rewound. Each message is
// rewound as it is in its step, at that step's instant: a call that gets
// in between steps comes after the rewind for the messages already
// rewound and before it for the others. So a message received or deleted
// before the rewind reaches it is rewound all the same (its handle stops
// working, a deleted message still kept returns), while one received or
// deleted after it is not; a receive between steps takes the messages
// already rewound first (they are the oldest), and may then take an active
// message the rewind has not reached. If RewindPeriod is set to 0 while a
// rewind runs, the kept messages are dropped at once and the rewind goes
// on with the others. If the queue is closed or deleted while a rewind
// runs, it stops: the messages before that point stay rewound (on a
// durable broker too) and Rewind returns [ErrClosed] or
// [ErrQueueNotExist].
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
	// Messages are in enqueue order by seq: walk back from the newest to
	// find the first one sent at or after from, then rewind forward from
	// it up to end. Both walks go by seq, so a message dropped between
	// steps is only a hole.
	end := q.log.end()
	lo := end
	if m := q.log.first(); m == nil || m.enqueued >= from {
		lo = q.log.base // all of them: no need to look
	}
	for budget := stepBudget; ; budget-- {
		if lo <= q.log.base {
			lo = q.log.base
			break
		}
		if budget == 0 {
			if now, err = q.nextStep(); err != nil {
				return err
			}
			budget = stepBudget
		}
		if m := q.log.get(lo - 1); m != nil && m.enqueued < from {
			break
		}
		lo--
	}
	for s := lo; ; {
		s = q.rewindStep(now, max(s, q.log.base), end)
		if s >= end {
			return nil
		}
		if now, err = q.nextStep(); err != nil {
			return err
		}
	}
}

// nextStep lets other calls take q.mu between two steps of a rewind and
// brings q up to the clock again; it returns as catchUp does.
func (q *Queue) nextStep() (int64, error) {
	if h := q.b.rewindStepHook; h != nil {
		pos := q.jpos
		q.mu.Unlock()
		h()
		q.mu.Lock()
		q.keepPos(pos)
	} else {
		q.yieldLock()
	}
	return q.catchUp()
}

// rewindStep rewinds, as of now, the messages with seq in [s, end),
// looking at stepBudget of them at most, and returns the seq it stopped
// at. Its changes are journaled before it returns. The caller holds q.mu
// and has brought q up to now.
func (q *Queue) rewindStep(now int64, s, end uint64) uint64 {
	var ttl int64 = maxTime
	if p := q.set.deadLetter; p != nil && p.Kind == DeadLetterOnTimeToLive {
		ttl = int64(p.MaxTimeToLive)
	}
	n := 0
	var rewound []*message // for the journal
	for stop := s + min(end-s, stepBudget); s < stop; s++ {
		m := q.log.get(s)
		if m == nil {
			continue
		}
		if m.where != inNone && m.dequeues == 0 && (m.visibleAt == m.enqueued || m.visibleAt > now) {
			continue // never received: in its send-order place, or still delayed
		}
		if now-m.enqueued >= ttl {
			// Only a deleted, kept message can be here: catchUp moved
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
	return s
}
