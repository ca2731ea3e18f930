package cmq

import (
	"container/heap"
	"fmt"
	"slices"
	"strings"

	"github.com/opencmq/cmq/internal/wal"
)

// The journal's topic records, numbered from 64 so that they never
// collide with the queue records of journalrec.go. Like those they are
// physical: each states what a topic, subscription or pending delivery
// became.
const (
	// recTopic: num, name, id, max size, filter type, created, modified,
	// next seq: a topic's whole state (create, set attributes, snapshots).
	recTopic byte = 64 + iota
	// recDeleteTopic: num.
	recDeleteTopic
	// recSubscription: topic num, then a subscription's whole state.
	recSubscription
	// recUnsubscribe: topic num, subscription name.
	recUnsubscribe
	// recTopicSeq: topic num, next seq (after a publish), so that message
	// ids never repeat.
	recTopicSeq
	// recPending: a pending delivery's whole state: seq, topic num,
	// subscription name, message id, body, tags, publish instant,
	// attempts, due instant.
	recPending
	// recPendingDone: seq: delivered, dropped or unsubscribed.
	recPendingDone
	recTopicLast
)

func (t *Topic) encode(e *enc, now int64) {
	e.start(recTopic, now)
	e.u(t.num)
	e.str(t.name)
	e.str(t.id)
	e.i(int64(t.maxSize))
	e.i(int64(t.filter))
	e.i(t.created)
	e.i(t.modified)
	e.u(t.nextSeq)
}

func (s *Subscription) encode(e *enc, now int64) {
	e.start(recSubscription, now)
	e.u(s.t.num)
	e.str(s.name)
	e.str(s.id)
	a := &s.attrs
	e.str(string(a.Protocol))
	e.str(a.Endpoint)
	e.str(string(a.NotifyStrategy))
	e.str(string(a.NotifyContentFormat))
	e.strList(a.FilterTags)
	e.strList(a.BindingKeys)
	e.i(s.created)
	e.i(s.modified)
}

func (d *delivery) encode(e *enc, now int64) {
	e.start(recPending, now)
	e.u(d.seq)
	e.u(d.sub.t.num)
	e.str(d.sub.name)
	e.str(d.msgID)
	e.str(d.body)
	e.strList(d.tags)
	e.i(d.published)
	e.i(int64(d.attempts))
	e.i(d.at)
}

func (e *enc) strList(v []string) {
	e.u(uint64(len(v)))
	for _, s := range v {
		e.str(s)
	}
}

func (d *dec) strList() []string {
	n := d.count(1)
	var out []string
	for range n {
		out = append(out, d.str())
	}
	return out
}

// logTopic logs t's state. The caller holds t.mu.
func (t *Topic) logTopic() wal.Pos {
	j := t.b.j
	if j == nil {
		return wal.Pos{}
	}
	var e enc
	t.encode(&e, t.b.now())
	return j.append(e.b)
}

// logSeq logs t's next seq after a publish. The caller holds t.mu.
func (t *Topic) logSeq(now int64) wal.Pos {
	j := t.b.j
	if j == nil {
		return wal.Pos{}
	}
	var e enc
	e.start(recTopicSeq, now)
	e.u(t.num)
	e.u(t.nextSeq)
	return j.append(e.b)
}

// logDeleteTopic logs t's deletion. The caller holds t.mu.
func (t *Topic) logDeleteTopic() wal.Pos {
	j := t.b.j
	if j == nil {
		return wal.Pos{}
	}
	var e enc
	e.start(recDeleteTopic, t.b.now())
	e.u(t.num)
	return j.append(e.b)
}

// logSubscription logs s's state. The caller holds t.mu.
func (t *Topic) logSubscription(s *Subscription) wal.Pos {
	j := t.b.j
	if j == nil {
		return wal.Pos{}
	}
	var e enc
	s.encode(&e, t.b.now())
	return j.append(e.b)
}

// logUnsubscribe logs s's removal. The caller holds t.mu.
func (t *Topic) logUnsubscribe(s *Subscription) wal.Pos {
	j := t.b.j
	if j == nil {
		return wal.Pos{}
	}
	var e enc
	e.start(recUnsubscribe, t.b.now())
	e.u(t.num)
	e.str(strings.ToLower(s.name))
	return j.append(e.b)
}

// logPending logs d's state; it returns pos when nothing is logged. The
// caller holds the pusher's lock.
func (b *Broker) logPending(d *delivery, pos wal.Pos) wal.Pos {
	j := b.j
	if j == nil {
		return pos
	}
	var e enc
	d.encode(&e, b.now())
	return j.append(e.b)
}

// logPendingDone logs d's end. The caller holds the pusher's lock.
func (b *Broker) logPendingDone(d *delivery) wal.Pos {
	j := b.j
	if j == nil {
		return wal.Pos{}
	}
	var e enc
	e.start(recPendingDone, b.now())
	e.u(d.seq)
	return j.append(e.b)
}

