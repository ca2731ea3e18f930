package cmq

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencmq/cmq/internal/wal"
)

// journal is a durable broker's write-ahead log: every change is appended
// while the lock that orders it is held, so the log's order is the order
// of the changes, and the call that made it waits for the sync after
// unlocking. In-memory brokers have none (Broker.j is nil).
type journal struct {
	log *wal.Log

	failed atomic.Pointer[Error] // set once: every later call fails with it

	// Compaction: when the log holds more than twice the live data plus a
	// segment, a goroutine (only while it runs) snapshots every queue into
	// new segments and removes the old ones.
	size       atomic.Int64 // the log's size: the log's at the last compaction plus what was appended since
	segment    int64        // a segment's size
	compacting atomic.Bool
	wg         sync.WaitGroup

	scratch enc // for broker-level records; guarded by the broker's lock
}

// append appends rec. A failure fails the journal for good; the caller
// finds out in finish.
func (j *journal) append(rec []byte) wal.Pos {
	if j.failed.Load() != nil {
		return wal.Pos{}
	}
	pos, err := j.log.Append(rec)
	if err != nil {
		j.fail(err)
	}
	j.size.Add(int64(len(rec)) + frameOverhead)
	return pos
}

func (j *journal) fail(err error) {
	j.failed.CompareAndSwap(nil, ErrJournal.wrap(err))
}

// err returns the journal's failure, or nil.
func (j *journal) err() error {
	if e := j.failed.Load(); e != nil {
		return e
	}
	return nil
}

// finish waits until everything up to pos is durable under the policy,
// and returns the journal's failure if there is one. The caller holds no
// lock.
func (j *journal) finish(pos wal.Pos) error {
	if e := j.failed.Load(); e != nil {
		return e
	}
	if pos == (wal.Pos{}) {
		return nil
	}
	if err := j.log.Sync(pos); err != nil {
		j.fail(err)
		return j.err()
	}
	return nil
}

// compactChunk is the most messages one snapshot record holds.
const compactChunk = 256

// frameOverhead is what the log adds to a record (a frame's header).
const frameOverhead = 12

// maybeCompact starts a compaction if the log holds more than twice the
// live data plus a segment. It is cheap enough to call after every append:
// two atomic loads. Live data is what the broker retains, bodies plus
// messageOverhead each, an upper bound of what a snapshot writes.
func (b *Broker) maybeCompact() {
	j := b.j
	if j.size.Load() <= 2*b.stored.Load()+j.segment || !j.compacting.CompareAndSwap(false, true) {
		return
	}
	j.wg.Add(1)
	go b.compact()
}

// compact snapshots every queue into the log and removes the segments
// before the snapshot, if the log holds more than twice the live data plus
// a segment; otherwise it only raises the threshold for the next check.
//
// The snapshot is fuzzy: queues go on changing while it is written, one
// queue at a time under that queue's lock. Replay from the snapshot's
// first segment is still exact, because every snapshot record states a
// queue's or message's whole state, a record that names a queue or message
// replay does not know yet is skipped (its snapshot, written later, holds
// the newer state), and a dead-letter move carries the whole message.
func (b *Broker) compact() {
	j := b.j
	defer j.wg.Done()
	defer j.compacting.Store(false)
	seg, err := j.log.Rotate()
	if err != nil {
		j.fail(err)
		return
	}
	var e enc
	b.mu.RLock()
	if b.closed.Load() {
		b.mu.RUnlock()
		return
	}
	qs := make([]*Queue, 0, len(b.queues))
	for _, q := range b.queues {
		qs = append(qs, q)
	}
	e.start(recBroker, b.now())
	e.u(b.nextNum)
	last := j.append(e.b)
	b.mu.RUnlock()
	for _, q := range qs {
		// In bounded steps, the queue's lock released between them, so that
		// a large queue's snapshot does not stall its callers.
		first, next, stop := true, uint64(0), uint64(0)
		for {
			if b.closed.Load() {
				return
			}
			now, err := q.lock()
			if err != nil {
				break // deleted meanwhile: its record is in the new segments
			}
			if first {
				stop = q.log.end() // later sends are in the new segments
			}
			pos, n, done := q.snapshotStep(&e, now, first, next, stop)
			q.unlock()
			if pos != (wal.Pos{}) {
				last = pos
			}
			if done {
				break
			}
			first, next = false, n
		}
	}
	last = b.snapshotTopics(last)
	if err := j.finish(last); err != nil {
		return
	}
	// RemoveBefore fsyncs the snapshot before the segments it replaces go,
	// whatever the policy: under SyncNone or SyncEvery a power loss may
	// lose recent changes, never the state those segments held.
	if err := j.log.RemoveBefore(seg); err != nil {
		j.fail(err)
		return
	}
	j.size.Store(j.log.Size())
	b.log.Info("journal compacted", "bytes", j.log.Size(), "live", b.stored.Load())
}

