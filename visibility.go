package cmq

import (
	"context"
	"sync"
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
// after the entry check, n, then the wait.
func (q *Queue) receive(ctx context.Context, n int, wait time.Duration, out []Message) ([]Message, error) {
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
	defer q.unlock()
	if wait < 0 {
		wait = q.set.pollingWait
	}
	if !allow(q.recvLimit, now, n) {
		return nil, ErrThrottled
	}
	if out = q.take(now, n, out); len(out) > 0 {
		return out, nil
	}
	if wait == 0 {
		return nil, ErrNoMessage
	}
	return q.longPoll(ctx, now, due, n, wait, out)
}

// take receives up to n visible messages into out. The caller holds q.mu
// and has advanced q to now.
func (q *Queue) take(now int64, n int, out []Message) []Message {
	p := q.set.deadLetter
	if out == nil && q.active > 0 {
		out = make([]Message, 0, min(n, q.active)) // one allocation for a batch
	}
	start := len(out)
	var stack [16]*message
	ms := stack[:0] // the messages taken, for their strings
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
		out = append(out, m.view())
	}
	if len(ms) == 0 {
		return out
	}
	q.setHandles(out[start:], ms)
	q.armTimer(now) // receives still waiting get these back when their timeout ends
	return out
}

// longPoll parks the caller until a message is visible, the wait ends, ctx
// ends or the queue is shut. The caller holds q.mu; it is held again on
// return.
//
// Each waiter has its own condition variable on q.mu, so a send wakes
// exactly as many waiters as it made messages visible, oldest waiter first,
// and a waiter's own timeout or cancellation wakes only that waiter. A
// waiter that leaves while messages are visible passes the wake-up on, so
// none is lost.
func (q *Queue) longPoll(ctx context.Context, now, due int64, n int, wait time.Duration, out []Message) ([]Message, error) {
	w := &waiter{}
	w.cond.L = &q.mu
	wake := func() {
		q.mu.Lock()
		w.expired = true
		q.waiters.signal(w)
		q.mu.Unlock()
	}
	deadline := now + int64(wait)
	timer := time.AfterFunc(wait, wake)
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.waiters.signal(w)
		q.mu.Unlock()
	})
	q.polling++
	defer func() {
		stop()
		timer.Stop()
		q.waiters.remove(w)
		q.polling--
		if q.state == stateOpen && q.active > 0 {
			q.waiters.wake(1)
		}
		if q.polling == 0 {
			q.stopTimers()
		}
	}()
	// Sources may have announced a move after this receive pulled. Mark
	// the wait (srcDue != 0) before reading the hint: a source stores the
	// hint before reading srcDue, so one of the two sees the other.
	if q.srcDue.Load() == 0 {
		q.srcDue.Store(maxTime)
	}
	due = min(due, q.srcHint.Load())
	for {
		q.waiters.push(w)
		q.armTimer(now)
		q.armSourceTimer(now, due)
		due = maxTime // armed: the source timer re-arms itself while receives wait
		w.cond.Wait()
		switch q.state {
		case stateDeleted:
			return nil, ErrQueueNotExist
		case stateClosed:
			return nil, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return nil, err // before take: a cancelled wait consumes nothing
		}
		now = max(q.b.now(), q.horizon)
		q.advance(now)
		if out = q.take(now, n, out); len(out) > 0 {
			return out, nil
		}
		if w.expired || now >= deadline {
			return nil, ErrNoMessage
		}
	}
}

// waiter is a receive parked in a long poll.
type waiter struct {
	cond       sync.Cond // L is the queue's mutex
	prev, next *waiter
	listed     bool
	expired    bool // the wait's timer fired
}

// waitList is a FIFO of waiters. All methods need the queue's mutex.
type waitList struct {
	head, tail *waiter
	n          int
}

func (l *waitList) push(w *waiter) {
	if w.listed {
		return
	}
	w.listed, w.prev, w.next = true, l.tail, nil
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
	l.n++
}

