package cmq

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

// push appends m. Its seq is end() or past it: replay skips the seqs of
// messages that are gone, and a queue rebuilt by replay goes on from the
// last seq it had sent, which may be past the newest message kept. Past
// end(), the ring restarts at m.seq, its messages moved to the map, so a
// gap costs nothing (and get stays exact: a ring slot's seq is ringBase
// plus its index).
func (l *messageLog) push(m *message) {
	if m.seq != l.next && l.n > 0 {
		l.compact()
	}
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
