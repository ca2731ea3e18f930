package cmq

import (
	"context"
	"slices"
	"strings"
	"time"
)

// checkDeadLetter returns the dead-letter queue p names for source q, or
// the CMQ error that forbids the binding. The caller holds b.mu.
func (b *Broker) checkDeadLetter(q *Queue, p *DeadLetterPolicy) (*Queue, error) {
	if !b.validName(p.DeadLetterQueue) {
		return nil, ErrDeadLetterQueueNotExist
	}
	d := b.queues[strings.ToLower(p.DeadLetterQueue)]
	switch {
	case strings.EqualFold(p.DeadLetterQueue, q.name):
		// Also on CreateQueue, where q is not in b.queues yet.
		return nil, ErrDeadLetterNested
	case d == nil:
		return nil, ErrDeadLetterQueueNotExist
	case d == q, d.dlq != nil, len(q.sources) > 0:
		return nil, ErrDeadLetterNested
	case q.dlq != d && len(d.sources) >= b.limits.DeadLetterSources:
		return nil, ErrDeadLetterTooManySources
	}
	return d, nil
}

// bind makes d the dead-letter queue of q (nil: none), taking q.mu. The
// caller holds b.mu, and q is a queue it is creating, which no other
// goroutine knows yet: the lock is free.
func (b *Broker) bind(q, d *Queue) {
	q.mu.Lock()
	q.bindLocked(d)
	q.mu.Unlock()
}

// bindLocked is bind for a caller that holds q.mu and b.mu (taken in that
// order). It does not change q.set.
func (q *Queue) bindLocked(d *Queue) {
	if q.dlq == d {
		return
	}
	if old := q.dlq; old != nil {
		old.sources = slices.DeleteFunc(old.sources, func(s *Queue) bool { return s == q })
		old.nsources.Add(-1)
	}
	if d != nil {
		d.sources = append(d.sources, q)
		d.nsources.Add(1)
	}
	q.dlq = d
}

// UnbindDeadLetterQueue removes the queue's dead-letter policy; messages
// stay where they are.
// Errors: [ErrDeadLetterQueueNotExist] if it has none, [ErrQueueNotExist],
// [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (q *Queue) UnbindDeadLetterQueue(ctx context.Context) (err error) {
	if err := q.enter(ctx); err != nil {
		return err
	}
	now, err := q.lock()
	if err != nil {
		return err
	}
	defer q.unlockInto(&err)
	b := q.b
	b.mu.Lock() // after q.mu: nobody waits for a queue's lock holding it
	defer b.mu.Unlock()
	if q.dlq == nil {
		return ErrDeadLetterQueueNotExist
	}
	q.bindLocked(nil)
	q.set.deadLetter = nil
	q.modified = now
	q.logState(now)
	return nil
}

// pullSources lets every queue that uses q as its dead-letter queue move
// the messages whose time-to-live has passed, so that q's counts and
// receives are exact. With wantDue it returns the instant the next such
// move falls due (maxTime if none). The caller holds no lock.
func (q *Queue) pullSources(wantDue bool) int64 {
	due := int64(maxTime)
	if q.nsources.Load() == 0 {
		return due
	}
	q.b.mu.RLock()
	sources := slices.Clone(q.sources)
	q.b.mu.RUnlock()
	for _, s := range sources {
		if _, err := s.lockHeld(); err == nil {
			if wantDue {
				due = min(due, s.nextTimeToLive())
			}
			s.unlock()
		}
	}
	return due
}

// nextTimeToLive returns the instant the next message of q reaches its
// dead-letter time-to-live (maxTime if none will). The caller holds q.mu
// and has advanced q.
func (q *Queue) nextTimeToLive() int64 {
	p := q.set.deadLetter
	if p == nil || p.Kind != DeadLetterOnTimeToLive || q.dlq == nil {
		return maxTime
	}
	for s := max(q.ttlSeq, q.log.base); s < q.log.end(); s++ {
		if m := q.log.get(s); m != nil && m.where != inNone {
			return m.enqueued + int64(p.MaxTimeToLive)
		}
	}
	return maxTime
}

// noteTimeToLive tells q's dead-letter queue that q's next time-to-live
// move may have come closer (after a send, a rewind or a new policy): it
// lowers the queue's srcHint, for receives about to wait, and re-arms the
// source timer of receives already waiting for a later move. The caller
// holds q.mu and has advanced q to now; this may take the dead-letter
// queue's lock.
func (q *Queue) noteTimeToLive(now int64) {
	d := q.dlq
	if d == nil {
		return
	}
	next := q.nextTimeToLive()
	if next == maxTime {
		return
	}
	for h := d.srcHint.Load(); next < h && !d.srcHint.CompareAndSwap(h, next); h = d.srcHint.Load() {
	}
	if at := d.srcDue.Load(); at == 0 || next >= at {
		return // nobody waits yet (the hint is for them), or they wait for an earlier move
	}
	d.mu.Lock()
	if d.state == stateOpen && d.polling > 0 {
		d.armSourceTimer(max(now, d.horizon), next)
	}
	d.mu.Unlock()
}