// snapshotStep appends one step of q's snapshot: with first, its
// settings; then the messages it retains with seqs from next up to stop,
// in seq order, compactChunk messages a record, looking at no more than
// stepBudget seqs. It returns the last position appended (zero if none),
// the seq to go on from, and whether the snapshot is complete. Between
// steps the queue changes; replay stays exact because a message's
// snapshot record is its whole state and records about messages replay
// does not know yet are skipped. The caller holds q.mu.
func (q *Queue) snapshotStep(e *enc, now int64, first bool, next, stop uint64) (pos wal.Pos, _ uint64, done bool) {
	j := q.b.j
	if first {
		e.start(recQueue, now)
		st := q.record()
		e.queue(&st)
		pos = j.append(e.b)
	}
	s := max(next, q.log.base)
	var chunk [compactChunk]*message
	for budget := stepBudget; s < stop && budget > 0; {
		n := 0
		for ; s < stop && n < compactChunk && budget > 0; s++ {
			budget--
			if m := q.log.get(s); m != nil {
				chunk[n] = m
				n++
			}
		}
		if n == 0 {
			continue
		}
		e.start(recMessages, now)
		e.u(q.num)
		e.u(uint64(n))
		for _, c := range chunk[:n] {
			e.full(c)
		}
		pos = j.append(e.b)
	}
	return pos, s, s >= stop
}

// record returns what a recQueue record says of q. The caller holds q.mu.
func (q *Queue) record() queueRecord {
	return queueRecord{num: q.num, name: q.name, id: q.id, created: q.created,
		modified: q.modified, nextSeq: q.nextSeq, set: q.set}
}

// The hooks below append the record of a change. Each is called while the
// lock that orders the change is held, after the change is made, and does
// nothing on an in-memory broker. The position is kept in q.jpos for the
// caller to wait on once it has unlocked (see Queue.unlock).

// updateChunk is the most messages one recUpdate record holds; a rewind of
// more writes several.
const updateChunk = 4096

func (q *Queue) logSend(now int64, delay time.Duration, first uint64, bodies []string) {
	j := q.b.j
	if j == nil {
		return
	}
	e := &q.rec
	e.start(recSend, now)
	e.u(q.num)
	e.i(int64(delay))
	e.u(first)
	e.u(uint64(len(bodies)))
	for _, body := range bodies {
		e.str(body)
	}
	q.jpos = j.append(e.b)
}

// logUpdate logs the new state of ms: received, visibility changed or
// rewound.
func (q *Queue) logUpdate(now int64, ms []*message) {
	j := q.b.j
	if j == nil {
		return
	}
	e := &q.rec
	for len(ms) > 0 {
		n := min(len(ms), updateChunk)
		e.start(recUpdate, now)
		e.u(q.num)
		e.u(uint64(n))
		for _, m := range ms[:n] {
			e.state(m)
		}
		q.jpos = j.append(e.b)
		ms = ms[n:]
	}
}

// logDelete logs the deletes of the messages with seqs.
func (q *Queue) logDelete(now int64, seqs []uint64) {
	j := q.b.j
	if j == nil || len(seqs) == 0 {
		return
	}
	e := &q.rec
	e.start(recDelete, now)
	e.u(q.num)
	e.u(uint64(len(seqs)))
	for _, s := range seqs {
		e.u(s)
	}
	q.jpos = j.append(e.b)
}

// logMove logs the move of the message with seq srcSeq out of q: into d,
// where it now is m, or dropped if d is nil. The caller holds q.mu and, if
// d is not nil, d.mu.
func (q *Queue) logMove(now int64, srcSeq uint64, m *message, d *Queue) {
	j := q.b.j
	if j == nil {
		return
	}
	e := &q.rec
	e.start(recMove, now)
	e.u(q.num)
	e.u(srcSeq)
	if d == nil {
		e.u(0)
	} else {
		e.u(d.num + 1)
	}
	e.full(m)
	q.jpos = j.append(e.b)
}

// logState logs q's settings: created, attributes set, dead-letter queue
// unbound. The caller holds q.mu (and, for a binding, the broker's lock).
func (q *Queue) logState(now int64) {
	j := q.b.j
	if j == nil {
		return
	}
	e := &q.rec
	e.start(recQueue, now)
	st := q.record()
	e.queue(&st)
	q.jpos = j.append(e.b)
}

// logPurge logs that q dropped every message.
func (q *Queue) logPurge(now int64) {
	j := q.b.j
	if j == nil {
		return
	}
	e := &q.rec
	e.start(recPurge, now)
	e.u(q.num)
	q.jpos = j.append(e.b)
}

// logQueue logs a queue just created. The caller holds the broker's
// lock.
func (b *Broker) logQueue(q *Queue) wal.Pos {
	j := b.j
	if j == nil {
		return wal.Pos{}
	}
	e := &j.scratch
	e.start(recQueue, q.created)
	st := q.record()
	e.queue(&st)
	return j.append(e.b)
}

// logDeleteQueue logs that q was deleted. The caller holds the broker's
// lock.
func (b *Broker) logDeleteQueue(q *Queue) wal.Pos {
	j := b.j
	if j == nil {
		return wal.Pos{}
	}
	e := &j.scratch
	e.start(recDeleteQueue, b.now())
	e.u(q.num)
	return j.append(e.b)
}

// wrap returns a copy of e whose message adds cause's text and which
// wraps cause; it still matches e.
func (e *Error) wrap(cause error) *Error {
	w := e.withMessage("%s: %v", e.Message, cause)
	w.cause = cause
	return w
}
