package cmq

import (
	"math/bits"
	"strings"
	"sync"
	"time"
)

// Message is a received message: what CMQ's ReceiveMessage returns. It is
// a plain value, a copy of the message as it was received; the zero Message
// is what a failed receive returns.
//
// Message ids and receipt handles are plain strings, by decision: they are
// opaque tokens that cross the wire as strings and that users store, and a
// defined string type would not stop q.Delete(ctx, "literal") while it
// would cost a conversion at every frontend. The two cannot be confused
// unnoticed: an id always contains '-' and a handle is 32 hexadecimal
// digits, so q.Delete(ctx, m.ID) fails with [ErrInvalidReceiptHandle].
type Message struct {
	// ID is the message id returned by the send. It is unique within the
	// broker and kept when the message moves to a dead-letter queue.
	ID string
	// Body is the message body.
	Body string
	// ReceiptHandle deletes the message, or changes its visibility, until
	// NextVisibleTime. A later receive of the same message gets a new
	// handle and this one stops working.
	ReceiptHandle string
	// EnqueueTime is when the message was sent (for a dead-lettered
	// message: when it entered the dead-letter queue).
	EnqueueTime time.Time
	// FirstDequeueTime is when the message was first received.
	FirstDequeueTime time.Time
	// NextVisibleTime is when the message becomes receivable again unless it
	// is deleted first.
	NextVisibleTime time.Time
	// DequeueCount is how many times the message has been received,
	// this receive included.
	DequeueCount int
	// DeadLetter is set on a message that was moved to a dead-letter queue:
	// a copy of its own, which the receiver may keep or change.
	DeadLetter *DeadLetterSource
}

// DeadLetterSource records where a dead-lettered message came from. It is
// only ever given as a pointer, nil for a message that was never moved.
type DeadLetterSource struct {
	// Queue is the name of the source queue.
	Queue string
	// EnqueueTime is when the message was first sent, to the source queue.
	EnqueueTime time.Time
	// DequeueCount is how many times it was received from the source queue.
	DequeueCount int
}

// message is a stored message. Its key fields (visibleAt, seq) must not
// change while it is in the index: remove it, change them, insert it again.
type message struct {
	body      string
	seq       uint64 // per-queue send sequence: tie-break in the index, position in the log
	enqueued  int64  // Unix nanoseconds
	visibleAt int64  // next visible time, Unix nanoseconds: the index key
	firstDeq  int64  // first receive, Unix nanoseconds; 0 before
	nonce     uint64 // receipt nonce of the latest receive; 0: no valid handle
	dequeues  int32
	where     uint8       // where its key is in the index; inNone once deleted (kept for rewind) or removed
	dead      *deadLetter // set once moved to a dead-letter queue

	older, newer *message // neighbours in the queue's messageLog
}

// messagePool recycles messages deleted for good, so that a queue in a
// steady send, receive, delete cycle allocates no message: fewer bytes
// allocated means fewer garbage collections.
var messagePool = sync.Pool{New: func() any { return new(message) }}

// treeKey is a message's entry in its queue's [index]: its next visible
// time, and its seq shifted left two bits, the low bit set if it was ever
// received (so that counting needs no message) and the next one marking a
// tombstone in a run. Keys hold no pointer: moving them within the index
// (its runs or its B-tree) costs no write barrier, and the garbage
// collector never scans them. The message is found by seq in the log.
type treeKey struct {
	visibleAt int64
	seqBit    uint64
}

// key returns m's index key. Its inputs (visibleAt, seq, and whether
// dequeues is 0) must not change while m is in the index.
func (m *message) key() treeKey {
	k := treeKey{m.visibleAt, m.seq << 2}
	if m.dequeues > 0 {
		k.seqBit |= 1
	}
	return k
}

func (k treeKey) seq() uint64    { return k.seqBit >> 2 }
func (k treeKey) received() bool { return k.seqBit&1 != 0 }

