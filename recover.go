package cmq

import (
	"fmt"
	"slices"
	"strings"
)

// replay rebuilds a broker's state from its journal. Records are applied
// in log order to a light model, queues by number and their messages by
// seq in a map, because a compaction may write a message's snapshot after
// newer messages of its queue; the queues and their indexes are built once
// at the end, in seq order.
type replay struct {
	queues  map[uint64]*replayQueue
	nextNum uint64
	last    int64 // the latest instant logged
	topics  replayTopics
}

type replayQueue struct {
	st   queueRecord
	msgs map[uint64]*message // alive ones have where == inTree, kept-for-rewind ones inNone
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
			rq = &replayQueue{msgs: make(map[uint64]*message)}
			r.queues[st.num] = rq
		}
		st.nextSeq = max(st.nextSeq, rq.st.nextSeq)
		rq.st = st
		if st.set.rewindPeriod == 0 { // kept messages go when rewind is turned off
			for seq, m := range rq.msgs {
				if m.where == inNone {
					delete(rq.msgs, seq)
				}
			}
		}
	case recDeleteQueue:
		delete(r.queues, d.u())
	case recPurge:
		if rq := r.queues[d.u()]; rq != nil {
			clear(rq.msgs)
		}
	case recSend:
		rq := r.queues[d.u()]
		delay := d.i()
		seq := d.u()
		n := d.count(1)
		for i := range n {
			body := d.str()
			if rq != nil && d.err == nil {
				s := seq + uint64(i)
				rq.msgs[s] = &message{body: body, seq: s, enqueued: now, visibleAt: now + delay, where: inTree}
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
			if m := rq.msgs[s.seq]; m != nil {
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
			if m := rq.msgs[seq]; m != nil {
				if rq.st.set.rewindPeriod > 0 {
					m.where, m.nonce = inNone, 0
				} else {
					delete(rq.msgs, seq)
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
			delete(src.msgs, srcSeq)
		}
		if dst == 0 {
			break
		}
		if dq := r.queues[dst-1]; dq != nil {
			dq.msgs[m.seq] = m
			dq.st.nextSeq = max(dq.st.nextSeq, m.seq+1)
		}
	default: // t >= recTopic
		r.last = max(r.last, now)
		return r.applyTopic(t, now, &d)
	case recMessages:
		rq := r.queues[d.u()]
		for range d.count(minFullLen) {
			m := d.full()
			if rq != nil && d.err == nil {
				rq.msgs[m.seq] = m
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
		seqs := make([]uint64, 0, len(rq.msgs))
		for seq := range rq.msgs {
			seqs = append(seqs, seq)
		}
		slices.Sort(seqs)
		for _, seq := range seqs {
			m := rq.msgs[seq]
			alive := m.where != inNone
			m.where = inNone
			q.log.pushAt(m)
			q.account(messageBytes(len(m.body)))
			if alive {
				q.insert(m, inTree)
			} else {
				q.count(m, +1) // kept for rewind
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
