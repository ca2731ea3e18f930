package cmq

import (
	"context"
	"time"
)

// QueueWait, passed as the wait of [Queue.Receive] or [Queue.BatchReceive],
// means "the queue's PollingWait". Any negative wait means the same.
const QueueWait time.Duration = -1

// Receive receives one message. The message turns inactive for the queue's
// VisibilityTimeout and comes back unless it is deleted with the returned
// receipt handle before then. Messages come in order of next visible time,
// ties in send order.
//
// If nothing is visible, Receive waits up to wait (0 to
// [Limits].PollingWait.Max; [QueueWait] for the queue's PollingWait) and
// returns as soon as a message becomes visible: sent, its delay ended, or
// its visibility timeout ended. If nothing became visible it returns
// [ErrNoMessage]. If ctx ends first it returns ctx.Err() and consumes
// nothing.
//
// Errors: [ErrNoMessage], [ErrOutOfRange] for the wait, [ErrThrottled]
// (a receive costs one token, taken when the call starts),
// [ErrQueueNotExist] (also when the queue is deleted during the wait),
// [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (q *Queue) Receive(ctx context.Context, wait time.Duration) (Message, error) {
	var buf [1]Message
	ms, err := q.receive(ctx, 1, wait, buf[:0])
	if err != nil {
		return Message{}, err
	}
	return ms[0], nil
}

// BatchReceive receives up to n messages (1 to [Limits].BatchSize) like
// [Queue.Receive]. It returns what is visible at once, up to n, and waits
// only while nothing is; it never waits to fill the batch. It costs n
// tokens.
//
// Errors: as for Receive, plus [ErrBatchSize].
func (q *Queue) BatchReceive(ctx context.Context, n int, wait time.Duration) ([]Message, error) {
	return q.receive(ctx, n, wait, nil)
}

// receive receives up to n messages into out. It checks every argument:
// after the entry check, n, then the wait. The ids and receipt handles of
// the messages taken are made after the queue's lock is released, from
// what take recorded under it: making them allocates, which a contended
// lock should not wait for.
func (q *Queue) receive(ctx context.Context, n int, wait time.Duration, out []Message) ([]Message, error) {
	var tk takenSet
	out, err := q.receiveLocked(ctx, n, wait, out, &tk)
	if err != nil {
		return nil, err
	}
	q.setHandles(out[len(out)-tk.n:], &tk)
	return out, nil
}

// receiveLocked is receive but for the ids and receipt handles: it
// records in *tk what they are made of.
func (q *Queue) receiveLocked(ctx context.Context, n int, wait time.Duration, out []Message, tk *takenSet) (_ []Message, err error) {
	if err := q.enter(ctx); err != nil {
		return nil, err
	}
	if n < 1 || n > q.b.limits.BatchSize {
		return nil, ErrBatchSize
	}
	if r := q.b.limits.PollingWait; wait > r.Max || wait >= 0 && wait < r.Min {
		return nil, outOfRange("pollingWaitSeconds")
	}
	due := q.pullSources(true) // when the next move from a source falls due
	now, err := q.lockHeld()
	if err != nil {
		return nil, err
	}
	defer q.unlockInto(&err)
	if wait < 0 {
		wait = q.set.pollingWait
	}
	if !allow(q.recvLimit, now, n) {
		return nil, ErrThrottled
	}
	if out = q.take(now, n, out, tk); len(out) > 0 {
		return out, nil
	}
	if wait == 0 {
		return nil, ErrNoMessage
	}
	return q.longPoll(ctx, now, due, n, wait, out, tk)
}

// take receives up to n visible messages into out, without their ids and
// receipt handles, and appends to *tk what those are made of. The caller
// holds q.mu and has advanced q to now.
func (q *Queue) take(now int64, n int, out []Message, tk *takenSet) []Message {
	p := q.set.deadLetter
	if out == nil && q.active > 0 {
		out = make([]Message, 0, min(n, q.active)) // one allocation for a batch
	}
	var stack [16]*message
	ms := stack[:0] // the messages taken, for the journal
	for len(out) < n {
		k, where, ok := q.idx.min()
		if !ok || k.visibleAt > now {
			break
		}
		m := q.log.get(k.seq())
		if p != nil && p.Kind == DeadLetterOnMaxReceive && int(m.dequeues) >= p.MaxReceiveCount {
			q.moveToDeadLetter(m, now)
			continue
		}
		q.count(m, -1)
		q.idx.popMin(where)
		m.where = inNone
		m.dequeues++
		if m.firstDeq == 0 {
			m.firstDeq = now
		}
		m.nonce = newNonce()
		m.visibleAt = now + int64(q.set.visibilityTimeout)
		q.insert(m, inFlight) // later than every message received before
		ms = append(ms, m)
		t := taken{seq: m.seq, nonce: m.nonce}
		if m.dead != nil {
			t.deadID = m.dead.id
		}
		tk.add(t)
		out = append(out, m.view())
	}
	if len(ms) == 0 {
		return out
	}
	q.counters.received += uint64(len(ms))
	q.logUpdate(now, ms)
	q.armTimer(now) // receives still waiting get these back when their timeout ends
	return out
}
