package cmq

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/opencmq/cmq/internal/wal"
)

// Queue is a CMQ queue. Get one from [Broker.CreateQueue] or [Broker.Queue];
// the zero Queue is not usable. A *Queue stays bound to the queue it was
// made for: after [Broker.DeleteQueue] every call on it returns
// [ErrQueueNotExist], even if a queue of the same name is created again.
// All methods are safe for concurrent use.
//
// Every operation reads the clock under the queue's lock (an instant never
// earlier than the queue's previous operation's; again after each bounded
// step of catching up, see catchUp), and first brings the queue up to that
// instant: messages past their retention are
// dropped, messages past a dead-letter time-to-live are moved, and messages
// whose next visible time has come are counted active. Nothing runs in the
// background.
type Queue struct {
	b        *Broker
	name     string
	id       string
	idPrefix string // a broker-unique number in decimal and "-": starts every message id

	mu       sync.Mutex
	state    queueState
	set      settings
	created  int64
	modified int64
	idx      index      // messages not deleted, by (visibleAt, seq)
	log      messageLog // every retained message, by seq
	nextSeq  uint64
	num      uint64 // the queue's number in the broker: its message ids start with it
	stored   int64  // bytes its retained messages count against the broker (messageBytes)

	counters queueCounters // for Stats

	rec  enc     // a durable broker's record being written
	jpos wal.Pos // the last record appended under mu: unlock waits until it is durable

	// Exact counts. A message in the index is active if visibleAt <=
	// horizon, else delayed (never received) or inactive (received).
	active, inactive, delayed, rewound int
	horizon                            int64  // the instant the counts are for
	nextPending                        int64  // no index entry has horizon < visibleAt < nextPending
	liveSeq                            uint64 // no message below this seq is in the index
	ttlSeq                             uint64 // messages below this seq were checked for time-to-live

	// Deleted messages kept for rewind with seq in [keptSeq, keptEnd) are
	// still to drop: RewindPeriod was set to 0. Catching up drops them
	// before anything else, so no call sees them.
	keptSeq, keptEnd uint64

	sendLimit, recvLimit, delLimit *rate.Limiter // nil: no limit

	lost *lostMessages // dropped at a full dead-letter queue, not yet logged; nil if none

	waiters waitList    // receives parked in a long poll
	timer   *time.Timer // wakes waiters when the next message becomes visible
	timerAt int64       // when timer fires; 0: not armed

	polling int // receives inside longPoll, listed in waiters or just woken

	// For a dead-letter queue with waiters: srcTimer pulls from the source
	// queues when the next time-to-live move falls due (srcDue), so that a
	// move out of an idle source wakes a waiter at its instant. srcDue is
	// 0 while no receive waits, maxTime while waiters wait for no move.
	// srcHint is the earliest move the sources announced since the timer
	// last pulled (maxTime: none): a waiter arms for it too, so that a
	// send between its pull and its arming is not missed.
	srcTimer *time.Timer
	srcDue   atomic.Int64
	srcHint  atomic.Int64

	// Dead-letter bindings, written under the broker's lock and q.mu.
	dlq      *Queue       // this queue's dead-letter queue
	sources  []*Queue     // queues whose dead-letter queue this is (broker lock only)
	nsources atomic.Int32 // len(sources), read without the broker's lock
}

type queueState uint8

const (
	stateOpen queueState = iota
	stateDeleted
	stateClosed
)

const maxTime = math.MaxInt64

// newQueue returns the empty queue name of b, number num (the prefix of
// its message ids), with settings set, created now. The caller holds b.mu
// and binds its dead-letter queue.
func newQueue(b *Broker, name string, num uint64, set settings) *Queue {
	now := b.now()
	q := &Queue{
		b:           b,
		name:        name,
		id:          newQueueID(),
		idPrefix:    strconv.FormatUint(num, 10) + "-",
		num:         num,
		set:         set,
		created:     now,
		modified:    now,
		horizon:     now,
		nextPending: maxTime,
		sendLimit:   newLimiter(b.limits.QPS, b.limits.BatchSize),
		recvLimit:   newLimiter(b.limits.QPS, b.limits.BatchSize),
		delLimit:    newLimiter(b.limits.QPS, b.limits.BatchSize),
	}
	q.idx = newIndex(&q.log)
	q.srcHint.Store(maxTime)
	return q
}

