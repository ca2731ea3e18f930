package cmq

import (
	"fmt"
	"slices"
	"strings"
)

// replay rebuilds a broker's state from its journal. Records are applied
// in log order to a light model (queues by number, each with its messages
// in seq order: see replayQueue), and the queues and their indexes are
// built once at the end.
type replay struct {
	queues  map[uint64]*replayQueue
	nextNum uint64
	last    int64 // the latest instant logged
	topics  replayTopics
}

// replayQueue is a queue being replayed: its record and its messages in
// seq order (sends append, so lookups are by offset while seqs are dense,
// else by binary search; a compaction snapshot may insert before newer
// messages). A removed message leaves a nil behind. Alive messages have
// where == inTree, kept-for-rewind ones inNone.
type replayQueue struct {
	st   queueRecord
	seqs []uint64
	msgs []*message
	slab []message // messages are allocated in blocks: replay makes many
}

// find returns the index of seq in rq.seqs, and whether it is there.
func (rq *replayQueue) find(seq uint64) (int, bool) {
	if n := len(rq.seqs); n > 0 && seq >= rq.seqs[0] {
		if i := seq - rq.seqs[0]; i < uint64(n) && rq.seqs[i] == seq {
			return int(i), true
		}
	}
	return slices.BinarySearch(rq.seqs, seq)
}

// get returns the message with seq, or nil.
func (rq *replayQueue) get(seq uint64) *message {
	if i, ok := rq.find(seq); ok {
		return rq.msgs[i]
	}
	return nil
}

// put adds m, or replaces the message with its seq.
func (rq *replayQueue) put(m *message) {
	if n := len(rq.seqs); n == 0 || m.seq > rq.seqs[n-1] {
		rq.seqs = append(rq.seqs, m.seq)
		rq.msgs = append(rq.msgs, m)
		return
	}
	i, ok := rq.find(m.seq)
	if ok {
		rq.msgs[i] = m
		return
	}
	rq.seqs = slices.Insert(rq.seqs, i, m.seq)
	rq.msgs = slices.Insert(rq.msgs, i, m)
}

// del removes the message with seq.
func (rq *replayQueue) del(seq uint64) {
	if i, ok := rq.find(seq); ok {
		rq.msgs[i] = nil
	}
}

// alloc returns a new message.
func (rq *replayQueue) alloc() *message {
	if len(rq.slab) == 0 {
		rq.slab = make([]message, 256)
	}
	m := &rq.slab[0]
	rq.slab = rq.slab[1:]
	return m
}

func newReplay() *replay {
	return &replay{queues: make(map[uint64]*replayQueue)}
}