// lessKey orders the index by next visible time, ties by send order.
// (visibleAt, seq) is unique per queue, so no two keys compare equal, and
// the flag bits below seq never decide.
func lessKey(a, b treeKey) bool {
	if a.visibleAt != b.visibleAt {
		return a.visibleAt < b.visibleAt
	}
	return a.seqBit < b.seqBit
}

// view returns the public view of m, without its id and receipt handle.
func (m *message) view() Message {
	return Message{
		Body:             m.body,
		EnqueueTime:      unixTime(m.enqueued),
		FirstDequeueTime: unixTime(m.firstDeq),
		NextVisibleTime:  unixTime(m.visibleAt),
		DequeueCount:     int(m.dequeues),
		DeadLetter:       m.dead.source(),
	}
}

// deadLetter is what a message moved to a dead-letter queue keeps: where it
// came from, and its id, which was made from the number of the queue it was
// sent to and its seq there. Other messages make their id when asked, so
// they do not store one.
type deadLetter struct {
	src DeadLetterSource
	id  string
}

// source returns a copy of the public record of d, nil if d is. Each
// received message gets its own copy, so a consumer that writes to it
// changes neither the broker's record nor another receive's.
func (d *deadLetter) source() *DeadLetterSource {
	if d == nil {
		return nil
	}
	src := d.src
	return &src
}

// unixTime converts Unix nanoseconds to a time.Time; 0 is the zero Time.
func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// messageLog holds a queue's retained messages in send order, which is
// also enqueue order because a queue's clock never goes back: a list linked
// through message.older and newer. Retention, time-to-live and rewind walk
// it in send order.
//
// It also indexes them by seq, for receipt handles: a ring of slots for the
// recent seqs [ringBase, ringBase+n), nil where a message was removed, and a
// map for older messages. When the ring is mostly holes (a message received
// long ago and never deleted pins its slot, and every slot after it), its
// messages move to the map and the ring starts again. So the memory follows
// the number of messages held, never the number that passed through.
type messageLog struct {
	slots    []*message // ring; len is a power of two
	head     int        // ring index of ringBase
	n        int        // slots in use, from ringBase
	inRing   int        // non-nil slots
	ringBase uint64
	old      map[uint64]*message // messages with seq < ringBase

	oldest, newest *message
	base           uint64 // seq of the oldest message held; end() when empty
	next           uint64 // seq after the newest message pushed
}

// push appends m, whose seq must be end().
func (l *messageLog) push(m *message) {
	if l.n == 0 {
		l.ringBase = m.seq
	}
	if l.n == len(l.slots) {
		l.grow()
	}
	l.slots[(l.head+l.n)&(len(l.slots)-1)] = m
	l.n++
	l.inRing++
	if l.newest == nil {
		l.oldest, l.base = m, m.seq
	} else {
		l.newest.newer, m.older = m, l.newest
	}
	l.newest = m
	l.next = m.seq + 1
	if l.n >= 1024 && l.n >= 4*l.inRing {
		l.compact()
	}
}

func (l *messageLog) grow() {
	size := max(16, 2*len(l.slots))
	slots := make([]*message, size)
	for i := range l.n {
		slots[i] = l.slots[(l.head+i)&(len(l.slots)-1)]
	}
	l.slots, l.head = slots, 0
}

// compact moves the ring's messages to the map and empties the ring. It
// runs when at most a quarter of the ring's slots are in use, so its cost
// is amortised over the pushes that made the holes.
func (l *messageLog) compact() {
	if l.old == nil {
		l.old = make(map[uint64]*message, l.inRing)
	}
	for i := range l.n {
		if m := l.slots[(l.head+i)&(len(l.slots)-1)]; m != nil {
			l.old[m.seq] = m
		}
	}
	l.slots, l.head, l.n, l.inRing, l.ringBase = nil, 0, 0, 0, l.next
}