// deadLetterExpired moves the messages whose dead-letter time-to-live has
// passed, looking at most at *budget of them (and taking that many off
// it), and reports whether it moved them all. The dead-letter queue's lock
// is taken once for all the moves of the call. The caller holds q.mu.
func (q *Queue) deadLetterExpired(now int64, budget *int) bool {
	p := q.set.deadLetter
	if p == nil || p.Kind != DeadLetterOnTimeToLive {
		return true
	}
	ttl := int64(p.MaxTimeToLive)
	d, locked := q.dlq, false
	defer func() {
		if locked {
			d.mu.Unlock()
		}
	}()
	s := max(q.ttlSeq, q.log.base)
	for ; s < q.log.end(); s++ {
		if *budget <= 0 {
			q.ttlSeq = s
			return false
		}
		*budget--
		m := q.log.get(s)
		if m == nil || m.where == inNone {
			continue // gone, or deleted: a rewind that revives it lowers ttlSeq
		}
		if now-m.enqueued < ttl {
			break
		}
		if d != nil && !locked {
			d.mu.Lock()
			locked = true
		}
		// Moved as of the instant its time-to-live passed, even if this is
		// noticed later.
		q.moveLocked(m, m.enqueued+ttl)
	}
	q.ttlSeq = s
	return true
}

// moveToDeadLetter moves m, which is in q's index, to q's dead-letter queue.
// If that queue is full or gone the message is dropped. The caller holds
// q.mu; this takes the dead-letter queue's lock (source before
// dead-letter queue).
func (q *Queue) moveToDeadLetter(m *message, now int64) {
	if d := q.dlq; d != nil {
		d.mu.Lock()
		defer d.mu.Unlock()
	}
	q.moveLocked(m, now)
}

// moveLocked is moveToDeadLetter for a caller that holds the dead-letter
// queue's lock too (if q has a dead-letter queue).
func (q *Queue) moveLocked(m *message, now int64) {
	q.counters.deadLettered++
	id := q.messageID(m.seq) // the id outlives the queue and seq it is made of
	if m.dead != nil {
		id = m.dead.id
	}
	seq := m.seq
	q.drop(m)
	d := q.dlq
	if d == nil {
		q.logMove(now, seq, m, nil)
		return
	}
	if d.state != stateOpen {
		q.logMove(now, seq, m, nil)
		return
	}
	dnow := max(now, d.horizon)
	d.advance(dnow)
	if d.retained() >= d.set.maxMsgHeapNum {
		if q.lost == nil {
			q.lost = &lostMessages{queue: d.name, firstID: id}
		}
		q.lost.n++ // logged by q.unlock, outside the locks
		q.logMove(now, seq, m, nil)
		return
	}
	if m.dead == nil { // moved on from a second dead-letter queue: keep the first record
		m.dead = &deadLetter{src: DeadLetterSource{Queue: q.name, EnqueueTime: unixTime(m.enqueued), DequeueCount: int(m.dequeues)}, id: id}
	}
	m.seq = d.nextSeq
	d.nextSeq++
	m.enqueued, m.visibleAt, m.firstDeq, m.nonce, m.dequeues = dnow, dnow, 0, 0, 0
	d.log.push(m)
	d.insert(m, inReady) // visible at once, like a send without delay
	d.counters.deadLetter++
	d.account(messageBytes(len(m.body)))
	q.logMove(dnow, seq, m, d)
	d.waiters.wake(1)
}

// lostMessages records messages dropped because their dead-letter queue
// was full, for a log record written once the queue's locks are released.
type lostMessages struct {
	n       int
	queue   string // the dead-letter queue
	firstID string
}

// DeadLetterKind says when a message moves to the dead-letter queue.
type DeadLetterKind int

// DeadLetterPolicy is CMQ's deadLetterPolicy. The zero value is not a
// valid policy: it names no queue.
type DeadLetterPolicy struct {
	// DeadLetterQueue is the name of an existing queue that has no
	// dead-letter queue of its own and serves fewer than
	// [Limits].DeadLetterSources queues.
	DeadLetterQueue string
	// Kind is the CMQ policy: 0 or 1.
	Kind DeadLetterKind
	// MaxReceiveCount is used by DeadLetterOnMaxReceive.
	MaxReceiveCount int
	// MaxTimeToLive is used by DeadLetterOnTimeToLive; it must be below the
	// queue's MsgRetention.
	MaxTimeToLive time.Duration
}

const (
	// DeadLetterOnMaxReceive (CMQ policy 0) moves a message that was
	// received MaxReceiveCount times without being deleted, at the receive
	// that would exceed that count.
	DeadLetterOnMaxReceive DeadLetterKind = 0
	// DeadLetterOnTimeToLive (CMQ policy 1) moves a message that is not
	// deleted MaxTimeToLive after it was sent, at that instant, in whatever
	// state; a receipt handle it had becomes invalid.
	DeadLetterOnTimeToLive DeadLetterKind = 1
)