// apply applies one record.
func (r *replay) apply(rec []byte) error {
	d := dec{b: rec}
	t := d.byte()
	now := d.i()
	if d.err != nil || t == 0 || t >= recLast && t < recTopic {
		return fmt.Errorf("%w: type %d", errRecord, t)
	}
	r.last = max(r.last, now)
	switch t {
	case recBroker:
		r.nextNum = max(r.nextNum, d.u())
	case recQueue:
		st := d.queue()
		if d.err != nil {
			break
		}
		r.nextNum = max(r.nextNum, st.num+1)
		rq := r.queues[st.num]
		if rq == nil {
			rq = &replayQueue{}
			r.queues[st.num] = rq
		}
		st.nextSeq = max(st.nextSeq, rq.st.nextSeq)
		rq.st = st
		if st.set.rewindPeriod == 0 { // kept messages go when rewind is turned off
			for i, m := range rq.msgs {
				if m != nil && m.where == inNone {
					rq.msgs[i] = nil
				}
			}
		}
	case recDeleteQueue:
		delete(r.queues, d.u())
	case recPurge:
		if rq := r.queues[d.u()]; rq != nil {
			rq.seqs, rq.msgs = nil, nil
		}
	case recSend:
		rq := r.queues[d.u()]
		delay := d.i()
		seq := d.u()
		n := d.count(1)
		d.strs = string(d.b) // the bodies share one allocation
		for i := range n {
			body := d.str()
			if rq != nil && d.err == nil {
				m := rq.alloc()
				*m = message{body: body, seq: seq + uint64(i), enqueued: now, visibleAt: now + delay, where: inTree}
				rq.put(m)
			}
		}
		if rq != nil {
			rq.st.nextSeq = max(rq.st.nextSeq, seq+uint64(n))
		}
	case recUpdate:
		rq := r.queues[d.u()]
		for range d.count(minStateLen) {
			s := d.state()
			if rq == nil || d.err != nil {
				continue
			}
			if m := rq.get(s.seq); m != nil {
				m.visibleAt, m.dequeues, m.firstDeq, m.nonce = s.visibleAt, s.dequeues, s.firstDeq, s.nonce
				m.where = inNone
				if s.alive {
					m.where = inTree
				}
			}
		}
	case recDelete:
		rq := r.queues[d.u()]
		for range d.count(1) {
			seq := d.u()
			if rq == nil || d.err != nil {
				continue
			}
			if m := rq.get(seq); m != nil {
				if rq.st.set.rewindPeriod > 0 {
					m.where, m.nonce = inNone, 0
				} else {
					rq.del(seq)
				}
			}
		}
	case recMove:
		src := r.queues[d.u()]
		srcSeq := d.u()
		dst := d.u() // the dead-letter queue's number plus one; 0: dropped
		m := d.full()
		if d.err != nil {
			break
		}
		if src != nil {
			src.del(srcSeq)
		}
		if dst == 0 {
			break
		}
		if dq := r.queues[dst-1]; dq != nil {
			dq.put(m)
			dq.st.nextSeq = max(dq.st.nextSeq, m.seq+1)
		}
	default: // t >= recTopic
		r.last = max(r.last, now)
		return r.applyTopic(t, now, &d)
	case recMessages:
		rq := r.queues[d.u()]
		d.strs = string(d.b) // the bodies share one allocation
		for range d.count(minFullLen) {
			m := d.full()
			if rq != nil && d.err == nil {
				rq.put(m)
				rq.st.nextSeq = max(rq.st.nextSeq, m.seq+1)
			}
		}
	}
	return d.end()
}

// build makes b's queues from the replayed state. b is new and not yet
// shared; its clock has been set past r.last.
func (r *replay) build(b *Broker) error {
	b.nextNum = max(b.nextNum, r.nextNum)
	nums := make([]uint64, 0, len(r.queues))
	for num := range r.queues {
		nums = append(nums, num)
	}
	slices.Sort(nums)
	now := b.now()
	for _, num := range nums {
		rq := r.queues[num]
		st := &rq.st
		key := strings.ToLower(st.name)
		if b.queues[key] != nil {
			return fmt.Errorf("%w: two queues named %q", errRecord, st.name)
		}
		q := newQueue(b, st.name, st.num, st.set)
		q.id, q.created, q.modified = st.id, st.created, st.modified
		q.nextSeq = st.nextSeq
		q.log.reset(0)
		q.horizon = 0 // every message is counted not active; promote below counts them
		for _, m := range rq.msgs {
			if m == nil {
				continue
			}
			alive := m.where != inNone
			m.where = inNone
			q.log.push(m)
			q.account(messageBytes(len(m.body)))
			switch {
			case !alive:
				q.count(m, +1) // kept for rewind
			case m.dequeues == 0 && m.visibleAt == m.enqueued:
				q.insert(m, inReady) // in send order, as a send puts it
			case m.dequeues > 0:
				q.insert(m, inFlight) // in the in-flight run if in order, else the tree
			default:
				q.insert(m, inTree)
			}
		}
		q.nextSeq = max(q.nextSeq, q.log.end())
		q.promote(max(now, q.horizon))
		b.queues[key] = q
	}
	// Bindings last: a dead-letter queue may have a larger number than its
	// sources.
	for _, q := range b.queues {
		p := q.set.deadLetter
		if p == nil {
			continue
		}
		d := b.queues[strings.ToLower(p.DeadLetterQueue)]
		if d == nil {
			return fmt.Errorf("%w: queue %q names dead-letter queue %q, which does not exist", errRecord, q.name, p.DeadLetterQueue)
		}
		q.bindLocked(d)
	}
	return r.buildTopics(b)
}