func (l *waitList) remove(w *waiter) {
	if !w.listed {
		return
	}
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.listed, w.prev, w.next = false, nil, nil
	l.n--
}

// signal unlists w and wakes it.
func (l *waitList) signal(w *waiter) {
	l.remove(w)
	w.cond.Signal()
}

// wake wakes up to k of the longest-waiting waiters.
func (l *waitList) wake(k int) {
	for ; k > 0 && l.head != nil; k-- {
		l.signal(l.head)
	}
}

// armTimer makes sure waiters are woken when the next message becomes
// visible. The timer exists only while receives wait. The caller holds q.mu.
func (q *Queue) armTimer(now int64) {
	if q.waiters.n == 0 || q.nextPending == maxTime {
		return
	}
	at := q.nextPending
	if q.timerAt != 0 && q.timerAt <= at {
		return
	}
	q.timerAt = at
	startTimer(&q.timer, time.Duration(at-now), q.timerFired)
}

// startTimer makes *t fire f after d: a new timer the first time, the
// same one reset after that.
func startTimer(t **time.Timer, d time.Duration, f func()) {
	if *t == nil {
		*t = time.AfterFunc(d, f)
	} else {
		(*t).Reset(d)
	}
}

// timerFired wakes as many waiters as messages became visible. It runs
// in the timer's goroutine and takes q.mu.
func (q *Queue) timerFired() {
	q.mu.Lock()
	defer q.unlock()
	q.timerAt = 0
	if q.state != stateOpen {
		return
	}
	now := max(q.b.now(), q.horizon)
	q.advance(now)
	q.waiters.wake(q.active)
	q.armTimer(now)
}

// stopTimers stops the timers that exist only while receives wait. The
// caller holds q.mu.
func (q *Queue) stopTimers() {
	if q.timer != nil && q.timerAt != 0 {
		q.timer.Stop()
		q.timerAt = 0
	}
	if q.srcTimer != nil {
		q.srcTimer.Stop()
	}
	q.srcDue.Store(0)
}

// armSourceTimer makes sure the waiters of a dead-letter queue see a
// time-to-live move out of a source at the instant due (maxTime: none is
// known). The caller holds q.mu, and receives are polling.
func (q *Queue) armSourceTimer(now, due int64) {
	at := q.srcDue.Load()
	if at == 0 {
		at = maxTime
	}
	if due >= at {
		q.srcDue.Store(at)
		return
	}
	q.srcDue.Store(due)
	startTimer(&q.srcTimer, time.Duration(due-now), q.sourceTimerFired)
}

// sourceTimerFired lets the sources move what is due (each move wakes a
// waiter) and arms the timer for the next move while receives wait.
func (q *Queue) sourceTimerFired() {
	q.srcHint.Store(maxTime) // moves announced from here on lower it again
	q.rearmSources(q.pullSources(true))
}

// rearmSources arms the source timer for due, or for a move announced
// since the pull, while receives wait. The timer's last instant has
// passed, so it is forgotten rather than kept as the earliest.
func (q *Queue) rearmSources(due int64) {
	q.mu.Lock()
	defer q.unlock()
	if q.state != stateOpen || q.polling == 0 {
		return
	}
	q.srcDue.Store(maxTime)
	q.armSourceTimer(max(q.b.now(), q.horizon), min(due, q.srcHint.Load()))
}

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
func (q *Queue) ChangeVisibility(ctx context.Context, h string, timeout time.Duration) (time.Time, error) {
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
	defer q.unlock()
	m, err := q.lookupReceipt(h, now)
	if err != nil {
		return time.Time{}, err
	}
	q.unlink(m)
	m.visibleAt = now + int64(timeout)
	q.insert(m, inTree)
	if timeout == 0 {
		q.waiters.wake(1)
	} else {
		q.armTimer(now)
	}
	return unixTime(m.visibleAt), nil
}