// get returns the message with sequence seq, or nil.
func (l *messageLog) get(seq uint64) *message {
	if seq < l.ringBase {
		return l.old[seq]
	}
	if seq-l.ringBase >= uint64(l.n) {
		return nil
	}
	return l.slots[(l.head+int(seq-l.ringBase))&(len(l.slots)-1)]
}

// remove takes m out of the log; it does nothing if m is not in it.
func (l *messageLog) remove(m *message) {
	if l.get(m.seq) != m {
		return
	}
	if m.seq < l.ringBase {
		delete(l.old, m.seq)
		if len(l.old) == 0 {
			l.old = nil // a map does not shrink: let it go
		}
	} else {
		l.slots[(l.head+int(m.seq-l.ringBase))&(len(l.slots)-1)] = nil
		l.inRing--
		for l.n > 0 && l.slots[l.head] == nil {
			l.head = (l.head + 1) & (len(l.slots) - 1)
			l.ringBase++
			l.n--
		}
		if l.n == 0 && len(l.slots) > 1024 {
			// Give back the memory of a large backlog once it has drained.
			l.slots, l.head = nil, 0
		}
	}
	if m.older != nil {
		m.older.newer = m.newer
	} else {
		l.oldest = m.newer
	}
	if m.newer != nil {
		m.newer.older = m.older
	} else {
		l.newest = m.older
	}
	m.older, m.newer = nil, nil
	if l.oldest != nil {
		l.base = l.oldest.seq
	} else {
		l.base = l.next
	}
}

// first returns the oldest message still in the log, or nil.
func (l *messageLog) first() *message { return l.oldest }

// last returns the newest message still in the log, or nil.
func (l *messageLog) last() *message { return l.newest }

// end is the seq after the newest message pushed.
func (l *messageLog) end() uint64 { return l.next }

// reset drops every message; the next push has seq next.
func (l *messageLog) reset(next uint64) {
	*l = messageLog{ringBase: next, base: next, next: next}
}

// A message id is its queue's number and its seq, in decimal, joined by
// "-": unique in the broker, and made when asked for rather than stored.

// maxIDLen is the longest message id: two 20-digit numbers and a '-'.
const maxIDLen = 41

// messageID returns the id of the message with sequence seq.
func (q *Queue) messageID(seq uint64) string {
	var buf [maxIDLen]byte
	return string(buf[:q.putID(buf[:], seq)])
}

// messageIDs sets ids[i] to the id of the message with sequence seq+i.
// The ids share one allocation.
func (q *Queue) messageIDs(ids []string, seq uint64) {
	if len(ids) == 1 {
		ids[0] = q.messageID(seq)
		return
	}
	total := 0
	for i := range ids {
		total += q.idLen(seq + uint64(i))
	}
	var sb strings.Builder
	sb.Grow(total)
	var buf [maxIDLen]byte
	for i := range ids {
		sb.Write(buf[:q.putID(buf[:], seq+uint64(i))])
	}
	s := sb.String()
	for i := range ids {
		k := q.idLen(seq + uint64(i))
		ids[i], s = s[:k], s[k:]
	}
}

// putID writes the id of the message with sequence seq at the start of b,
// which has room for maxIDLen bytes, and returns its length.
func (q *Queue) putID(b []byte, seq uint64) int {
	n := copy(b, q.idPrefix)
	k := n + decimalLen(seq)
	for i := k - 1; i >= n; i-- {
		b[i] = '0' + byte(seq%10)
		seq /= 10
	}
	return k
}

// idLen returns len(q.messageID(seq)).
func (q *Queue) idLen(seq uint64) int { return len(q.idPrefix) + decimalLen(seq) }

// decimalLen returns the number of decimal digits of v.
func decimalLen(v uint64) int {
	v |= 1                          // 0 has one digit, like 1
	n := bits.Len64(v) * 1233 >> 12 // log10(2) is about 1233/4096: n or n+1 digits
	if v >= pow10[n] {
		n++
	}
	return n
}

// pow10[i] is 10 to the power i, for every power that fits a uint64.
var pow10 = func() (t [20]uint64) {
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return t
}()