// snapshotTopics appends every topic, subscription and pending delivery,
// for a compaction; it returns the last position, or last if it appends
// nothing. Topics are written one at a time under their locks, then the
// deliveries under the pusher's lock, so that a delivery's end is either
// in the snapshot's place or after it.
func (b *Broker) snapshotTopics(last wal.Pos) wal.Pos {
	j := b.j
	b.mu.RLock()
	ts := make([]*Topic, 0, len(b.topics))
	for _, t := range b.topics {
		ts = append(ts, t)
	}
	b.mu.RUnlock()
	var e enc
	for _, t := range ts {
		t.mu.Lock()
		if !t.deleted {
			t.encode(&e, b.now())
			last = j.append(e.b)
			for _, s := range t.subs {
				s.encode(&e, b.now())
				last = j.append(e.b)
			}
		}
		t.mu.Unlock()
	}
	p := b.push
	p.mu.Lock()
	for _, d := range p.pending {
		d.encode(&e, b.now())
		last = j.append(e.b)
	}
	p.mu.Unlock()
	return last
}

// replayTopics is the topic part of a replay.
type replayTopics struct {
	topics  map[uint64]*replayTopic
	pending map[uint64]*replayPending
}

type replayTopic struct {
	t    *Topic
	subs map[string]*Subscription // by lower-case name; s.t is unset
}

type replayPending struct {
	d     delivery // d.sub unset
	topic uint64
	sub   string // lower-case
}

// applyTopic applies a topic record of type t at instant now.
func (r *replay) applyTopic(t byte, now int64, d *dec) error {
	if t >= recTopicLast {
		return fmt.Errorf("%w: type %d", errRecord, t)
	}
	rt := &r.topics
	if rt.topics == nil {
		rt.topics = make(map[uint64]*replayTopic)
		rt.pending = make(map[uint64]*replayPending)
	}
	switch t {
	case recTopic:
		tp := new(Topic)
		tp.num = d.u()
		tp.name = d.str()
		tp.id = d.str()
		tp.maxSize = d.int()
		tp.filter = FilterType(d.int())
		tp.created = d.i()
		tp.modified = d.i()
		tp.nextSeq = d.u()
		if d.err != nil {
			break
		}
		r.nextNum = max(r.nextNum, tp.num+1)
		x := rt.topics[tp.num]
		if x == nil {
			x = &replayTopic{subs: make(map[string]*Subscription)}
			rt.topics[tp.num] = x
		}
		if x.t != nil {
			tp.nextSeq = max(tp.nextSeq, x.t.nextSeq)
		}
		x.t = tp
	case recDeleteTopic:
		delete(rt.topics, d.u())
	case recTopicSeq:
		num, seq := d.u(), d.u()
		if x := rt.topics[num]; x != nil && x.t != nil && d.err == nil {
			x.t.nextSeq = max(x.t.nextSeq, seq)
		}
	case recSubscription:
		num := d.u()
		s := &Subscription{name: d.str(), id: d.str()}
		a := &s.attrs
		a.Protocol = Protocol(d.str())
		a.Endpoint = d.str()
		a.NotifyStrategy = NotifyStrategy(d.str())
		a.NotifyContentFormat = ContentFormat(d.str())
		a.FilterTags = d.strList()
		a.BindingKeys = d.strList()
		s.created = d.i()
		s.modified = d.i()
		if x := rt.topics[num]; x != nil && d.err == nil {
			x.subs[strings.ToLower(s.name)] = s
		}
	case recUnsubscribe:
		num, name := d.u(), d.str()
		if x := rt.topics[num]; x != nil && d.err == nil {
			delete(x.subs, name)
		}
	case recPending:
		var p replayPending
		p.d.seq = d.u()
		p.topic = d.u()
		p.sub = strings.ToLower(d.str())
		p.d.msgID = d.str()
		p.d.body = d.str()
		p.d.tags = d.strList()
		p.d.published = d.i()
		p.d.attempts = d.int()
		p.d.at = d.i()
		if d.err == nil {
			rt.pending[p.d.seq] = &p
		}
	case recPendingDone:
		delete(rt.pending, d.u())
	}
	return d.end()
}

// buildTopics makes b's topics, subscriptions and pending deliveries from
// the replay. Deliveries wait in the pusher until [pusher.start].
func (r *replay) buildTopics(b *Broker) error {
	rt := &r.topics
	for _, x := range rt.topics {
		tp := x.t
		if tp == nil {
			continue
		}
		key := strings.ToLower(tp.name)
		if b.topics[key] != nil {
			return fmt.Errorf("%w: two topics named %q", errRecord, tp.name)
		}
		t := newTopic(b, tp.name, tp.num, tp.maxSize, tp.filter)
		t.id, t.created, t.modified, t.nextSeq = tp.id, tp.created, tp.modified, tp.nextSeq
		for k, s := range x.subs {
			s.t = t
			t.subs[k] = s
		}
		b.topics[key] = t
	}
	seqs := make([]uint64, 0, len(rt.pending))
	for seq := range rt.pending {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	p := b.push
	for _, seq := range seqs {
		rp := rt.pending[seq]
		x := rt.topics[rp.topic]
		if x == nil || x.subs[rp.sub] == nil {
			continue
		}
		d := rp.d
		d.sub = x.subs[rp.sub]
		d.sub.pending.Add(1)
		p.pending[d.seq] = &d
		heap.Push(&p.due, &d)
		p.nextSeq = max(p.nextSeq, d.seq+1)
	}
	return nil
}
