package cmq

import (
	"context"
	"sync"
	"time"
)

// longPoll parks the caller until a message is visible, the wait ends, ctx
// ends or the queue is shut. The caller holds q.mu; it is held again on
// return.
//
// Each waiter has its own condition variable on q.mu, so a send wakes
// exactly as many waiters as it made messages visible, oldest waiter first,
// and a waiter's own timeout or cancellation wakes only that waiter. A
// waiter that leaves while messages are visible passes the wake-up on, so
// none is lost.
func (q *Queue) longPoll(ctx context.Context, now, due int64, n int, wait time.Duration, out []Message, tk *takenSet) ([]Message, error) {
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
		var err error
		if now, err = q.catchUp(); err != nil {
			return nil, err
		}
		if out = q.take(now, n, out, tk); len(out) > 0 {
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
	now, err := q.catchUp()
	if err != nil {
		return
	}
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