// newQueueID returns an id in CMQ's style, "queue-" and 12 random letters
// and digits.
func newQueueID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte("queue-000000000000")
	for i := 6; i < len(b); i++ {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

// Name returns the queue's name as created.
func (q *Queue) Name() string { return q.name }

// ID returns the queue's id, in CMQ's style ("queue-…").
func (q *Queue) ID() string { return q.id }

// advance brings q to now: retention, time-to-live, then counts, all at
// once. The caller holds q.mu. Calls that may find much to do use catchUp,
// which does the same in bounded steps.
func (q *Queue) advance(now int64) {
	for !q.advanceStep(now) {
	}
}

// stepBudget is the most messages one step of bulk work (retention drops,
// time-to-live moves, rewind, the drop of kept messages) handles under a queue's lock: about a fifth of a
// millisecond of work.
const stepBudget = 1024

// advanceStep does advance's work for at most stepBudget messages and
// reports whether q is now up to date (counts included). The caller holds
// q.mu. Every step leaves q consistent: each drop and move is whole and,
// on a durable broker, journaled before the step ends.
func (q *Queue) advanceStep(now int64) bool {
	budget := stepBudget
	for ; q.keptSeq < q.keptEnd; q.keptSeq++ {
		if budget == 0 {
			return false
		}
		budget--
		if m := q.log.get(q.keptSeq); m != nil && m.where == inNone {
			q.drop(m)
		}
	}
	for m := q.log.first(); m != nil && now-m.enqueued >= int64(q.set.msgRetention); m = q.log.first() {
		if budget == 0 {
			return false
		}
		q.drop(m)
		budget--
	}
	if !q.deadLetterExpired(now, &budget) {
		return false
	}
	q.promote(now)
	return true
}

// catchUp brings q, whose lock the caller holds, up to the clock in steps
// of at most stepBudget messages, releasing q.mu between steps so that
// other calls on q, and Close, get in. Each step reads the clock again, so
// the instant it returns is one at which q is wholly up to date: the call
// is exact as of it. It returns that instant, or the error of a queue that
// was deleted or closed; q.mu is held again either way.
func (q *Queue) catchUp() (int64, error) {
	for {
		switch {
		case q.state == stateClosed, q.b.closed.Load(): // a queue deleted before Close too
			return 0, ErrClosed
		case q.state == stateDeleted:
			return 0, ErrQueueNotExist
		}
		now := max(q.b.now(), q.horizon)
		if q.advanceStep(now) {
			return now, nil
		}
		q.yieldLock()
	}
}

// yieldLock releases q.mu so that other calls on q, and Close, get in,
// then takes it back. The caller's unlock still waits for the records it
// appended before, even if a call that got in meanwhile took q.jpos.
func (q *Queue) yieldLock() {
	pos := q.jpos
	q.mu.Unlock()
	runtime.Gosched()
	q.mu.Lock()
	q.keepPos(pos)
}

// keepPos makes q.jpos, the record the holder of q.mu waits for when it
// unlocks, at least pos. The caller holds q.mu.
func (q *Queue) keepPos(pos wal.Pos) {
	if q.jpos.Less(pos) {
		q.jpos = pos
	}
}

// promote counts as active every message whose visible time is in
// (horizon, now], and moves horizon to now. Each message crosses once per
// receive, so the cost is O(log n) amortised. The caller holds q.mu.
func (q *Queue) promote(now int64) {
	if now < q.nextPending {
		q.horizon = max(q.horizon, now)
		return
	}
	q.nextPending = q.idx.cross(q.horizon, now, q.crossed)
	q.horizon = now
}

// crossed counts as active a message whose visible time has come.
func (q *Queue) crossed(k treeKey) {
	if !k.received() {
		q.delayed--
	} else {
		q.inactive--
	}
	q.active++
}

// count adds m to the counts (delta +1) or takes it out (-1). Callers
// pair the two around any change of m's state. The caller holds q.mu.
func (q *Queue) count(m *message, delta int) {
	switch {
	case m.where == inNone:
		q.rewound += delta
	case m.visibleAt <= q.horizon:
		q.active += delta
	case m.dequeues == 0:
		q.delayed += delta
	default:
		q.inactive += delta
	}
}

// insert puts m, not yet in the index, into it and counts it. to is where
// m's key should go: a run if it may append there (see [index]), or
// inTree. The caller holds q.mu.
func (q *Queue) insert(m *message, to uint8) {
	q.idx.insert(m, to, q.horizon)
	if m.visibleAt > q.horizon {
		q.nextPending = min(q.nextPending, m.visibleAt)
	}
	q.count(m, +1)
}

// unlink takes m out of the index and the counts, leaving it in the log.
// The caller holds q.mu.
func (q *Queue) unlink(m *message) {
	q.count(m, -1)
	if m.where != inNone {
		q.idx.remove(m)
		m.where = inNone
	}
}

// drop removes m from the queue entirely. The caller holds q.mu.
func (q *Queue) drop(m *message) {
	q.unlink(m)
	q.log.remove(m)
	q.account(-messageBytes(len(m.body)))
}

// messageOverhead approximates what a retained message costs beside its
// body: the message, its index key and its log slot.
const messageOverhead = 128

// messageBytes is what a retained message with a body of n bytes counts
// against the broker: its body and messageOverhead.
func messageBytes(n int) int64 { return int64(n + messageOverhead) }

// account adds delta bytes to what q, and its broker, retain. The caller
// holds q.mu.
func (q *Queue) account(delta int64) {
	q.stored += delta
	q.b.stored.Add(delta)
}

// reserve adds n bytes to what the broker retains if that keeps it within
// [Limits].MemoryBytes, and reports whether it did. Concurrent sends to
// different queues reserve atomically: together they never pass the
// budget.
func (b *Broker) reserve(n int64) bool {
	budget := b.limits.MemoryBytes
	if budget == 0 {
		b.stored.Add(n)
		return true
	}
	for {
		cur := b.stored.Load()
		if cur+n > budget {
			return false
		}
		if b.stored.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// retained is the number of messages the queue holds, counted against
// MaxMsgHeapNum: everything not deleted, and deleted messages kept for
// rewind.
func (q *Queue) retained() int { return q.active + q.inactive + q.delayed + q.rewound }

// Send sends one message that becomes visible after delay (0: at once) and
// returns its id.
//
// Errors: [ErrEmptyMessage], [ErrMessageTooLarge], [ErrOutOfRange] for the
// delay, [ErrHeapFull], [ErrMemoryFull] when the broker's
// [Limits].MemoryBytes would be exceeded, [ErrThrottled], [ErrQueueNotExist], [ErrClosed],
// ctx.Err(). A failed send enqueues nothing.
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (q *Queue) Send(ctx context.Context, body string, delay time.Duration) (string, error) {
	bodies := [1]string{body}
	first, err := q.send(ctx, bodies[:], false, delay)
	if err != nil {
		return "", err
	}
	return q.messageID(first), nil
}

// BatchSend sends up to [Limits].BatchSize messages with one delay and
// returns their ids in the order of bodies. It is all or nothing: if any
// body is rejected, or the batch does not fit, nothing is sent.
//
// Errors: as for Send, plus [ErrBatchSize] and [ErrBatchTooLarge].
func (q *Queue) BatchSend(ctx context.Context, bodies []string, delay time.Duration) ([]string, error) {
	first, err := q.send(ctx, bodies, true, delay)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(bodies))
	q.messageIDs(ids, first)
	return ids, nil
}

// send enqueues bodies (one, or a batch) and returns the seq of the first;
// the others follow it. The caller makes their ids from it, after the lock
// is released: ids depend only on the queue's number and the seq, and
// making them allocates, which a contended lock should not wait for.
// After the entry check send checks every argument: the batch size, the
// delay and the bodies.
func (q *Queue) send(ctx context.Context, bodies []string, batch bool, delay time.Duration) (first uint64, err error) {
	if err := q.enter(ctx); err != nil {
		return 0, err
	}
	n := len(bodies)
	l := &q.b.limits
	if batch && (n == 0 || n > l.BatchSize) {
		return 0, ErrBatchSize
	}
	if !l.Delay.contains(delay) {
		return 0, outOfRange("delaySeconds")
	}
	total := 0
	for _, body := range bodies {
		if body == "" {
			return 0, ErrEmptyMessage
		}
		total += len(body)
	}
	if batch && total > l.BatchBytes {
		return 0, l.batchTooLarge()
	}
	now, err := q.lock()
	if err != nil {
		return 0, err
	}
	defer q.unlockInto(&err)
	for _, body := range bodies {
		if len(body) > q.set.maxMsgSize {
			return 0, ErrMessageTooLarge
		}
	}
	if q.retained()+n > q.set.maxMsgHeapNum {
		return 0, ErrHeapFull
	}
	bytes := int64(total) + int64(n)*messageOverhead
	if !q.b.reserve(bytes) {
		return 0, ErrMemoryFull
	}
	if !allow(q.sendLimit, now, n) {
		q.b.stored.Add(-bytes)
		return 0, ErrThrottled
	}
	to := inReady // a message visible at once is later than every such message before it
	if delay > 0 {
		to = inTree
	}
	for _, body := range bodies {
		m := messagePool.Get().(*message)
		*m = message{
			body:      body,
			seq:       q.nextSeq,
			enqueued:  now,
			visibleAt: now + int64(delay),
		}
		q.nextSeq++
		q.log.push(m)
		q.insert(m, to)
	}
	q.stored += bytes // reserve counted them in the broker's total
	q.counters.sent += uint64(n)
	first = q.nextSeq - uint64(n)
	q.logSend(now, delay, first, bodies)
	if delay == 0 {
		q.waiters.wake(n)
	} else {
		q.armTimer(now)
	}
	if q.dlq != nil {
		q.noteTimeToLive(now)
	}
	return first, nil
}

// Delete deletes the message that receipt handle h names. Only the handle
// of the message's latest receive works, and only before its next visible
// time. With a RewindPeriod the message is kept for [Queue.Rewind] until its
// retention ends.
//
// Errors: [ErrInvalidReceiptHandle], [ErrThrottled], [ErrQueueNotExist],
// [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (q *Queue) Delete(ctx context.Context, h string) (err error) {
	if err := q.enter(ctx); err != nil {
		return err
	}
	now, err := q.lock()
	if err != nil {
		return err
	}
	defer q.unlockInto(&err)
	m, err := q.lookupReceipt(h, now)
	if err != nil {
		return err // before the token: a refused call costs nothing
	}
	if !allow(q.delLimit, now, 1) {
		return ErrThrottled
	}
	seq := [1]uint64{m.seq}
	q.remove(m)
	q.logDelete(now, seq[:])
	return nil
}

// remove deletes a message that is in the index: it is kept for rewind or
// dropped. The caller holds q.mu.
func (q *Queue) remove(m *message) {
	q.counters.deleted++
	m.nonce = 0
	if q.set.rewindPeriod > 0 {
		q.unlink(m)
		q.count(m, +1) // now counted as rewound
		return
	}
	q.drop(m)
	// Nothing refers to m any more: the index and the log let go of it, and
	// its handle no longer finds it.
	*m = message{}
	messagePool.Put(m)
}

// BatchDelete deletes the messages that handles name, up to
// [Limits].BatchSize. It deletes every valid handle and returns one error
// per handle (nil where the delete succeeded), and:
// nil if all succeeded, [ErrBatchDeletePartial] if some failed,
// [ErrBatchDeleteFailed] if all failed.
//
// Errors that fail the whole call, with nil results: [ErrBatchSize],
// [ErrThrottled], [ErrQueueNotExist], [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (q *Queue) BatchDelete(ctx context.Context, handles []string) (_ []error, err error) {
	if err := q.enter(ctx); err != nil {
		return nil, err
	}
	if len(handles) == 0 || len(handles) > q.b.limits.BatchSize {
		return nil, ErrBatchSize
	}
	now, err := q.lock()
	if err != nil {
		return nil, err
	}
	defer q.unlockInto(&err)
	// A batch costs a token per handle, unless every handle is refused:
	// a call that deletes nothing costs nothing.
	if slices.ContainsFunc(handles, func(h string) bool { _, err := q.lookupReceipt(h, now); return err == nil }) &&
		!allow(q.delLimit, now, len(handles)) {
		return nil, ErrThrottled
	}
	results := make([]error, len(handles))
	failed := 0
	var seqs []uint64 // for the journal
	if q.b.j != nil {
		seqs = make([]uint64, 0, len(handles))
	}
	for i, h := range handles {
		m, err := q.lookupReceipt(h, now)
		if err != nil {
			results[i] = err
			failed++
			continue
		}
		if seqs != nil {
			seqs = append(seqs, m.seq)
		}
		q.remove(m)
	}
	q.logDelete(now, seqs)
	switch failed {
	case 0:
		return results, nil
	case len(handles):
		return results, ErrBatchDeleteFailed
	}
	return results, ErrBatchDeletePartial
}

// Purge drops every message of the queue, including those kept for rewind.
// It is an extension: CMQ's API has no such action.
// Errors: [ErrQueueNotExist], [ErrClosed], ctx.Err().
// Entry checks first: ErrClosed after Close, then ctx.Err() if ctx is
// done, before any argument (see Contexts in the package doc).
func (q *Queue) Purge(ctx context.Context) (err error) {
	if err := q.enter(ctx); err != nil {
		return err
	}
	now, err := q.lock()
	if err != nil {
		return err
	}
	defer q.unlockInto(&err)
	q.clear()
	q.logPurge(now)
	return nil
}

// clear drops every message. The caller holds q.mu.
func (q *Queue) clear() {
	q.account(-q.stored)
	q.idx.clear()
	q.log.reset(q.nextSeq)
	q.active, q.inactive, q.delayed, q.rewound = 0, 0, 0, 0
	q.nextPending = maxTime
}

// shut marks q deleted or closed, drops its messages, wakes its waiters
// and stops its timer. The caller holds q.mu.
func (q *Queue) shut(s queueState) {
	if q.state != stateOpen {
		return
	}
	q.state = s
	q.clear()
	q.waiters.wake(q.waiters.n)
	q.stopTimers()
}
