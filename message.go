package cmq

import (
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
