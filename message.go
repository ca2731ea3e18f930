package cmq

import (
	"time"
)

// Message is a received message: what CMQ's ReceiveMessage returns.
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
	// DeadLetter is set on a message that was moved to a dead-letter queue.
	DeadLetter *DeadLetterSource
}

// DeadLetterSource records where a dead-lettered message came from.
type DeadLetterSource struct {
	// Queue is the name of the source queue.
	Queue string
	// EnqueueTime is when the message was first sent, to the source queue.
	EnqueueTime time.Time
	// DequeueCount is how many times it was received from the source queue.
	DequeueCount int
}

// message is a stored message. Its key fields (visibleAt, seq) must not
// change while it is in the tree: remove it, change them, insert it again.
type message struct {
	id        string
	body      string
	seq       uint64 // per-queue send sequence: tie-break in the tree, index in the log
	enqueued  int64  // Unix nanoseconds
	visibleAt int64  // next visible time, Unix nanoseconds: the tree key
	firstDeq  int64  // first receive, Unix nanoseconds; 0 before
	nonce     uint64 // receipt nonce of the latest receive; 0: no valid handle
	dequeues  int32
	inTree    bool // false once deleted (kept for rewind) or removed
	dead      *DeadLetterSource
}

// lessMessage orders the tree by next visible time, ties by send order.
// (visibleAt, seq) is unique per queue, so no two messages compare equal.
func lessMessage(a, b *message) bool {
	if a.visibleAt != b.visibleAt {
		return a.visibleAt < b.visibleAt
	}
	return a.seq < b.seq
}

// view returns the public view of m as received with handle h.
func (m *message) view(h string) Message {
	return Message{
		ID:               m.id,
		Body:             m.body,
		ReceiptHandle:    h,
		EnqueueTime:      unixTime(m.enqueued),
		FirstDequeueTime: unixTime(m.firstDeq),
		NextVisibleTime:  unixTime(m.visibleAt),
		DequeueCount:     int(m.dequeues),
		DeadLetter:       m.dead,
	}
}

// unixTime converts Unix nanoseconds to a time.Time; 0 is the zero Time.
func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// messageLog holds a queue's messages in send order, indexed by seq: the
// message with sequence s sits at slots[s-base]. A removed message leaves a
// nil slot; nil slots at the front are dropped. Retention, time-to-live and
// rewind walk it in send order, which is also enqueue order because a
// queue's clock never goes back.
type messageLog struct {
	slots []*message // ring buffer; len is a power of two
	head  int        // ring index of base
	n     int        // slots in use, from base
	base  uint64     // seq of the first slot in use
}

// push appends m, whose seq must be base+n.
func (l *messageLog) push(m *message) {
	if l.n == len(l.slots) {
		l.grow()
	}
	l.slots[(l.head+l.n)&(len(l.slots)-1)] = m
	l.n++
}

func (l *messageLog) grow() {
	size := max(16, 2*len(l.slots))
	slots := make([]*message, size)
	for i := range l.n {
		slots[i] = l.slots[(l.head+i)&(len(l.slots)-1)]
	}
	l.slots, l.head = slots, 0
}

// get returns the message with sequence seq, or nil.
func (l *messageLog) get(seq uint64) *message {
	if seq < l.base || seq-l.base >= uint64(l.n) {
		return nil
	}
	return l.slots[(l.head+int(seq-l.base))&(len(l.slots)-1)]
}

// remove clears the slot of m and drops empty slots from the front.
func (l *messageLog) remove(m *message) {
	if l.get(m.seq) != m {
		return
	}
	l.slots[(l.head+int(m.seq-l.base))&(len(l.slots)-1)] = nil
	for l.n > 0 && l.slots[l.head] == nil {
		l.head = (l.head + 1) & (len(l.slots) - 1)
		l.base++
		l.n--
	}
	if l.n == 0 && len(l.slots) > 1024 {
		// Give back the memory of a large backlog once it has drained.
		l.slots, l.head = nil, 0
	}
}

// first returns the oldest message still in the log, or nil.
func (l *messageLog) first() *message {
	if l.n == 0 {
		return nil
	}
	return l.slots[l.head]
}

// end is the seq after the newest slot.
func (l *messageLog) end() uint64 { return l.base + uint64(l.n) }

// reset drops every message.
func (l *messageLog) reset(next uint64) {
	*l = messageLog{base: next}
}
