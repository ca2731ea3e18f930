package cmq

import (
	"context"
	"sync"

	"github.com/opencmq/cmq/internal/wal"
)

// enter is the entry check of every Broker method that takes a context,
// made before anything else: after Close it returns ErrClosed whatever
// the arguments; otherwise a ctx already done returns ctx.Err(), unwrapped.
// Only then are arguments validated. Once a call has begun its work (taken
// a queue's lock) it completes without consulting ctx again, except in a
// long poll's wait.
func (b *Broker) enter(ctx context.Context) error {
	if b.closed.Load() {
		return ErrClosed
	}
	if err := b.journalErr(); err != nil {
		return err
	}
	return ctx.Err()
}

// enter is the entry check of every Queue method that takes a context; see
// [Broker.enter]. A deleted queue is found later, under its lock.
func (q *Queue) enter(ctx context.Context) error { return q.b.enter(ctx) }

// lock locks q, reads the clock and brings q up to it. It returns the
// instant, or the error every call on an unusable queue returns (then q is
// unlocked). A dead-letter queue first lets its sources move what is due.
// The caller must not hold the broker's lock; see lockHeld.
func (q *Queue) lock() (int64, error) {
	q.pullSources(false)
	return q.lockHeld()
}

// lockHeld is lock for a caller that holds the broker's lock: it does not
// pull from sources, which needs that lock.
//
// The clock is read just before the lock is taken, so that a contended
// lock is not held for the clock read too; the instant used is the later
// of that reading and the queue's horizon (the instant of the operation
// before), so the instants of a queue's operations never go back, in the
// order they hold the lock.
func (q *Queue) lockHeld() (int64, error) {
	t := q.b.now()
	q.mu.Lock()
	switch {
	case q.state == stateClosed, q.b.closed.Load(): // a queue deleted before Close too
		q.mu.Unlock()
		return 0, ErrClosed
	case q.state == stateDeleted:
		q.mu.Unlock()
		return 0, ErrQueueNotExist
	}
	now := max(t, q.horizon)
	q.advance(now)
	return now, nil
}

// unlock unlocks q.mu, then logs what moveToDeadLetter dropped meanwhile,
// and, on a durable broker, waits until the records appended under the
// lock are durable under the sync policy. Every path that may have
// advanced q unlocks with it. It returns the journal's error if the
// changes could not be made durable.
func (q *Queue) unlock() error { return q.unlockWith(nil) }

// unlockInto is unlock for a deferred call: a journal error replaces
// *err, since the change the call made is not durable.
func (q *Queue) unlockInto(err *error) {
	if e := q.unlock(); e != nil {
		*err = e
	}
}

// unlockWith is unlock for a caller that also holds other (the broker's
// lock), which it unlocks after q.mu and before logging or waiting.
func (q *Queue) unlockWith(other sync.Locker) error {
	lost := q.lost
	q.lost = nil
	pos := q.jpos
	q.jpos = wal.Pos{}
	q.mu.Unlock()
	if other != nil {
		other.Unlock()
	}
	if lost != nil {
		q.b.log.Warn("dead-letter queue full, messages dropped", "queue", q.name,
			"deadLetterQueue", lost.queue, "count", lost.n, "firstMsgId", lost.firstID)
	}
	if j := q.b.j; j != nil {
		if err := j.finish(pos); err != nil {
			return err
		}
		if pos != (wal.Pos{}) {
			q.b.maybeCompact()
		}
	}
	return nil
}
